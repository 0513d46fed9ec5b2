"""Builders for provider webhook payloads, signed the way the providers sign them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest

from outreach.mail.signals import engagement_recorded

WEBHOOK_SECRET = "hook-user:hook-pass-123"
SVIX_SECRET = "whsec_" + base64.b64encode(b"a-32-byte-secret-for-tests-only!").decode()


@pytest.fixture(autouse=True)
def tasks_run_inline(monkeypatch):
    """django-q2 runs enqueued tasks at once (the code still enqueues them on commit)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def basic_auth_webhooks(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture
def svix_webhooks(settings):
    settings.ANYMAIL = {"RESEND_SIGNING_SECRET": SVIX_SECRET}


@pytest.fixture
def recorded_signals():
    """Every engagement_recorded send, as the list of events it carried."""
    seen: list = []

    def receiver(sender, event, **kwargs):
        seen.append(event)

    engagement_recorded.connect(receiver, dispatch_uid="test-recorded")
    yield seen
    engagement_recorded.disconnect(dispatch_uid="test-recorded")


def basic_auth_header(credentials: str = WEBHOOK_SECRET) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def resend_event(event_type: str, *, email_id: str, to: str, **data) -> dict:
    """A Resend webhook body (https://resend.com/docs/dashboard/webhooks/event-types)."""
    return {
        "type": event_type,
        "created_at": "2026-11-20T10:15:00.000Z",
        "data": {
            "created_at": "2026-11-20T10:00:00.000Z",
            "email_id": email_id,
            "from": "Rita Lane <rita@team.example>",
            "to": [to],
            "subject": "Quick question",
            **data,
        },
    }


def hard_bounce() -> dict:
    return {
        "message": "The recipient's email provider sent a hard bounce message.",
        "subType": "General",
        "type": "Permanent",
    }


def svix_headers(body: bytes, *, secret: str = SVIX_SECRET, msg_id: str | None = None) -> dict[str, str]:
    """Sign a body per the Svix spec: HMAC-SHA256 over "{id}.{timestamp}.{body}", key = the
    base64 part of the whsec_ secret, signature "v1,<base64>"."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"svix-id": msg_id, "svix-timestamp": timestamp, "svix-signature": f"v1,{signature}"}


def post_json(client, url: str, payload: dict, **headers):
    return client.post(url, data=json.dumps(payload).encode(), content_type="application/json", headers=headers)
