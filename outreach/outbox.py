"""The outbox: an approved email becomes exactly one OutboundMessage row.

Only `review.services.draft_approve` calls `outbound_message_create`, inside its transaction, from
the approved text: no email exists without a human approving that exact text.
"""

from __future__ import annotations

import hashlib
import uuid
from email.utils import formataddr, make_msgid

from django.db import transaction

from .errors import ApplicationError
from .models import OutboundMessage


def content_hash(*, subject: str, body_html: str, body_text: str) -> str:
    """Fingerprint of the approved text; the sender refuses a body that no longer matches it."""
    digest = hashlib.sha256()
    for part in (subject, body_html, body_text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _message_id_domain(from_email: str) -> str:
    return from_email.rsplit("@", 1)[-1] if "@" in from_email else "localhost"


def outbound_message_create(*, draft, approved_by) -> OutboundMessage:
    """Queue the approved draft for sending. Must run inside the approving transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise ApplicationError("outbound_message_create must run inside the approval transaction")
    sender_profile = getattr(draft.sender, "sender", None)
    if sender_profile is None:
        raise ApplicationError(f"{draft.sender} has no sender profile, so nothing can be sent from them")
    from_email = formataddr((sender_profile.display_name, sender_profile.email))
    message = OutboundMessage(
        draft=draft,
        recipient=draft.recipient,
        sender=draft.sender,
        campaign=draft.campaign,
        enrollment=draft.enrollment,
        step=draft.step,
        from_email=from_email,
        reply_to=sender_profile.reply_to or sender_profile.email,
        to_email=draft.recipient.email,
        cc=list(draft.cc),
        bcc=list(draft.bcc),
        subject=draft.subject,
        body_html=draft.body_html,
        body_text=draft.body_text,
        content_hash=content_hash(subject=draft.subject, body_html=draft.body_html, body_text=draft.body_text),
        # Fixed before any provider call, so a retry after a crash is recognisably the same email.
        message_id=make_msgid(domain=_message_id_domain(sender_profile.email)),
        idempotency_key=uuid.uuid4().hex,
        approved_by=approved_by,
    )
    message.full_clean(exclude=["draft"])
    message.save()
    return message
