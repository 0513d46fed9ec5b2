"""Reading each sender's own mailbox: incremental IMAP sync by UID, and what each new email means.

One pass over one mailbox:

    lease the row (two workers never read the same mailbox at once)
    STATUS inbox (UIDNEXT UIDVALIDITY) ── unchanged ──► done: one round trip after the login
        │ UIDVALIDITY changed: every stored UID is void → re-read what arrived since connecting
        ▼
    UID SEARCH from the stored UIDNEXT, then in batches of BATCH UIDs: headers and sizes in one
    FETCH; the body only of an email its headers match to one of ours (bodies over the limit are
    skipped, headers kept): classify, match, record ── the cursor moves past each message once it
    is handled, so a dropped connection resumes where it stopped

Only emails that answer one of the owner's sent emails are stored; the rest of a person's inbox
is never read beyond its headers. Matching: In-Reply-To/References, accepted only when the sender
is a participant of that email (a forged In-Reply-To from anyone else matches nothing), then the
latest email the owner sent to that sender. An RFC 3464 delivery status notification is matched
by the returned Message-ID and failed recipient. Replies, auto-replies and bounces go through the
same engagement path as provider webhooks (dedup by Message-ID, suppression, engagement_recorded →
exit_on_reply and the emitted engagement_signal).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import imaplib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from outreach.core.netguard import DestinationRefused
from outreach.core.normalize import normalize_email
from outreach.mail.imap import LoginError
from outreach.mail.models import EngagementEvent, LocalMailboxMessage, MailboxConnection, OutboundMessage
from outreach.mail.services import mailboxes
from outreach.mail.services.engagement import (
    REPLY_MATCH_WINDOW_DAYS,
    ReplyFields,
    engagement_event_process,
    engagement_event_record,
    parse_reply,
)

logger = logging.getLogger(__name__)

Kind = EngagementEvent.Kind
PROVIDER = "mailbox"
BATCH = 50
# Read through a provider's API (outreach.mail.services.oauth_mailboxes), not IMAP.
API_KINDS = (MailboxConnection.Kind.GOOGLE, MailboxConnection.Kind.MICROSOFT)
SYNCED_KINDS = (
    MailboxConnection.Kind.IMAP_SMTP,
    MailboxConnection.Kind.IMAP_OAUTH,
    MailboxConnection.Kind.LOCAL,
    *API_KINDS,
)

_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|autoreply|auto:|"
    r"away from (the )?office|on vacation|vacation reply|abwesenheit|absence|réponse automatique|"
    r"respuesta automática|fuera de la oficina)",
    re.IGNORECASE,
)
_MSGID = re.compile(r"<[^<>\s]+>")


# --- What one email is ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounce:
    recipient: str
    status: str  # "5.1.1"
    action: str  # failed | delayed | ...
    original_message_id: str
    diagnostic: str

    @property
    def is_hard(self) -> bool:
        return self.status.startswith("5") or (self.action == "failed" and not self.status.startswith("4"))


def is_auto_reply(message: Message, reply: ReplyFields) -> bool:
    """RFC 3834 Auto-Submitted, X-Autoreply/X-Autorespond, Precedence, or a common subject."""
    return reply.auto_reply or bool(_AUTO_SUBJECT.match(reply.subject or ""))


def parse_dsn(message: Message) -> Bounce | None:
    """An RFC 3464 delivery status notification's failed recipient, status and returned Message-ID."""
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "delivery-status":
        return None
    recipient = status = action = diagnostic = original = ""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            for block in _status_blocks(part):
                final = block.get("final-recipient") or block.get("original-recipient") or ""
                if final and not recipient:
                    recipient = final.split(";", 1)[-1].strip()
                    status = block.get("status", "").strip()
                    action = block.get("action", "").strip().lower()
                    diagnostic = block.get("diagnostic-code", "").split(";", 1)[-1].strip()
        elif content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers") and not original:
            original = _returned_message_id(part)
    if not recipient:
        return None
    return Bounce(
        recipient=normalize_email(recipient),
        status=status,
        action=action,
        original_message_id=original,
        diagnostic=diagnostic[:500],
    )


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient fields of a message/delivery-status part."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):  # the stdlib parses each block as a header set
        for sub in payload:
            if isinstance(sub, Message):
                blocks.append({k.lower(): str(v) for k, v in sub.items()})
        return blocks
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    for chunk in re.split(r"\r?\n\s*\r?\n", text):
        fields = {}
        for line in chunk.splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _returned_message_id(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        found = _MSGID.findall(str(payload[0].get("Message-ID", "")))
        return found[0] if found else ""
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    match = re.search(r"^Message-ID:\s*(<[^<>\s]+>)", text, re.IGNORECASE | re.MULTILINE)
    return match.group(1) if match else ""


# --- Which of our emails it is about -------------------------------------------------------------


def mailbox_reply_match(
    *, mailbox: MailboxConnection, reply: ReplyFields, now: datetime, thread_id: str = ""
) -> tuple[OutboundMessage | None, str]:
    """(the owner's email this answers, how it was matched) or (None, why not).

    In-Reply-To/References first (our Message-ID, or the one the provider stored instead), then
    the provider's thread (Gmail threadId), then the latest email sent to the sender; each only
    when the sender is a participant of that email."""
    sent = OutboundMessage.objects.select_related("recipient").filter(sender_id=mailbox.user_id)
    candidates = reply.in_reply_to + list(reversed(reply.references))
    if candidates:
        by_id: dict[str, OutboundMessage] = {}
        for m in sent.filter(Q(message_id__in=candidates) | Q(provider_message_id__in=candidates)):
            by_id[m.message_id] = m
            by_id.setdefault(m.provider_message_id, m)
        for message_id in candidates:
            found = by_id.get(message_id)
            if found is not None and reply.from_email in found.participants:
                return found, "thread"
    if not reply.from_email:
        return None, "no sender address"
    if thread_id:
        in_thread = sent.filter(mailbox_id=mailbox.pk, provider_response__thread_id=thread_id).order_by("-sent_at")
        for found in in_thread[:20]:
            if reply.from_email in found.participants:
                return found, "provider thread"
    since = now - timedelta(days=REPLY_MATCH_WINDOW_DAYS)
    latest = (
        sent.filter(state=OutboundMessage.State.SENT, sent_at__gte=since)
        .filter(Q(to_email=reply.from_email) | Q(cc__contains=[reply.from_email]))
        .order_by("-sent_at")
        .first()
    )
    if latest is not None:
        return latest, "participant"
    return None, "not an answer to any email sent from this mailbox"


def _bounce_match(*, mailbox: MailboxConnection, bounce: Bounce, now: datetime) -> OutboundMessage | None:
    sent = OutboundMessage.objects.select_related("recipient").filter(sender_id=mailbox.user_id)
    if bounce.original_message_id:
        found = sent.filter(message_id=bounce.original_message_id).first()
        if found is not None and bounce.recipient in found.participants:
            return found
    since = now - timedelta(days=REPLY_MATCH_WINDOW_DAYS)
    return (
        sent.filter(state=OutboundMessage.State.SENT, sent_at__gte=since, to_email=bounce.recipient)
        .order_by("-sent_at")
        .first()
    )


# --- Handling one email ---------------------------------------------------------------------------


@dataclass
class Handled:
    outcome: str  # replied | auto_replied | bounced | soft_bounced | duplicate | ignored | failed
    reason: str = ""
    event_id: int | None = None


def inbound_message_receive(
    *,
    mailbox: MailboxConnection,
    raw: bytes,
    uid: int = 0,
    source_key: str = "",
    thread_id: str = "",
    headers_only: bool = False,
    now: datetime | None = None,
) -> Handled:
    """Classify, match and record one email read from the mailbox. Never raises for bad input:
    the outcome says what happened and why. `source_key` names the email where it has no
    Message-ID (IMAP: the folder's UIDVALIDITY and UID; Gmail: its message id)."""
    now = now or timezone.now()
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    reply = parse_reply(message)
    fallback_key = source_key or f"{PROVIDER}:{mailbox.pk}:{mailbox.sync_uidvalidity}:{uid}"
    bounce = parse_dsn(message)
    if bounce is not None:
        outbound = _bounce_match(mailbox=mailbox, bounce=bounce, now=now)
        if outbound is None:
            return Handled("ignored", f"a delivery report for {bounce.recipient}, who got no email from this mailbox")
        kind = Kind.BOUNCED if bounce.is_hard else Kind.SOFT_BOUNCED
        dedup = f"dsn:{reply.message_id}" if reply.message_id else fallback_key
        return _record(
            mailbox,
            kind=kind,
            outbound=outbound,
            email_address=bounce.recipient,
            dedup_key=dedup,
            occurred_at=reply.occurred_at or now,
            payload={
                "status": bounce.status,
                "action": bounce.action,
                "description": bounce.diagnostic,
                "message_id": reply.message_id,
                "matched_by": "returned message-id"
                if bounce.original_message_id == outbound.message_id
                else "recipient",
            },
        )
    outbound, matched_by = mailbox_reply_match(mailbox=mailbox, reply=reply, now=now, thread_id=thread_id)
    if outbound is None:
        return Handled("ignored", matched_by)
    auto = is_auto_reply(message, reply)
    kind = Kind.AUTO_REPLIED if auto else Kind.REPLIED
    # The same key as replies arriving by webhook or the global IMAP poller: one reply, one row.
    dedup = (f"auto:{reply.message_id}" if auto else f"reply:{reply.message_id}") if reply.message_id else fallback_key
    payload = {
        "subject": reply.subject,
        "message_id": reply.message_id,
        "in_reply_to": reply.in_reply_to,
        "auto_reply": auto,
        "matched_by": matched_by,
        "mailbox_id": mailbox.pk,
    }
    if headers_only:
        payload["body_skipped"] = f"larger than {settings.MAILBOX_MAX_BODY_BYTES} bytes"
    return _record(
        mailbox,
        kind=kind,
        outbound=outbound,
        email_address=reply.from_email,
        dedup_key=dedup[:255],
        occurred_at=reply.occurred_at or now,
        payload=payload,
        reply_text="" if headers_only else reply.text,
    )


def _record(
    mailbox: MailboxConnection,
    *,
    kind: str,
    outbound: OutboundMessage,
    email_address: str,
    dedup_key: str,
    occurred_at: datetime,
    payload: dict,
    reply_text: str = "",
) -> Handled:
    with transaction.atomic():
        event = engagement_event_record(
            kind=kind,
            provider=PROVIDER,
            occurred_at=occurred_at,
            message=outbound,
            email=email_address,
            dedup_key=dedup_key,
            payload=payload,
            reply_text=reply_text,
        )
        if event is None:
            return Handled("duplicate", f"already recorded ({dedup_key})")
        MailboxConnection.objects.filter(pk=mailbox.pk).update(messages_matched=F("messages_matched") + 1)
    # Outside the recording transaction: classifying a reply may ask the model, and no row should
    # stay locked meanwhile. A crash here leaves the row unprocessed for the engagement sweeper.
    engagement_event_process(event_id=event.pk)
    return Handled(kind, f"matched message #{outbound.pk}", event.pk)


# --- One pass over one mailbox ------------------------------------------------------------------


@dataclass
class SyncResult:
    mailbox_id: int
    changed: bool = False
    read: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    error: str = ""
    skipped: str = ""
    # The IMAP connection failed mid-pass (a kept-open one must be opened again).
    connection_lost: bool = False

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def _lease(mailbox_id: int, now: datetime) -> bool:
    until = now + timedelta(seconds=settings.MAILBOX_IMAP_TIMEOUT * 4)
    return bool(
        MailboxConnection.objects.filter(
            Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now),
            pk=mailbox_id,
            state=MailboxConnection.State.CONNECTED,
            kind__in=SYNCED_KINDS,
        ).update(sync_lease_until=until)
    )


