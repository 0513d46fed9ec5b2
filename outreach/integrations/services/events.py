"""Emitted events: what other systems hear from us (engagement, draft decisions, suppression
additions, send results), stored as `EmittedEvent` rows, listed by `GET /v1/events/` and delivered by webhooks.

Not to be confused with Django signals (in-process news between our parts, in each part's
`signals.py`): the receivers below turn some of those signals into emitted events.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction

from outreach.core.errors import ApplicationError
from outreach.core.public_ids import encode_or_none as pid
from outreach.integrations.models import EmittedEvent
from outreach.mail.models import EngagementEvent, OutboundMessage, SendingPause
from outreach.people.models import Recipient
from outreach.suppression.models import Suppression

from .webhooks import deliveries_create

logger = logging.getLogger(__name__)

ENGAGEMENT_KINDS = {
    EngagementEvent.Kind.REPLIED,
    EngagementEvent.Kind.OPENED,
    EngagementEvent.Kind.BOUNCED,
    EngagementEvent.Kind.COMPLAINED,
    EngagementEvent.Kind.UNSUBSCRIBED,
}


def emitted_event_record(
    *, type: str, payload: dict[str, Any], recipient: Recipient | None = None, sender=None
) -> EmittedEvent:
    """Store one emitted event and a webhook delivery for each active subscriber of its type (nudged
    after commit). Inside a caller's transaction it commits, or not, with what it reports."""
    if type not in EmittedEvent.Type.values:
        raise ApplicationError(f"Unknown event type {type!r}")
    with transaction.atomic(savepoint=False):
        event = EmittedEvent.objects.create(
            public_id=f"evt_{uuid.uuid4().hex}", type=type, payload=payload, recipient=recipient, sender=sender
        )
        deliveries_create(event=event)
    return event


def _message_refs(message) -> dict[str, Any]:
    if message is None:
        return {"message_id": None, "draft_id": None, "campaign_id": None, "enrollment_id": None, "sender": None}
    return {
        "message_id": pid("msg", message.pk),
        "draft_id": pid("drf", message.draft_ref),
        "campaign_id": pid("seq", message.campaign_ref),
        "enrollment_id": pid("enr", message.enrollment_ref),
        "sender": message.sender.get_username() if message.sender_id else None,
    }


def engagement_emit(*, event: EngagementEvent) -> EmittedEvent | None:
    """reply, open (only where the recipient consented to open tracking), bounce, complaint,
    unsubscribe, attributed to the recipient and the campaign. Other kinds are not emitted."""
    if event.kind not in ENGAGEMENT_KINDS:
        return None
    message = event.message
    recipient = event.recipient or (message.recipient if message else None)
    if event.kind == EngagementEvent.Kind.OPENED and not (recipient and recipient.consent_open_tracking):
        return None
    payload = {
        "engagement_id": pid("eng", event.pk),
        "kind": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "recipient": {"id": pid("ctc", recipient.pk), "email": recipient.email} if recipient else None,
        **_message_refs(message),
        # What kind of answer a reply is (interested, not_now, not_interested, out_of_office,
        # unsubscribe_request, referral, other) and why; null for other kinds.
        "reply_class": event.reply_class or None,
        "reply_class_reason": event.reply_class_reason or None,
    }
    return emitted_event_record(
        type=EmittedEvent.Type.ENGAGEMENT,
        payload=payload,
        recipient=recipient,
        sender=message.sender if message else None,
    )


def suppression_emit(*, entry: Suppression) -> EmittedEvent:
    recipient = None
    if entry.kind == Suppression.Kind.RECIPIENT and entry.value.isdigit():
        recipient = Recipient.objects.filter(pk=int(entry.value)).first()
    elif entry.kind == Suppression.Kind.ADDRESS:
        recipient = Recipient.objects.filter(email=entry.value).first()
    payload = {
        "suppression_id": pid("sup", entry.pk),
        "kind": entry.kind,
        "value": pid("ctc", recipient.pk) if entry.kind == Suppression.Kind.RECIPIENT and recipient else entry.value,
        "reason": entry.reason,
        "list": entry.suppression_list.name,
        "source": entry.source,
        "created_at": entry.created_at.isoformat(),
        "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
        "recipient": {"id": pid("ctc", recipient.pk), "email": recipient.email} if recipient else None,
    }
    return emitted_event_record(type=EmittedEvent.Type.SUPPRESSION, payload=payload, recipient=recipient)


