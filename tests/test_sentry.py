"""SENTRY_DSN set: an uncaught error reaches Sentry (a local stub of its envelope endpoint, over
real HTTP, so the real sentry-sdk runs), without the personal data it had in hand."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.qcluster import BASE_DIR

pytest.importorskip("sentry_sdk")

FAILING = """
def draft_for(recipient_email):
    body = "Hi Liu, your renewal is on 2027-01-15"
    raise RuntimeError("drafting blew up for draft 42")

draft_for("liu.wei@customer.example")
"""


class _Envelopes(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        data = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        elif self.headers.get("Content-Encoding") == "br":
            import brotli

            data = brotli.decompress(data)
        self.received.append(data)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_an_uncaught_error_is_reported_to_sentry_without_personal_data():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Envelopes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Envelopes.received = []
    env = {**os.environ, "DEBUG": "1", "SENTRY_DSN": f"http://publickey@127.0.0.1:{server.server_port}/1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        result = subprocess.run(
            # On stdin, so the personal data is only in the running code's variables.
            [sys.executable, "manage.py", "shell"],
            input=FAILING.encode(),
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            timeout=120,
        )
    finally:
        server.shutdown()
    assert result.returncode != 0
    sent = b"".join(_Envelopes.received)
    assert b"drafting blew up for draft 42" in sent, result.stderr.decode()[-2000:]
    assert b"RuntimeError" in sent
    i = sent.find(b"liu.wei@customer.example")
    assert i < 0, sent[max(0, i - 300) : i + 100]
    assert b"renewal is on" not in sent