def _save_cursor(mailbox: MailboxConnection, **fields) -> None:
    for name, value in fields.items():
        setattr(mailbox, name, value)
    MailboxConnection.objects.filter(pk=mailbox.pk).update(**fields)


def mailbox_sync(*, mailbox_id: int, client=None) -> SyncResult:
    """Read what arrived in one mailbox since the last pass. Safe to run twice or concurrently.

    `client`: an IMAP connection already logged in to this mailbox and kept open by the caller (the
    IDLE loop): the pass uses it and leaves it open, with no mailbox selected or one selected
    read-only; otherwise a connection is opened and closed for the pass."""
    now = timezone.now()
    result = SyncResult(mailbox_id=mailbox_id)
    if not _lease(mailbox_id, now):
        result.skipped = "not connected, or another worker is reading it"
        return result
    mailbox = MailboxConnection.objects.get(pk=mailbox_id)
    if mailbox.kind in API_KINDS:
        from outreach.mail.services import oauth_mailboxes

        leave_until = None
        try:
            leave_until = oauth_mailboxes.oauth_mailbox_sync(mailbox=mailbox, result=result, now=now)
        finally:
            # A long Retry-After keeps the lease until then: no pass asks again before.
            _save_cursor(
                mailbox,
                sync_lease_until=leave_until,
                last_synced_at=timezone.now() if not result.error else mailbox.last_synced_at,
                last_sync_error=result.error[:500],
            )
        return result
    if mailbox.kind == MailboxConnection.Kind.LOCAL:
        try:
            _sync_local(mailbox, result, now)
        finally:
            _save_cursor(
                mailbox, sync_lease_until=None, last_synced_at=timezone.now(), last_sync_error=result.error[:500]
            )
        return result
    own_client = client is None
    try:
        if own_client:
            client = mailboxes.mailbox_imap(mailbox)
    except LoginError:
        mailboxes.mailbox_mark_broken(
            mailbox_id=mailbox.pk,
            state=MailboxConnection.State.NEEDS_REAUTH,
            reason=mailboxes.login_refused_reason(mailbox),
        )
        result.error = "login refused"
        _save_cursor(mailbox, sync_lease_until=None, last_sync_error=result.error)
        return result
    except (OSError, imaplib.IMAP4.error, DestinationRefused) as exc:
        result.error = f"could not connect: {exc}"
        _save_cursor(mailbox, sync_lease_until=None, last_sync_error=result.error[:500])
        return result
    try:
        _sync_folder(client, mailbox, result, now)
    except (TimeoutError, OSError, imaplib.IMAP4.error) as exc:
        # A dropped connection: the cursor already moved past what was handled; resume next time.
        result.error = f"connection lost: {type(exc).__name__}: {exc}"
        result.connection_lost = True
        logger.warning("mailbox %s: sync stopped: %s", mailbox.pk, result.error)
    finally:
        if own_client:
            mailboxes.imap_close(client)
        _save_cursor(
            mailbox,
            sync_lease_until=None,
            last_synced_at=timezone.now() if not result.error else mailbox.last_synced_at,
            last_sync_error=result.error[:500],
        )
    return result