def sending_pause_emit(*, pause: SendingPause, type: str, count: int) -> EmittedEvent:
    """A brake went on (`sending_paused`, count = emails held) or off (`sending_resumed`, count =
    emails released)."""
    payload = {
        "pause_id": pause.pk,
        "scope": pause.scope,
        "sender": pause.sender.get_username() if pause.sender else None,
        "domain": pause.domain or None,
        "cause": pause.cause,
        "events": pause.events,
        "sends": pause.sends,
        "threshold_percent": round(pause.threshold * 100, 3),
        "reason": pause.reason,
        "paused_at": pause.created_at.isoformat(),
        "resumed_at": pause.resumed_at.isoformat() if pause.resumed_at else None,
        "resumed_by": pause.resumed_by.get_username() if pause.resumed_by else None,
        "resume_note": pause.resume_note or None,
        ("held" if type == EmittedEvent.Type.SENDING_PAUSED else "released"): count,
    }
    return emitted_event_record(type=type, payload=payload, sender=pause.sender)


def send_result_emit(*, message: OutboundMessage) -> EmittedEvent | None:
    """`email_send_result` when a send's outcome is final (success, failure or skipped), in the
    one-to-one send shape (`OutboundMessage.as_send_result()`), with where it came from."""
    if message.state not in OutboundMessage.FINAL_STATES:
        return None
    payload = {
        **message.as_send_result(),
        "draft_id": pid("drf", message.draft_ref),
        "campaign_id": pid("seq", message.campaign_ref),
        "enrollment_id": pid("enr", message.enrollment_ref),
        "sender": message.sender.get_username() if message.sender_id else None,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
    }
    return emitted_event_record(
        type=EmittedEvent.Type.SEND_RESULT, payload=payload, recipient=message.recipient, sender=message.sender
    )


# Receivers log and swallow their own failures: the signal's other listeners (campaigns ending a
# sequence on a reply) must still run.


def _on_engagement_recorded(sender, event, **kwargs) -> None:
    try:
        engagement_emit(event=event)
    except Exception:
        logger.exception("could not record engagement_signal for engagement event %s", event.pk)


def _on_suppression_added(sender, entry, **kwargs) -> None:
    try:
        suppression_emit(entry=entry)
    except Exception:
        logger.exception("could not record suppression_addition for suppression %s", entry.pk)


def _on_sending_paused(sender, pause, held, **kwargs) -> None:
    try:
        sending_pause_emit(pause=pause, type=EmittedEvent.Type.SENDING_PAUSED, count=held)
    except Exception:
        logger.exception("could not record sending_paused for pause %s", pause.pk)


def _on_sending_resumed(sender, pause, released, **kwargs) -> None:
    try:
        sending_pause_emit(pause=pause, type=EmittedEvent.Type.SENDING_RESUMED, count=released)
    except Exception:
        logger.exception("could not record sending_resumed for pause %s", pause.pk)


def _on_outbound_message_finished(sender, message, **kwargs) -> None:
    try:
        send_result_emit(message=message)
    except Exception:
        logger.exception("could not record email_send_result for message %s", message.pk)


def connect_signals() -> None:
    from outreach.mail.signals import engagement_recorded, outbound_message_finished, sending_paused, sending_resumed
    from outreach.suppression.signals import suppression_added

    engagement_recorded.connect(_on_engagement_recorded, dispatch_uid="emit-engagement")
    suppression_added.connect(_on_suppression_added, dispatch_uid="emit-suppression")
    sending_paused.connect(_on_sending_paused, dispatch_uid="emit-sending-paused")
    sending_resumed.connect(_on_sending_resumed, dispatch_uid="emit-sending-resumed")
    outbound_message_finished.connect(_on_outbound_message_finished, dispatch_uid="emit-send-result")
