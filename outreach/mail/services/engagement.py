"""Engagement: what happened after a send flows back as EngagementEvents.

Three ways in, one way through:
- provider webhooks, normalized by django-anymail (`tracking_event_receive`),
- replies, from anymail inbound webhooks or the IMAP poller (`reply_receive`),
- the unsubscribe link in every email (`unsubscribe_record`).

Each records one row (`engagement_event_record`: deduplicated by the provider's event id, since
providers redeliver) and then processes it (`engagement_event_process`: suppression for hard
bounces, complaints and unsubscribes, then `engagement_recorded` on commit). Webhooks hand the
processing to a django-q2 task so the provider gets its 200 at once; the row is the truth and
`engagement_sweep` re-enqueues any row whose task was lost.
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from html.parser import HTMLParser

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.core.ids import parse_id
from outreach.core.normalize import normalize_email
from outreach.core.tasks import task_enqueue
from outreach.drafting import Provider
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.mail.signals import engagement_recorded
from outreach.mail.unsubscribe import read_unsubscribe_token
from outreach.people.models import Recipient
from outreach.suppression.models import Suppression
from outreach.suppression.services import suppression_add

from .brakes import brakes_check
from .reply_classes import reply_classify

logger = logging.getLogger(__name__)

Kind = EngagementEvent.Kind

# A reply without usable In-Reply-To/References is matched to the latest message sent to its
# sender within this many days.
REPLY_MATCH_WINDOW_DAYS = 60

# Which suppression reason each kind of event adds.
SUPPRESSING_KINDS = {
    Kind.BOUNCED: Suppression.Reason.HARD_BOUNCE,
    Kind.COMPLAINED: Suppression.Reason.COMPLAINT,
    Kind.UNSUBSCRIBED: Suppression.Reason.UNSUBSCRIBED,
}

# Which kinds count towards the automatic brakes (soft bounces do not).
BRAKING_KINDS = {Kind.BOUNCED, Kind.COMPLAINED}

# anymail's normalized event types -> our kinds. Types not listed (queued, sent, failed,
# subscribed, autoresponded, unknown) tell nothing about engagement and are ignored.
ANYMAIL_KINDS = {
    "delivered": Kind.DELIVERED,
    "bounced": Kind.BOUNCED,
    "deferred": Kind.DEFERRED,
    "rejected": Kind.REJECTED,
    "complained": Kind.COMPLAINED,
    "unsubscribed": Kind.UNSUBSCRIBED,
    "opened": Kind.OPENED,
    "clicked": Kind.CLICKED,
}


# --- Provider tracking events -----------------------------------------------------------------


@dataclass(frozen=True)
class TrackingEvent:
    """A provider event in our terms: plain data, no ORM."""

    kind: str
    provider: str
    event_id: str  # the provider's own id ("" when it gives none)
    dedup_key: str  # unique across providers; "" = cannot deduplicate
    occurred_at: datetime
    message_ref: str  # provider message id or our Message-ID
    email: str
    metadata: dict = field(default_factory=dict)
    payload: dict = field(default_factory=dict)


def _is_soft_bounce(esp_event) -> bool:
    """anymail calls some temporary failures "bounced"; the raw event says which."""
    if not isinstance(esp_event, dict):
        return False
    if esp_event.get("Type") == "SoftBounce":  # Postmark
        return True
    data = esp_event.get("data")
    bounce = data.get("bounce") if isinstance(data, dict) else None
    bounce_type = str(bounce.get("type", "")).lower() if isinstance(bounce, dict) else ""
    return bounce_type in {"transient", "soft", "undetermined"}  # Resend (SES vocabulary)


def tracking_event_normalize(*, event, esp_name: str) -> TrackingEvent | None:
    """An anymail AnymailTrackingEvent as a TrackingEvent; None for types we do not record."""
    kind = ANYMAIL_KINDS.get(event.event_type)
    if kind is None:
        return None
    if kind == Kind.BOUNCED and _is_soft_bounce(event.esp_event):
        kind = Kind.SOFT_BOUNCED
    provider = (esp_name or "unknown").lower()
    occurred_at = event.timestamp or timezone.now()
    event_id = str(event.event_id or "")
    message_ref = str(event.message_id or "")
    recipient_email = normalize_email(event.recipient) if event.recipient else ""
    if event_id:
        dedup_key = f"{provider}:{event_id}"
    elif event.timestamp and message_ref:
        # No id from the provider: the same content redelivered hashes to the same key.
        raw = f"{provider}|{event.event_type}|{message_ref}|{recipient_email}|{event.timestamp.isoformat()}"
        dedup_key = f"{provider}:sha256:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"
    else:
        dedup_key = ""
    esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
    payload = {
        "event_type": event.event_type,
        "description": event.description or "",
        "mta_response": event.mta_response or "",
        "reject_reason": event.reject_reason or "",
        "click_url": event.click_url or "",
        "esp_event": esp_event,
    }
    return TrackingEvent(
        kind=kind,
        provider=provider,
        event_id=event_id,
        dedup_key=dedup_key,
        occurred_at=occurred_at,
        message_ref=message_ref,
        email=recipient_email,
        metadata=dict(event.metadata or {}),
        payload=payload,
    )


def outbound_message_find(*, reference: str, metadata: dict | None = None) -> OutboundMessage | None:
    """The message a provider event is about: by the provider's message id, by our Message-ID,
    or by the `outbound_message_id` the sender put in anymail's metadata."""
    reference = (reference or "").strip()
    qs = OutboundMessage.objects.select_related("recipient")
    if reference:
        bare = reference.strip("<>")
        found = (
            qs.filter(Q(provider_message_id=reference) | Q(message_id__in=[reference, f"<{bare}>"]))
            .order_by("-created_at")
            .first()
        )
        if found is not None:
            return found
    # Provider metadata is outside input: anything but a row id names no message.
    ref_id = parse_id(str((metadata or {}).get("outbound_message_id", "")))
    return qs.filter(pk=ref_id).first() if ref_id is not None else None