def _sync_folder(client, mailbox: MailboxConnection, result: SyncResult, now: datetime) -> None:
    folder = mailbox.inbox_folder
    status = client.folder_status(folder, [b"UIDNEXT", b"UIDVALIDITY"])
    uidvalidity, uidnext = int(status[b"UIDVALIDITY"]), int(status[b"UIDNEXT"])
    if uidvalidity == mailbox.sync_uidvalidity and uidnext == mailbox.sync_uidnext:
        return  # nothing new: one round trip
    result.changed = True
    client.select_folder(folder, readonly=True)
    if uidvalidity != mailbox.sync_uidvalidity:
        # Every stored UID is void. Re-read what arrived since connecting (bounded); replies already
        # recorded are recognised by their Message-ID.
        since = max(mailbox.connected_at, now - timedelta(days=settings.MAILBOX_RESYNC_DAYS))
        logger.info(
            "mailbox %s: UIDVALIDITY changed (%s -> %s); re-reading since %s",
            mailbox.pk,
            mailbox.sync_uidvalidity,
            uidvalidity,
            since.date(),
        )
        uids = sorted(client.search(["SINCE", since.date()]))
        _save_cursor(mailbox, sync_uidvalidity=uidvalidity, sync_uidnext=1)
    else:
        start = mailbox.sync_uidnext or 1
        # "n:*" answers the last message even when it is below n: keep only the new ones.
        uids = [uid for uid in sorted(client.search(["UID", f"{start}:*"])) if uid >= start]
    for offset in range(0, len(uids), BATCH):
        _read_batch(client, mailbox, uids[offset : offset + BATCH], result, now)
    _save_cursor(mailbox, sync_uidnext=max(uidnext, mailbox.sync_uidnext or 1))


