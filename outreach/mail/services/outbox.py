"""The outbox: an approved email becomes exactly one OutboundMessage row.

Only `review.services.draft_approve` calls `outbound_message_create`, inside its transaction, with
the approved text: no email exists without a human approving that exact text. Review hands the text,
where it came from and the rules it is sent under down as plain values; mail reads nothing above it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from email.utils import formataddr, make_msgid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.core.tasks import task_enqueue
from outreach.mail.models import OutboundMessage, OutboundMessageLog, SenderConfig
from outreach.mail.send_window import send_window_next_open
from outreach.people.models import Recipient

# "Re:"/"Fwd:" claims an earlier conversation; only a follow-up may say so.
_REPLY_PREFIX = re.compile(r"^\s*(re|fwd?|aw|sv)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class SendRules:
    """The rules an approved email is sent under, fixed when it is approved: a send window in the
    recipient's time zone, suppression lists checked besides the global ones, whether opens and
    clicks may be recorded, whether a sequence goes on after this email fails, and which properties
    the contact gets once it is sent."""

    send_window: dict = field(default_factory=dict)
    suppression_list_ids: list[int] = field(default_factory=list)
    open_tracking: bool = False
    # One-to-one send tools' default: a failed send completes the step and the sequence goes on.
    complete_on_send_failure: bool = True
    # Properties set on the contact once the email is sent (key -> value template, see
    # outreach.mail.send_properties).
    set_properties: dict = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> SendRules:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in (data or {}).items() if key in names})


def content_hash(*, subject: str, body_html: str, body_text: str) -> str:
    """Fingerprint of the approved text; the sender refuses a body that no longer matches it."""
    digest = hashlib.sha256()
    for part in (subject, body_html, body_text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def outbound_message_enqueue(message_id: int) -> None:
    """Nudge a worker; the row decides whether anything happens."""
    task_enqueue("outreach.mail.tasks.outbound_message_send", message_id, group="sending")


def _message_id_domain(from_email: str) -> str:
    return from_email.rsplit("@", 1)[-1] if "@" in from_email else "localhost"


def _thread_parent(*, enrollment_ref: int | None) -> OutboundMessage | None:
    """The earlier email of the same sequence, which a follow-up threads under."""
    if enrollment_ref is None:
        return None
    return (
        OutboundMessage.objects.filter(enrollment_ref=enrollment_ref)
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


def outbound_message_create(
    *,
    recipient: Recipient,
    sender,
    approved_by,
    subject: str,
    body_html: str,
    body_text: str,
    cc: list[str],
    bcc: list[str],
    rules: SendRules,
    preview_text: str = "",
    draft_ref: int | None = None,
    campaign_ref: int | None = None,
    enrollment_ref: int | None = None,
    step_ref: int | None = None,
    hold_until: datetime | None = None,
) -> OutboundMessage:
    """Queue an approved email for sending. Must run inside the approving transaction.
    `hold_until` keeps it back for a moment (the reviewer's undo); the send window may hold it longer.

    The send task is enqueued on commit; the send window sets `not_before`, so an email approved at
    night waits for the recipient's business hours. A follow-up in a sequence threads under the
    earlier email (In-Reply-To, References); only a follow-up may start with "Re:".
    """
    if not transaction.get_connection().in_atomic_block:
        raise ApplicationError("outbound_message_create must run inside the approval transaction")
    sender_profile = getattr(sender, "sender", None)
    if sender_profile is None:
        raise ApplicationError(f"{sender} has no sender profile, so nothing can be sent from them")
    parent = _thread_parent(enrollment_ref=enrollment_ref)
    if parent is None and _REPLY_PREFIX.match(subject or ""):
        raise ApplicationError('Only a follow-up may start with "Re:" or "Fwd:"; remove it from the subject.')
    # A display name is one line: a line break in it would fail every send from this profile.
    display_name = " ".join(sender_profile.display_name.split())
    from_email = formataddr((display_name, sender_profile.email))
    message = OutboundMessage(
        recipient=recipient,
        sender=sender,
        draft_ref=draft_ref,
        campaign_ref=campaign_ref,
        enrollment_ref=enrollment_ref,
        step_ref=step_ref,
        send_window=dict(rules.send_window or {}),
        suppression_list_ids=[int(pk) for pk in rules.suppression_list_ids],
        open_tracking=rules.open_tracking,
        complete_on_send_failure=rules.complete_on_send_failure,
        set_properties=dict(rules.set_properties or {}),
        from_email=from_email,
        reply_to=sender_profile.reply_to or sender_profile.email,
        to_email=recipient.email,
        cc=list(cc),
        bcc=list(bcc),
        subject=subject,
        preview_text=" ".join((preview_text or "").split())[:300],
        body_html=body_html,
        body_text=body_text,
        content_hash=content_hash(subject=subject, body_html=body_html, body_text=body_text),
        # Fixed before any provider call, so a retry after a crash is recognisably the same email.
        message_id=make_msgid(domain=_message_id_domain(sender_profile.email)),
        idempotency_key=uuid.uuid4().hex,
        approved_by=approved_by,
        sender_config=_active_sender_config(sender),
        in_reply_to=parent.message_id if parent else "",
        references=" ".join(filter(None, [parent.references, parent.message_id])) if parent else "",
        not_before=_latest(
            send_window_next_open(window=rules.send_window, time_zone=recipient.time_zone, now=timezone.now()),
            hold_until,
        ),
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


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


@transaction.atomic
def outbound_message_cancel_held(*, message_id: int, actor, note: str) -> OutboundMessage:
    """Take back an approved email that is still held in the outbox (the reviewer's undo): it ends
    as skipped (code undone), keeps its log, and lets go of its draft so the draft can be approved
    again. Refused once a worker has claimed it: from then on it may already be at the provider."""
    message = OutboundMessage.objects.select_for_update(of=("self",)).filter(pk=message_id).first()
    if message is None or message.state != OutboundMessage.State.QUEUED or message.attempts:
        raise ApplicationError("Too late to undo: the email is already being sent.")
    previous = message.state
    message.state, message.code, message.draft_ref = OutboundMessage.State.SKIPPED, OutboundMessage.Code.UNDONE, None
    message.error_message = note
    message.save(update_fields=["state", "code", "draft_ref", "error_message", "updated_at"])
    OutboundMessageLog.objects.create(
        message=message, from_state=previous, to_state=message.state, code=message.code, note=note, actor=actor
    )
    return message


@transaction.atomic
def outbound_messages_add_suppression_lists(*, campaign_ref: int, list_ids: list[int]) -> int:
    """A campaign now also respects these lists: its queued (and held) emails check them too when they are sent.
    Only ever adds (stricter); the other rules stay as they were approved. Returns how many changed."""
    changed = 0
    queued = OutboundMessage.objects.select_for_update().filter(
        campaign_ref=campaign_ref, state__in=[OutboundMessage.State.QUEUED, OutboundMessage.State.HELD]
    )
    for message in queued:
        merged = sorted({*message.suppression_list_ids, *map(int, list_ids)})
        if merged != sorted(message.suppression_list_ids):
            message.suppression_list_ids = merged
            message.save(update_fields=["suppression_list_ids", "updated_at"])
            changed += 1
    return changed
