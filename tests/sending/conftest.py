"""Fixtures for sending: a real SMTP server (aiosmtpd) on localhost, a stub of the Resend API."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from review.services import outbound_message_from_draft


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message


@dataclass
class CapturingHandler:
    """Stores each accepted message; can answer 451 (try later) or 550 (refused) first."""

    received: list[Received] = field(default_factory=list)
    temporary_failures: int = 0
    refuse_with: str = ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_with:
            return self.refuse_with
        if self.temporary_failures > 0:
            self.temporary_failures -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)
            )
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 (random port); the organization's backend points at it."""
    handler = CapturingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    handler.port = settings.EMAIL_PORT  # type: ignore[attr-defined]
    yield handler
    controller.stop()


class _ResendStub(BaseHTTPRequestHandler):
    """POST /emails like Resend: records each request; a repeated Idempotency-Key returns the
    first answer and delivers nothing new, as Resend does for 24 hours."""

    def do_POST(self):  # noqa: N802
        stub = self.server.stub  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        key = self.headers.get("Idempotency-Key")
        stub.requests.append({"path": self.path, "idempotency_key": key, "body": body})
        if stub.fail_with:
            status, answer = stub.fail_with.pop(0)
        elif key and key in stub.by_key:
            status, answer = 200, stub.by_key[key]
        else:
            status, answer = 200, {"id": f"resend-{len(stub.delivered) + 1}"}
            stub.delivered.append(body)
            if key:
                stub.by_key[key] = answer
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@dataclass
class ResendStub:
    url: str = ""
    requests: list[dict] = field(default_factory=list)
    delivered: list[dict] = field(default_factory=list)
    by_key: dict[str, dict] = field(default_factory=dict)
    fail_with: list[tuple[int, dict]] = field(default_factory=list)


@pytest.fixture
def resend_api(settings):
    """A local stand-in for the Resend HTTP API; EMAIL_BACKEND is anymail's Resend backend."""
    stub = ResendStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ResendStub)
    server.stub = stub  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/"
    settings.EMAIL_BACKEND = "anymail.backends.resend.EmailBackend"
    settings.ANYMAIL = {"RESEND_API_KEY": "re_test_key", "RESEND_API_URL": stub.url}
    yield stub
    server.shutdown()
    server.server_close()


@pytest.fixture
def approve():
    """approve(draft) -> OutboundMessage, created as the approve service does (in a transaction)."""

    def _approve(draft, approved_by=None):
        with transaction.atomic():
            return outbound_message_from_draft(draft=draft, approved_by=approved_by or draft.sender)

    return _approve