def worth_reading(*, mailbox: MailboxConnection, header: bytes, now: datetime) -> tuple[bool, str]:
    """From an email's headers alone: could it be about one of the owner's emails (a delivery
    report, or an answer matched as inbound_message_receive matches it)? (yes/no, why not)."""
    message = email.message_from_bytes(header, policy=email.policy.compat32)
    if message.get_content_type() == "multipart/report":
        return True, ""
    outbound, why = mailbox_reply_match(mailbox=mailbox, reply=parse_reply(message), now=now)
    return outbound is not None, why


def _read_batch(client, mailbox: MailboxConnection, uids: list[int], result: SyncResult, now: datetime) -> None:
    """Headers and sizes first, in one FETCH; the body only of an email that may be about one of
    ours and is within MAILBOX_MAX_BODY_BYTES. The rest of the inbox is never read further."""
    meta = client.fetch(uids, ["RFC822.SIZE", "BODY.PEEK[HEADER]"])
    verdicts: dict[int, tuple[bool, str]] = {}
    for uid in uids:
        header = (meta.get(uid) or {}).get(b"BODY[HEADER]")
        if header is not None:
            verdicts[uid] = worth_reading(mailbox=mailbox, header=header, now=now)
    wanted = [uid for uid in uids if verdicts.get(uid, (False, ""))[0]]
    small = [uid for uid in wanted if int(meta[uid].get(b"RFC822.SIZE", 0)) <= settings.MAILBOX_MAX_BODY_BYTES]
    bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
    for uid in uids:
        result.read += 1
        header = (meta.get(uid) or {}).get(b"BODY[HEADER]")
        headers_only = uid in wanted and uid not in small
        raw = header if headers_only else (bodies.get(uid) or {}).get(b"BODY[]")
        if header is None or (uid in wanted and raw is None):
            handled = Handled("failed", "the server returned no content")
        elif uid not in wanted or raw is None:
            handled = Handled("ignored", verdicts[uid][1])
        else:
            try:
                handled = inbound_message_receive(mailbox=mailbox, raw=raw, uid=uid, headers_only=headers_only, now=now)
            except (imaplib.IMAP4.abort, OSError):
                raise  # the connection, not the email: stop here and resume next time
            except Exception as exc:  # one bad email never stops the rest
                logger.exception("mailbox %s: UID %s could not be handled", mailbox.pk, uid)
                handled = Handled("failed", f"{type(exc).__name__}: {exc}")
        result.count(handled.outcome)
        if handled.outcome in ("failed", "ignored", "duplicate") or headers_only:
            logger.info(
                "mailbox %s: UID %s %s: %s%s",
                mailbox.pk,
                uid,
                handled.outcome,
                handled.reason,
                " (body over the limit, headers read)" if headers_only else "",
            )
        _save_cursor(mailbox, sync_uidnext=uid + 1)