# Opens and clicks record what a person did with an email: kept only when the campaign tracks
# engagement and the recipient consented, whatever the provider reports.
BEHAVIOUR_KINDS: dict[str, str] = {Kind.OPENED: "open", Kind.CLICKED: "click"}


def _behaviour_tracking_allowed(message: OutboundMessage | None, recipient: Recipient | None) -> bool:
    return bool(
        message is not None and message.open_tracking and recipient is not None and recipient.consent_open_tracking
    )


def _recipient_for(message: OutboundMessage | None, address: str) -> Recipient | None:
    """Attribute the event to the message's one To recipient unless it names someone else."""
    if message is not None and (not address or address == normalize_email(message.to_email)):
        return message.recipient
    return Recipient.objects.filter(email=address).first() if address else None


def engagement_event_record(
    *,
    kind: str,
    provider: str,
    occurred_at: datetime,
    message: OutboundMessage | None,
    email: str = "",
    recipient: Recipient | None = None,
    dedup_key: str = "",
    payload: dict | None = None,
    reply_text: str = "",
) -> EngagementEvent | None:
    """Store one event. None when it was already recorded (same dedup key) or must not be
    stored (an open or a click without tracking enabled and consent). Processing is the caller's choice:
    `engagement_event_enqueue` or `engagement_event_process`."""
    email = normalize_email(email) if email else (normalize_email(message.to_email) if message else "")
    if recipient is None:
        recipient = _recipient_for(message, email)
    if kind in BEHAVIOUR_KINDS and not _behaviour_tracking_allowed(message, recipient):
        logger.info(
            "engagement: dropped 1 %s event (message %s): open tracking off or no consent",
            BEHAVIOUR_KINDS[kind],
            message.pk if message else "unknown",
        )
        return None
    if dedup_key and EngagementEvent.objects.filter(provider_event_id=dedup_key).exists():
        logger.info("engagement: duplicate event %s ignored", dedup_key)
        return None
    event = EngagementEvent(
        message=message,
        recipient=recipient,
        kind=kind,
        provider=provider[:50],
        provider_event_id=dedup_key,
        email=email,
        occurred_at=occurred_at,
        payload=payload or {},
        reply_text=reply_text,
    )
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:
        # A redelivery raced past the check above; the unique constraint keeps one row.
        logger.info("engagement: duplicate event %s ignored", dedup_key)
        return None
    if message is None:
        logger.info("engagement: %s event %s for an unknown message recorded", kind, dedup_key or "(no id)")
    return event


def engagement_event_enqueue(event_id: int) -> None:
    """Hand processing to the worker once the row is committed."""

    def enqueue() -> None:
        task_enqueue("outreach.mail.tasks.engagement_event_process", event_id, task_name=f"engagement-{event_id}")

    transaction.on_commit(enqueue)


def _suppression_source(event: EngagementEvent) -> str:
    if event.kind == Kind.UNSUBSCRIBED and event.provider == "unsubscribe link":
        return f"one-click unsubscribe, message #{event.message_id}" if event.message_id else "one-click unsubscribe"
    raw_id = event.provider_event_id.split(":", 1)[-1] if event.provider_event_id else f"#{event.pk}"
    return f"{event.provider} webhook event {raw_id}"


