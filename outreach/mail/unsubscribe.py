"""Signed unsubscribe tokens: the link in every email names the recipient without a login.

The token is signed with SECRET_KEY (salted), so a tampered or forged link is refused; it does not
expire, because an unsubscribe link must keep working as long as the email exists.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "outreach.unsubscribe.v1"


def unsubscribe_token(*, recipient_id: int, message_id: int | None = None) -> str:
    # No timestamp: the same message always gets the same link (the footer and the
    # List-Unsubscribe header match, and rendering twice gives the same email).
    return signing.Signer(salt=SALT).sign_object({"r": recipient_id, "m": message_id}, compress=True)


def read_unsubscribe_token(token: str) -> tuple[int, int | None]:
    """(recipient_id, outbound message id or None); raises signing.BadSignature when tampered."""
    # payload:timestamp:signature is a link issued before tokens lost their timestamp.
    timestamped = token.count(":") == 2
    data = signing.loads(token, salt=SALT) if timestamped else signing.Signer(salt=SALT).unsign_object(token)
    return int(data["r"]), (int(data["m"]) if data.get("m") is not None else None)


def unsubscribe_url(*, recipient_id: int, message_id: int | None = None) -> str:
    """Absolute URL for the footer link and the List-Unsubscribe header (RFC 8058 one-click)."""
    token = unsubscribe_token(recipient_id=recipient_id, message_id=message_id)
    return settings.SITE_URL + reverse("unsubscribe", args=[token])