def _sync_local(mailbox: MailboxConnection, result: SyncResult, now: datetime) -> None:
    """The demo's local mailbox as an inbox: the stored emails addressed to the mailbox, read by id
    from the cursor on, each handled exactly as an email read over IMAP."""
    start = mailbox.sync_uidnext or 1
    rows = list(
        LocalMailboxMessage.objects.filter(pk__gte=start).order_by("pk").only("pk", "to", "cc", "raw")[: BATCH * 10]
    )
    if not rows:
        return
    result.changed = True
    address = mailbox.email_address.lower()
    for row in rows:
        if address in {a.lower() for a in [*row.to, *row.cc]}:
            result.read += 1
            try:
                handled = inbound_message_receive(mailbox=mailbox, raw=row.raw.encode(), uid=row.pk, now=now)
            except Exception as exc:
                logger.exception("mailbox %s: local email %s could not be handled", mailbox.pk, row.pk)
                handled = Handled("failed", f"{type(exc).__name__}: {exc}")
            result.count(handled.outcome)
            if handled.outcome in ("failed", "ignored", "duplicate"):
                logger.info("mailbox %s: local email %s %s: %s", mailbox.pk, row.pk, handled.outcome, handled.reason)
        _save_cursor(mailbox, sync_uidnext=row.pk + 1)