def engagement_event_process(*, event_id: int, provider: Provider | None = None) -> EngagementEvent | None:
    """Apply an event's consequences once: a reply's class first (the model may be asked: no row is
    locked meanwhile), then suppression for hard bounces, complaints and unsubscribes, then
    `engagement_recorded` on commit. Safe to run twice."""
    event = EngagementEvent.objects.filter(pk=event_id).first()
    if event is None or event.processed_at is not None:
        return event
    if event.kind in EngagementEvent.INBOUND_KINDS and not event.reply_class:
        reply_classify(event=event, provider=provider)
    return _engagement_event_apply(event_id=event_id)


@transaction.atomic
def _engagement_event_apply(*, event_id: int) -> EngagementEvent | None:
    # Lock the row: the task and the sweeper may process the same event.
    event = EngagementEvent.objects.select_for_update().filter(pk=event_id).first()
    if event is None or event.processed_at is not None:
        return event
    reason = SUPPRESSING_KINDS.get(event.kind)  # type: ignore[call-overload]
    if reason is not None and event.email:
        try:
            suppression_add(
                kind=Suppression.Kind.ADDRESS, value=event.email, reason=reason, source=_suppression_source(event)
            )
        except ApplicationError as exc:
            logger.warning("engagement: event %s could not suppress %r: %s", event.pk, event.email, exc.message)
    if event.kind in BRAKING_KINDS and event.message is not None:
        # A hard bounce or a complaint may push its sender or domain over the limit.
        brakes_check(message=event.message)
    event.processed_at = timezone.now()
    event.save(update_fields=["processed_at"])
    transaction.on_commit(lambda: engagement_recorded.send(sender=EngagementEvent, event=event))
    return event


