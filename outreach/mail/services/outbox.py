"""The outbox: an approved email becomes exactly one OutboundMessage row.

Only `review.services.draft_approve` calls `outbound_message_create`, inside its transaction, from
the approved text: no email exists without a human approving that exact text.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from email.utils import formataddr, make_msgid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.mail.models import OutboundMessage, OutboundMessageLog, SenderConfig
from outreach.mail.services.sending import message_not_before, outbound_message_enqueue

# "Re:"/"Fwd:" claims an earlier conversation; only a follow-up may say so.
_REPLY_PREFIX = re.compile(r"^\s*(re|fwd?|aw|sv)\s*:", re.IGNORECASE)


def content_hash(*, subject: str, body_html: str, body_text: str) -> str:
    """Fingerprint of the approved text; the sender refuses a body that no longer matches it."""
    digest = hashlib.sha256()
    for part in (subject, body_html, body_text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _message_id_domain(from_email: str) -> str:
    return from_email.rsplit("@", 1)[-1] if "@" in from_email else "localhost"


def _thread_parent(draft) -> OutboundMessage | None:
    """The earlier email of the same enrollment, which a follow-up threads under."""
    if draft.enrollment_id is None:
        return None
    return (
        OutboundMessage.objects.filter(enrollment_id=draft.enrollment_id)
        .exclude(state__in=[OutboundMessage.State.FAILED, OutboundMessage.State.SKIPPED])
        .order_by("-created_at", "-pk")
        .first()
    )


def _active_sender_config(user) -> SenderConfig | None:
    """The member's own sending setup when it is on; None sends through the organization's provider.
    The approval's row lock loads it with the draft, so this is usually no query."""
    try:
        config = user.sender_config
    except SenderConfig.DoesNotExist:
        return None
    return config if config.is_active else None


_RELATIONS = [f.name for f in OutboundMessage._meta.concrete_fields if f.is_relation]


def outbound_message_create(*, draft, approved_by) -> OutboundMessage:
    """Queue the approved draft for sending. Must run inside the approving transaction.

    The send task is enqueued on commit; a campaign's send window sets `not_before`, so an email
    approved at night waits for the recipient's business hours. A follow-up in an enrollment
    threads under the earlier email (In-Reply-To, References); only a follow-up may start with "Re:".
    """
    if not transaction.get_connection().in_atomic_block:
        raise ApplicationError("outbound_message_create must run inside the approval transaction")
    sender_profile = getattr(draft.sender, "sender", None)
    if sender_profile is None:
        raise ApplicationError(f"{draft.sender} has no sender profile, so nothing can be sent from them")
    parent = _thread_parent(draft)
    if parent is None and _REPLY_PREFIX.match(draft.subject or ""):
        raise ApplicationError('Only a follow-up may start with "Re:" or "Fwd:"; remove it from the subject.')
    # A display name is one line: a line break in it would fail every send from this profile.
    display_name = " ".join(sender_profile.display_name.split())
    from_email = formataddr((display_name, sender_profile.email))
    config = _active_sender_config(draft.sender)
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
        sender_config=config,
        in_reply_to=parent.message_id if parent else "",
        references=" ".join(filter(None, [parent.references, parent.message_id])) if parent else "",
        not_before=message_not_before(campaign=draft.campaign, recipient=draft.recipient, now=timezone.now()),
    )
    try:
        # Field checks (addresses, lengths) give a readable refusal; the keys point at rows loaded
        # above and the database enforces uniqueness, so no checking queries inside the approval.
        message.full_clean(exclude=_RELATIONS, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ApplicationError("; ".join(exc.messages)) from exc
    message.save()
    note = (
        f"approved; waits for the send window until {message.not_before:%Y-%m-%d %H:%M} UTC"
        if message.not_before
        else "approved"
    )
    OutboundMessageLog.objects.create(message=message, to_state=message.state, note=note, actor=approved_by)
    transaction.on_commit(lambda: outbound_message_enqueue(message.pk))
    return message