def mailboxes_due(*, now: datetime | None = None, limit: int = 2000) -> list[int]:
    """Every connected mailbox whose last pass is older than half of MAILBOX_SYNC_INTERVAL_SECONDS,
    the longest unread first.

    Half, not the whole interval: the schedule ticks once per interval, so a mailbox read anywhere
    in the previous tick's pass is due at this one as long as that pass took less than half the
    interval (with 0.8 a pass over 12 s at the default 60 s left its tail for the tick after)."""
    now = now or timezone.now()
    due_before = now - timedelta(seconds=settings.MAILBOX_SYNC_INTERVAL_SECONDS * 0.5)
    return list(
        MailboxConnection.objects.filter(state=MailboxConnection.State.CONNECTED, kind__in=SYNCED_KINDS)
        .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=due_before))
        .order_by(F("last_synced_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:limit]
    )


def mailboxes_sync(*, mailbox_ids: list[int]) -> list[SyncResult]:
    return [mailbox_sync(mailbox_id=pk) for pk in mailbox_ids]


def mailboxes_sync_due(*, now: datetime | None = None, limit: int = 2000) -> list[SyncResult]:
    """Read every due mailbox here, one after the other (`manage.py sync_mailboxes`)."""
    return mailboxes_sync(mailbox_ids=mailboxes_due(now=now, limit=limit))


# Mailboxes per task when the schedule spreads a pass over the workers.
SPREAD_BATCH = 20


def mailboxes_sync_due_spread(*, now: datetime | None = None) -> tuple[int, list[SyncResult]]:
    """What the schedule runs: the due mailboxes in batches of SPREAD_BATCH, every batch but the
    first handed to the workers (one task each), the first read here. Returns (batches handed
    out, the first batch's results).

    One task looping over every mailbox kept one worker busy and the others idle: a pass over 200
    mailboxes took 200 logins end to end. Batches rather than a task per mailbox: a few tasks a
    minute instead of hundreds (each task is a broker row and a stored result). A batch whose task
    is lost is due again at the next tick; two tasks never read one mailbox at once (the lease)."""
    from outreach.core.tasks import task_enqueue

    ids = mailboxes_due(now=now)
    batches = [ids[i : i + SPREAD_BATCH] for i in range(0, len(ids), SPREAD_BATCH)]
    if not batches:
        return 0, []
    handed = 0
    for batch in batches[1:]:
        # save=False: a batch's success is not kept in the task history (failures are), or a few
        # hours of these would push every other task's result out of it (Q_CLUSTER save_limit).
        if task_enqueue("outreach.mail.tasks.mailboxes_sync", batch, save=False) is not None:
            handed += 1
        else:  # the broker is down: read them here rather than wait a tick
            batches[0] += batch
    return handed, mailboxes_sync(mailbox_ids=batches[0])