def engagement_sweep(*, older_than_seconds: int = 120) -> int:
    """Re-enqueue events whose processing task was lost. Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        EngagementEvent.objects.filter(processed_at__isnull=True, created_at__lt=cutoff).values_list("pk", flat=True)
    )
    for pk in ids:
        engagement_event_enqueue(pk)
    return len(ids)


def tracking_event_receive(*, event, esp_name: str) -> EngagementEvent | None:
    """anymail's `tracking` signal lands here: record the row now (cheap, and the dedup point),
    process it in a task."""
    normalized = tracking_event_normalize(event=event, esp_name=esp_name)
    if normalized is None:
        return None
    message = outbound_message_find(reference=normalized.message_ref, metadata=normalized.metadata)
    recorded = engagement_event_record(
        kind=normalized.kind,
        provider=normalized.provider,
        occurred_at=normalized.occurred_at,
        message=message,
        email=normalized.email,
        dedup_key=normalized.dedup_key,
        payload={**normalized.payload, "message_ref": normalized.message_ref},
    )
    if recorded is not None:
        engagement_event_enqueue(recorded.pk)
    return recorded


# --- Replies ------------------------------------------------------------------------------------

_ON_WROTE = re.compile(r"^\s*On\b.{0,400}\bwrote:\s*$", re.IGNORECASE)
_OTHER_LANG_WROTE = re.compile(
    r"^\s*(Le\b.{0,400}\ba écrit|Am\b.{0,400}\bschrieb|El\b.{0,400}\bescribió|Op\b.{0,400}\bschreef)\s*.{0,80}:\s*$",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(r"^\s*-{2,}\s*(Original Message|Forwarded message)\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_RULE = re.compile(r"^\s*_{10,}\s*$")
_HEADER_LINE = re.compile(r"^\s*\**(From|Sent|Date|To|Subject|Cc)\**\s*:", re.IGNORECASE)


def strip_quoted_reply(text: str) -> str:
    """The new part of a reply: quoted history cut off.

    Stops at "On … wrote:" (also wrapped over two lines, and its French/German/Spanish/Dutch
    forms), Outlook's "-----Original Message-----" or underscore rule, an Outlook header block
    (From:/Sent:/To:/Subject:), and drops lines quoted with ">".
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _ON_WROTE.match(line) or _OTHER_LANG_WROTE.match(line):
            break
        # Gmail wraps a long attribution: "On Tue, … Rita Lane <rita@x>\nwrote:"
        if re.match(r"^\s*On\b", line, re.IGNORECASE) and re.match(r"^.{0,200}\bwrote:\s*$", following):
            break
        if _ORIGINAL_MESSAGE.match(line):
            break
        if _OUTLOOK_RULE.match(line) and _HEADER_LINE.match(following):
            break
        if re.match(r"^\s*\**From\**\s*:", line, re.IGNORECASE) and any(
            re.match(r"^\s*\**(Sent|Date)\**\s*:", candidate, re.IGNORECASE)
            for candidate in lines[index + 1 : index + 4]
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


class _HTMLText(HTMLParser):
    """Visible text of an HTML body, without quoted blocks (blockquote, Gmail's gmail_quote)."""

    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.stack: list[bool] = []

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        quoted = tag == "blockquote" or "gmail_quote" in classes or "moz-cite-prefix" in classes
        if tag not in {"br", "img", "hr", "meta", "input"}:
            self.stack.append(quoted)
            if quoted:
                self.skip_depth += 1
        if tag in self.BLOCKS and not self.skip_depth:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in {"br", "img", "hr", "meta", "input"} or not self.stack:
            return
        if self.stack.pop():
            self.skip_depth -= 1

    def handle_data(self, data):
        if not self.skip_depth:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _HTMLText()
    parser.feed(markup)
    text = html.unescape("".join(parser.parts))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_MSGID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class ReplyFields:
    """What matching and storing a reply needs, read from one email."""

    from_email: str
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    text: str
    occurred_at: datetime | None
    auto_reply: bool


def _body_text(message: Message) -> str:
    plain, markup = "", ""
    parts = message.walk() if message.is_multipart() else [message]
    for part in parts:
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        content_type = part.get_content_type()
        if content_type not in {"text/plain", "text/html"}:
            continue
        raw = part.get_payload(decode=True)
        if not isinstance(raw, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            decoded = raw.decode(charset, errors="replace")
        except LookupError:
            decoded = raw.decode("utf-8", errors="replace")
        if content_type == "text/plain" and not plain:
            plain = decoded
        elif content_type == "text/html" and not markup:
            markup = decoded
    return plain if plain.strip() else html_to_text(markup)


def parse_reply(message: Message) -> ReplyFields:
    """Read an inbound email (stdlib Message or anymail's AnymailInboundMessage). Pure."""
    _, from_addr = email.utils.parseaddr(str(message.get("From", "")))
    date_header = message.get("Date")
    occurred_at = None
    if date_header:
        try:
            occurred_at = email.utils.parsedate_to_datetime(str(date_header))
        except (TypeError, ValueError):
            occurred_at = None
        if occurred_at is not None and timezone.is_naive(occurred_at):
            occurred_at = timezone.make_aware(occurred_at, UTC)
    auto_submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    auto_reply = (
        auto_submitted not in {"", "no"}
        or precedence in {"auto_reply", "bulk", "junk"}
        or "X-Autoreply" in message
        or "X-Autorespond" in message
    )
    message_ids = _MSGID.findall(str(message.get("Message-ID", "")))
    return ReplyFields(
        from_email=normalize_email(from_addr) if from_addr else "",
        message_id=message_ids[0] if message_ids else "",
        in_reply_to=_MSGID.findall(str(message.get("In-Reply-To", ""))),
        references=_MSGID.findall(str(message.get("References", ""))),
        subject=str(message.get("Subject", "")),
        text=strip_quoted_reply(_body_text(message)),
        occurred_at=occurred_at,
        auto_reply=auto_reply,
    )


def reply_match(*, reply: ReplyFields, now: datetime | None = None) -> OutboundMessage | None:
    """The message a reply answers: In-Reply-To first, then References (newest first), each only
    when the reply's sender is a participant of that message (as mailbox sync checks: a stranger
    forging In-Reply-To matches nothing), then the latest message sent to the reply's sender
    within REPLY_MATCH_WINDOW_DAYS."""
    qs = OutboundMessage.objects.select_related("recipient")
    candidates = reply.in_reply_to + list(reversed(reply.references))
    if candidates and reply.from_email:
        by_id = {m.message_id: m for m in qs.filter(message_id__in=candidates)}
        for message_id in candidates:
            found = by_id.get(message_id)
            if found is not None and reply.from_email in found.participants:
                return found
    if reply.from_email:
        since = (now or timezone.now()) - timedelta(days=REPLY_MATCH_WINDOW_DAYS)
        return (
            qs.filter(to_email=reply.from_email, state=OutboundMessage.State.SENT, sent_at__gte=since)
            .order_by("-sent_at")
            .first()
        )
    return None


def reply_receive(
    *, message: Message, provider: str, provider_event_id: str = "", process_now: bool = False
) -> EngagementEvent | None:
    """Record an inbound email as a reply. Dedup by its Message-ID (the same reply may come by
    webhook and IMAP), else by the provider's event id. A reply matching no message is kept only
    when its sender is a known recipient; anything else is dropped with a log line."""
    reply = parse_reply(message)
    outbound = reply_match(reply=reply)
    recipient = None
    if outbound is None:
        recipient = Recipient.objects.filter(email=reply.from_email).first() if reply.from_email else None
        if recipient is None:
            logger.info("engagement: inbound email from %r matched no message or recipient; dropped", reply.from_email)
            return None
    # An out-of-office or other auto-reply is recorded, never counted as a reply (RFC 3834).
    kind = Kind.AUTO_REPLIED if reply.auto_reply else Kind.REPLIED
    if reply.message_id:
        dedup_key = f"{'auto' if reply.auto_reply else 'reply'}:{reply.message_id}"[:255]
    elif provider_event_id:
        dedup_key = f"{provider}:{provider_event_id}"[:255]
    else:
        dedup_key = ""
    event = engagement_event_record(
        kind=kind,
        provider=provider,
        occurred_at=reply.occurred_at or timezone.now(),
        message=outbound,
        email=reply.from_email,
        recipient=recipient,
        dedup_key=dedup_key,
        payload={
            "subject": reply.subject,
            "message_id": reply.message_id,
            "in_reply_to": reply.in_reply_to,
            "auto_reply": reply.auto_reply,
            "matched_by": (
                "none"
                if outbound is None
                else "thread"
                if outbound.message_id in reply.in_reply_to + reply.references
                else "sender"
            ),
        },
        reply_text=reply.text,
    )
    if event is not None:
        if process_now:
            engagement_event_process(event_id=event.pk)
        else:
            engagement_event_enqueue(event.pk)
    return event


def inbound_event_receive(*, event, esp_name: str) -> EngagementEvent | None:
    """anymail's `inbound` signal lands here."""
    if event.message is None:
        return None
    return reply_receive(
        message=event.message, provider=(esp_name or "unknown").lower(), provider_event_id=event.event_id or ""
    )


# --- Unsubscribe --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnsubscribeTarget:
    recipient: Recipient | None
    message: OutboundMessage | None


def unsubscribe_target(*, token: str) -> UnsubscribeTarget:
    """Who a link names; raises ApplicationError for a tampered or unknown token."""
    try:
        recipient_id, message_id = read_unsubscribe_token(token)
    except (signing.BadSignature, ValueError, KeyError, TypeError):
        raise ApplicationError("This unsubscribe link is not valid. It may have been altered or cut short.") from None
    recipient = Recipient.objects.filter(pk=recipient_id).first()
    message = OutboundMessage.objects.filter(pk=message_id).first() if message_id else None
    return UnsubscribeTarget(recipient=recipient, message=message)


@transaction.atomic
def unsubscribe_record(*, token: str) -> UnsubscribeTarget:
    """The one-click unsubscribe (RFC 8058): suppress the address, record the event, once.

    Clicking twice (or a mail client and a person both posting) changes nothing the second time.
    """
    target = unsubscribe_target(token=token)
    recipient = target.recipient
    if recipient is None:
        return target  # the person was deleted: nothing left to suppress
    message_id = target.message.pk if target.message else None
    event = engagement_event_record(
        kind=Kind.UNSUBSCRIBED,
        provider="unsubscribe link",
        occurred_at=timezone.now(),
        message=target.message,
        email=recipient.email,
        recipient=recipient,
        dedup_key=f"unsubscribe:{recipient.pk}:{message_id or '-'}",
    )
    if event is not None:
        engagement_event_process(event_id=event.pk)
    else:
        # Already recorded; still make sure the address is suppressed (an admin may have
        # released it, and this is a fresh request to stop).
        suppression_add(
            kind=Suppression.Kind.ADDRESS,
            value=recipient.email,
            reason=Suppression.Reason.UNSUBSCRIBED,
            source=f"one-click unsubscribe, message #{message_id}" if message_id else "one-click unsubscribe",
        )
    return target


def connect_signals() -> None:
    from anymail.signals import inbound, tracking

    tracking.connect(_on_tracking, dispatch_uid="outreach.tracking")
    inbound.connect(_on_inbound, dispatch_uid="outreach.inbound")


def _on_tracking(sender, event, esp_name, **kwargs) -> None:
    tracking_event_receive(event=event, esp_name=esp_name)


def _on_inbound(sender, event, esp_name, **kwargs) -> None:
    inbound_event_receive(event=event, esp_name=esp_name)
