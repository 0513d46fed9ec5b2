"""`make run` (serve_all): links in emails follow the port it serves, and the banner with the
address waits until that address answers."""

from __future__ import annotations

import socket
import threading
import time

from outreach.management.commands.serve_all import site_url_for, wait_for_port


def test_links_follow_the_served_port_unless_site_url_is_set():
    assert site_url_for("127.0.0.1", "8115", {}) == "http://localhost:8115"
    assert site_url_for("0.0.0.0", "9000", {"SITE_URL": ""}) == "http://localhost:9000"
    assert site_url_for("demo.example", "80", {}) == "http://demo.example:80"
    assert site_url_for("127.0.0.1", "8115", {"SITE_URL": "https://outreach.example/"}) == "https://outreach.example"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_banner_waits_until_the_port_answers():
    port = _free_port()
    server = socket.socket()

    def listen_later():
        time.sleep(0.6)
        server.bind(("127.0.0.1", port))
        server.listen()

    threading.Thread(target=listen_later, daemon=True).start()
    started = time.monotonic()
    try:
        assert wait_for_port("127.0.0.1", port, alive=lambda: True, timeout=10) is True
        assert time.monotonic() - started >= 0.5
    finally:
        server.close()


def test_no_banner_when_the_server_died():
    assert wait_for_port("127.0.0.1", _free_port(), alive=lambda: False, timeout=5) is False
