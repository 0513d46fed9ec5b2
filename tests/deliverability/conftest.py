"""Deliverability tests use the real SMTP server of the sending tests, the signed provider webhooks
of the engagement tests, and SpamAssassin's real spamd when it is installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from tests.sending.conftest import _free_port, approve, smtp_server  # noqa: F401 (fixtures)

SPAMD_MISSING = "SpamAssassin's spamd is not installed (Debian: apt-get install spamassassin; .ci/run installs it)"


@pytest.fixture(scope="session")
def spamd_server():
    """A real spamd on 127.0.0.1 with local rules only (-L: no DNS blocklists, no network tests).
    Skipped, with the reason shown, where SpamAssassin is not installed."""
    binary = shutil.which("spamd") or ("/usr/sbin/spamd" if os.path.exists("/usr/sbin/spamd") else None)
    if binary is None:
        pytest.skip(SPAMD_MISSING)
    port = _free_port()
    home = tempfile.mkdtemp(prefix="spamd-")
    os.chmod(home, 0o777)  # noqa: S103 (spamd drops to "nobody" when started as root)
    command = [
        binary,
        "--local",
        "--nouser-config",
        f"--listen=127.0.0.1:{port}",
        "--allowed-ips=127.0.0.1",
        "--max-children=2",
        f"--pidfile={home}/spamd.pid",
        f"--helper-home-dir={home}",
        "--syslog=stderr",
    ]
    if os.geteuid() == 0:
        command.append("--username=nobody")
    log = open(os.path.join(home, "spamd.log"), "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.close()
            with open(os.path.join(home, "spamd.log")) as stopped:
                pytest.fail("spamd stopped at start-up: " + stopped.read()[-2000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.terminate()
        pytest.fail("spamd did not start listening within 90 seconds")
    yield ("127.0.0.1", port)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def spamd(settings, spamd_server):
    """The settings pointing at the real spamd; the cache of spamd reports starts empty."""
    from django.core.cache import cache

    settings.SPAMD_HOST, settings.SPAMD_PORT = spamd_server
    settings.SPAMD_TIMEOUT_SECONDS = 30
    cache.clear()
    return spamd_server


# --- A real DNS server on 127.0.0.1 (dnslib), serving the zones a test gives it ------------------


class Zones:
    """records[(name, type)] = [values]; TXT values longer than 255 characters are split as DNS does."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.queries: list[tuple[str, str]] = []

    def add(self, name: str, rtype: str, *values: str) -> None:
        self.records.setdefault((name.lower().rstrip("."), rtype), []).extend(values)


@pytest.fixture
def dns_server(settings):
    """A DNS server on 127.0.0.1 (random UDP port) answering from `zones`; DNS_RESOLVER points at it."""
    from dnslib import CNAME, QTYPE, RCODE, RR, TXT
    from dnslib.server import BaseResolver, DNSServer

    zones = Zones()

    class ZoneResolver(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            name = str(request.q.qname).rstrip(".").lower()
            rtype = QTYPE[request.q.qtype]
            zones.queries.append((name, rtype))
            target = name
            for alias in zones.records.get((name, "CNAME"), []):
                reply.add_answer(RR(request.q.qname, QTYPE.CNAME, rdata=CNAME(alias + "."), ttl=60))
                target = alias.lower()
            for value in zones.records.get((target, rtype), []) if rtype == "TXT" else []:
                chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
                reply.add_answer(RR(target + ".", QTYPE.TXT, rdata=TXT(chunks), ttl=60))
            if not reply.rr and not any(key[0] == target for key in zones.records):
                reply.header.rcode = RCODE.NXDOMAIN
            return reply

    port = _free_port()
    server = DNSServer(ZoneResolver(), port=port, address="127.0.0.1")
    server.start_thread()
    settings.DNS_RESOLVER = f"127.0.0.1:{port}"
    settings.DNS_TIMEOUT_SECONDS = 3
    yield zones
    server.stop()
