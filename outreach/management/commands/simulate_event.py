"""Simulate what a provider or a recipient does to a sent email, for the demo.

Posts a real, authenticated webhook to the running server, so the event takes the same path as
production: anymail's views check the basic-auth secret and the Svix signature, the receiver
records the event and the worker processes it.

    python manage.py simulate_event --message 12 --kind bounced
    python manage.py simulate_event --message 12 --kind replied --text "Thursday works"
    python manage.py simulate_event --message 12 --kind unsubscribed     # the one-click link

Kinds bounced, soft_bounced, complained, delivered, opened and clicked are sent as Resend
tracking events; replied as a Postmark inbound email (Resend's inbound webhook makes the server
fetch the email from Resend's API, which a demo cannot answer); unsubscribed as the RFC 8058
one-click POST. Without --url the request goes through Django in-process (same views, no server).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from email.utils import format_datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.mail.unsubscribe import unsubscribe_url

RESEND_TYPES = {
    "delivered": "email.delivered",
    "bounced": "email.bounced",
    "soft_bounced": "email.bounced",
    "complained": "email.complained",
    "opened": "email.opened",
    "clicked": "email.clicked",
}
KINDS = [*RESEND_TYPES, "replied", "unsubscribed"]


def svix_headers(body: bytes, secret: str) -> dict[str, str]:
    """Sign as Svix (Resend) does: HMAC-SHA256 of "{id}.{timestamp}.{body}", base64."""
    msg_id = f"msg_{uuid.uuid4().hex}"
    timestamp = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"svix-id": msg_id, "svix-timestamp": timestamp, "svix-signature": "v1," + base64.b64encode(digest).decode()}


def basic_auth() -> dict[str, str]:
    secret = settings.ANYMAIL.get("WEBHOOK_SECRET")
    if isinstance(secret, list | tuple):
        secret = secret[0] if secret else None
    return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()} if secret else {}


def resend_payload(message: OutboundMessage, kind: str) -> dict:
    now = timezone.now().isoformat().replace("+00:00", "Z")
    data: dict = {
        "created_at": message.created_at.isoformat(),
        "email_id": message.provider_message_id or message.message_id.strip("<>"),
        "from": message.from_email,
        "to": [message.to_email],
        "subject": message.subject,
    }
    if kind == "bounced":
        data["bounce"] = {
            "message": "The recipient's email provider sent a hard bounce message (simulated).",
            "subType": "General",
            "type": "Permanent",
        }
    elif kind == "soft_bounced":
        data["bounce"] = {"message": "Mailbox full (simulated).", "subType": "MailboxFull", "type": "Transient"}
    elif kind == "clicked":
        data["click"] = {"link": "https://example.com/simulated", "userAgent": "simulate_event"}
    return {"type": RESEND_TYPES[kind], "created_at": now, "data": data}


def postmark_inbound(message: OutboundMessage, text: str) -> dict:
    return {
        "FromFull": {"Email": message.to_email, "Name": str(message.recipient)},
        "ToFull": [{"Email": message.reply_to or message.from_email, "Name": ""}],
        "Subject": f"Re: {message.subject}",
        "MessageID": f"sim-{uuid.uuid4().hex}",
        "Date": format_datetime(timezone.now()),
        "TextBody": f"{text}\n\nOn {format_datetime(message.sent_at or message.created_at)}, you wrote:\n> "
        + message.body_text.replace("\n", "\n> "),
        "Headers": [
            {"Name": "Message-ID", "Value": f"<sim-{uuid.uuid4().hex}@customer.example>"},
            {"Name": "In-Reply-To", "Value": message.message_id},
            {"Name": "References", "Value": message.message_id},
        ],
    }


class Command(BaseCommand):
    help = "Post a signed provider webhook (or the one-click unsubscribe) about one outbound message."

    def add_arguments(self, parser):
        parser.add_argument("--message", type=int, required=True, help="OutboundMessage id")
        parser.add_argument("--kind", choices=KINDS, required=True)
        parser.add_argument("--text", default="Thanks, that sounds useful. Could we talk on Thursday?")
        parser.add_argument("--url", default="", help="Base URL of the running server, e.g. http://127.0.0.1:8000")

    def handle(self, *args, message: int, kind: str, text: str, url: str, **options):
        outbound = OutboundMessage.objects.select_related("recipient").filter(pk=message).first()
        if outbound is None:
            raise CommandError(f"No outbound message #{message}")
        before = EngagementEvent.objects.count()
        if kind == "unsubscribed":
            path = unsubscribe_url(recipient_id=outbound.recipient_id, message_id=outbound.pk).removeprefix(
                settings.SITE_URL
            )
            body, headers = b"List-Unsubscribe=One-Click", {"Content-Type": "application/x-www-form-urlencoded"}
        elif kind == "replied":
            path = "/anymail/postmark/inbound/"
            body = json.dumps(postmark_inbound(outbound, text)).encode()
            headers = {"Content-Type": "application/json", **basic_auth()}
        else:
            path = "/anymail/resend/tracking/"
            body = json.dumps(resend_payload(outbound, kind)).encode()
            headers = {"Content-Type": "application/json", **basic_auth()}
            secret = settings.ANYMAIL.get("RESEND_SIGNING_SECRET")
            headers.update(svix_headers(body, secret) if secret else {"svix-id": f"msg_{uuid.uuid4().hex}"})
        status = self._post(url, path, body, headers)
        recorded = EngagementEvent.objects.count() - before
        self.stdout.write(f"POST {path} -> {status}; {recorded} engagement event(s) recorded")
        if status >= 400:
            raise CommandError("the server refused the simulated event (check ANYMAIL_WEBHOOK_SECRET / signing secret)")

    def _post(self, base_url: str, path: str, body: bytes, headers: dict[str, str]) -> int:
        if base_url:
            request = urllib.request.Request(base_url.rstrip("/") + path, data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code
            except urllib.error.URLError as exc:
                raise CommandError(f"cannot reach {base_url}: {exc.reason}") from exc
        from django.test import Client

        client = Client(SERVER_NAME=(settings.ALLOWED_HOSTS or ["localhost"])[0].strip("*.") or "localhost")
        extra = {k: v for k, v in headers.items() if k != "Content-Type"}
        response = client.post(path, data=body, content_type=headers["Content-Type"], headers=extra)
        return response.status_code
