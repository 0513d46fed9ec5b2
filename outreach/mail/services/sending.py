"""Sending the outbox: claim a row, check it once more, hand it to the provider once, record the outcome.

The row is the truth; tasks only nudge it. The path of one message:

    queued ──claim (conditional UPDATE, FOR UPDATE SKIP LOCKED on PostgreSQL)──► sending ─► sent
       ▲          │ checks inside the claiming transaction:                       │      failed
       │          │ content hash, address, suppression, duplicate → failed|skipped │
       │          │ send window, daily limit → back to queued with not_before       │
       │          │ sending paused (a hold) → held, until a person releases it     │
       └──────────┴── transient provider error: queued again with backoff ◄────────┘
    sending + expired lease ──recovery──► queued again (provider honours the idempotency key)
                                          or unknown (a person decides; never resent blindly)

No lock is held while the provider is called: the claim commits first, the outcome is written in a
second short transaction.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr, parseaddr
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.html import escape

from outreach.core.errors import ApplicationError
from outreach.mail.imap import LoginError
from outreach.mail.models import MailboxConnection, OutboundMessage, OutboundMessageLog, SenderConfig, SendingPause
from outreach.mail.ramp_up import ramp_limit
from outreach.mail.send_properties import set_properties_render
from outreach.mail.send_window import send_window_next_open
from outreach.mail.services import mailboxes, own_tracking
from outreach.mail.services.outbox import content_hash, outbound_message_enqueue
from outreach.mail.signals import outbound_message_finished
from outreach.mail.unsubscribe import unsubscribe_url
from outreach.people.models import Recipient, SenderProfile
from outreach.suppression.selectors import suppression_check, suppression_check_bulk

logger = logging.getLogger(__name__)

State = OutboundMessage.State
Code = OutboundMessage.Code
FINAL_STATES = (State.SENT, State.FAILED, State.SKIPPED, State.UNKNOWN)

# A team member's own SMTP server: a host they typed, so checked and pinned at each connection.
OWN_SMTP_BACKEND = mailboxes.OWN_SMTP_BACKEND
ANYMAIL_RESEND_BACKEND = "anymail.backends.resend.EmailBackend"
RESEND_BACKEND = "outreach.mail.backends.ResendEmailBackend"
# Providers that deduplicate a repeated request carrying the same idempotency key, and for how
# long. Only these may be retried after a worker died mid-send.
IDEMPOTENT_BACKENDS = {RESEND_BACKEND: timedelta(hours=24)}
# The sweeper leaves a queued row alone this long: its task is probably on its way.
SWEEP_GRACE = timedelta(minutes=1)


# --- Channels --------------------------------------------------------------------------------


def backend_path(config: SenderConfig | None) -> str:
    """The Django email backend a message goes through."""
    if config is not None and config.is_active and config.kind == SenderConfig.Kind.SMTP:
        return OWN_SMTP_BACKEND
    path = settings.EMAIL_BACKEND
    # Our subclass of anymail's Resend backend passes the Idempotency-Key header.
    return RESEND_BACKEND if path == ANYMAIL_RESEND_BACKEND else path


def provider_honours_idempotency(path: str) -> bool:
    return path in IDEMPOTENT_BACKENDS


def _connection(config: SenderConfig | None):
    path = backend_path(config)
    if path == OWN_SMTP_BACKEND and config is not None:
        return mailboxes.own_smtp_connection(
            host=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username,
            password=config.get_smtp_password(),
            use_tls=config.smtp_use_tls,
            use_ssl=config.smtp_use_ssl,
        )
    return get_connection(path, fail_silently=False)


def sends_without_provider(message: OutboundMessage) -> bool:
    """The email leaves through the sender's own mailbox or SMTP server: no provider tracks it."""
    return message.mailbox_id is not None or backend_path(message.sender_config) == OWN_SMTP_BACKEND


def channel_name(message: OutboundMessage) -> str:
    """What the message records as the channel it went through."""
    if message.mailbox_id is not None:
        return f"mailbox:{message.mailbox_id}"
    return backend_path(message.sender_config)


# --- State changes, each one logged ------------------------------------------------------------


def _move(
    message: OutboundMessage,
    *,
    from_states: tuple[str, ...],
    to_state: str,
    note: str = "",
    actor=None,
    **fields,
) -> bool:
    """Conditionally move a row between states (the WHERE clause is the guard) and log it.

    Must run inside a transaction. Returns False when the row was no longer in from_states.
    """
    now = timezone.now()
    fields["updated_at"] = now
    updated = OutboundMessage.objects.filter(pk=message.pk, state__in=from_states).update(state=to_state, **fields)
    if not updated:
        return False
    previous = message.state
    message.refresh_from_db(fields=["state", *fields.keys()])
    OutboundMessageLog.objects.create(
        message=message,
        from_state=previous,
        to_state=to_state,
        code=message.code,
        note=note,
        actor=actor,
        created_at=now,
    )
    logger.info(
        "outbound message %s: %s -> %s %s %s",
        message.pk,
        previous,
        to_state,
        message.code,
        note or message.error_message,
    )
    if to_state in FINAL_STATES:
        transaction.on_commit(lambda: outbound_message_finished.send(sender=OutboundMessage, message=message))
    return True


# --- The checks made when the row is claimed ---------------------------------------------------


def _invalid_address(message: OutboundMessage) -> str | None:
    for address in [message.to_email, *message.cc, *message.bcc]:
        try:
            validate_email(address)
        except ValidationError:
            return f"{address!r} is not a valid email address"
    return None


def _duplicate_of(message: OutboundMessage, now: datetime) -> OutboundMessage | None:
    """The same recipient already got this content, or a message for the same campaign step,
    within DUPLICATE_WINDOW_DAYS (rows that may have gone out, sending or unknown, count too)."""
    since = now - timedelta(days=settings.DUPLICATE_WINDOW_DAYS)
    same = Q(content_hash=message.content_hash)
    if message.step_ref is not None:
        same |= Q(step_ref=message.step_ref, campaign_ref=message.campaign_ref)
    return (
        OutboundMessage.objects.filter(recipient_id=message.recipient_id)
        .exclude(pk=message.pk)
        .filter(same)
        .filter(
            Q(state=State.SENT, sent_at__gte=since) | Q(state__in=[State.SENDING, State.UNKNOWN], updated_at__gte=since)
        )
        .order_by("-created_at")
        .first()
    )


def _daily_limit_deferral(message: OutboundMessage, now: datetime) -> datetime | None:
    """When the sender may send again if their daily limit is used up; None when there is room.

    Locks the sender's profile row so two workers cannot both take the last slot; rows in
    "sending" count as used, so the count holds after this transaction commits.
    """
    profile = SenderProfile.objects.select_for_update().filter(user_id=message.sender_id).first()
    if profile is None:
        return None
    since = now - timedelta(hours=24)
    used = (
        OutboundMessage.objects.filter(sender_id=message.sender_id)
        .exclude(pk=message.pk)
        .filter(
            Q(state=State.SENT, sent_at__gte=since) | Q(state__in=[State.SENDING, State.UNKNOWN], updated_at__gte=since)
        )
    )
    limit = ramp_limit(full_limit=profile.daily_send_limit, started=profile.ramp_up_from, today=now.date())
    if used.count() < limit:
        return None
    oldest = used.filter(state=State.SENT).order_by("sent_at").values_list("sent_at", flat=True).first()
    # A slot frees 24 hours after the oldest send in the window.
    return (oldest + timedelta(hours=24, seconds=1)) if oldest else now + timedelta(hours=1)


def _ramping_up(message: OutboundMessage, now: datetime) -> bool:
    profile = SenderProfile.objects.filter(user_id=message.sender_id).only("daily_send_limit", "ramp_up_from").first()
    return bool(
        profile
        and profile.ramp_up_from
        and ramp_limit(full_limit=profile.daily_send_limit, started=profile.ramp_up_from, today=now.date())
        < profile.daily_send_limit
    )


def _claim(message_id: int) -> tuple[OutboundMessage | None, bool]:
    """Claim a due queued row and run the checks, in one short transaction.

    Returns (message, go): go is True when the row is now "sending" and should be handed to the
    provider; otherwise the message (if any) already ended or waits again.
    """
    now = timezone.now()
    with transaction.atomic():
        # Lock the row: two workers may claim the same message. SKIP LOCKED lets the other one
        # move on at once (PostgreSQL); SQLite ignores it and the conditional UPDATE below is the
        # guard there (its IMMEDIATE transactions also serialize writers).
        message = (
            OutboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient", "sender_config", "mailbox")
            .filter(pk=message_id, state=State.QUEUED)
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .first()
        )
        if message is None:
            return None, False
        lease = now + timedelta(seconds=settings.SEND_LEASE_SECONDS)
        claimed = _move(
            message,
            from_states=(State.QUEUED,),
            to_state=State.SENDING,
            note=f"claimed, attempt {message.attempts + 1}",
            lease_expires_at=lease,
            attempts=F("attempts") + 1,
        )
        if not claimed:
            return None, False

        def end(state: str, code: str, error: str) -> tuple[OutboundMessage, bool]:
            _move(
                message,
                from_states=(State.SENDING,),
                to_state=state,
                code=code,
                error_message=error,
                lease_expires_at=None,
                attempts=F("attempts") - 1,  # no provider call was made
            )
            return message, False

        def wait(until: datetime, code: str, error: str, note: str) -> tuple[OutboundMessage, bool]:
            _move(
                message,
                from_states=(State.SENDING,),
                to_state=State.QUEUED,
                note=note,
                code=code,
                error_message=error,
                not_before=until,
                lease_expires_at=None,
                attempts=F("attempts") - 1,
            )
            return message, False

        expected = content_hash(subject=message.subject, body_html=message.body_html, body_text=message.body_text)
        if expected != message.content_hash:
            return end(State.FAILED, Code.CONTENT_CHANGED, "The subject or body no longer matches the approved text.")
        invalid = _invalid_address(message)
        if invalid:
            return end(State.FAILED, Code.INVALID_ADDRESS, invalid)
        # The rules the email was approved under: the global lists and the ones copied at approval.
        hit = suppression_check(recipient=message.recipient, list_ids=message.suppression_list_ids)
        if hit is not None:
            code = Code.OPTED_OUT if hit.reason == "unsubscribed" else Code.SUPPRESSED
            return end(State.SKIPPED, code, f"Suppressed at send time: {hit.describe()}")
        _drop_suppressed_copies(message, now)
        duplicate = _duplicate_of(message, now)
        if duplicate is not None:
            return end(
                State.SKIPPED,
                Code.DUPLICATE_EMAIL,
                f"Message #{duplicate.pk} ({duplicate.state}) already carries the same content or campaign step "
                f"to {message.to_email} within {settings.DUPLICATE_WINDOW_DAYS} days.",
            )
        held = hold_reason(message)
        if held is not None:
            _move(
                message,
                from_states=(State.SENDING,),
                to_state=State.HELD,
                note="held at claim",
                code=held[0],
                error_message=held[1],
                not_before=None,
                lease_expires_at=None,
                attempts=F("attempts") - 1,
            )
            return message, False
        # The sender's own mailbox, when one is connected: a broken one holds the email for it.
        mailbox = message.mailbox
        if mailbox is None or mailbox.state not in MailboxConnection.IN_USE_STATES:
            mailbox = mailboxes.mailbox_for_sending(user_id=message.sender_id)
        if mailbox is not None and not mailbox.is_usable:
            _move(
                message,
                from_states=(State.SENDING,),
                to_state=State.HELD,
                note=f"held for {mailbox.email_address} ({mailbox.state})",
                code=Code.MAILBOX_DISCONNECTED,
                error_message=mailboxes.hold_reason(mailbox),
                not_before=None,
                lease_expires_at=None,
                attempts=F("attempts") - 1,
            )
            return message, False
        if mailbox is not None and message.mailbox_id != mailbox.pk:
            message.mailbox = mailbox
            message.save(update_fields=["mailbox"])
        opens = send_window_next_open(window=message.send_window, time_zone=message.recipient.time_zone, now=now)
        if opens is not None:
            return wait(opens, message.code, message.error_message, "outside the campaign's send window")
        # Defer rather than skip: the approved email still goes out, when the sender has room.
        room_at = _daily_limit_deferral(message, now)
        if room_at is not None:
            return wait(
                room_at,
                Code.DAILY_LIMIT,
                f"The sender's daily limit{' (ramping up)' if _ramping_up(message, now) else ''} is reached; "
                f"deferred to {room_at:%Y-%m-%d %H:%M} UTC.",
                "daily limit reached",
            )
        # Our own pixel and click redirect where no provider tracks (the sender's own mailbox or
        # SMTP server), decided with the row locked and recorded on it.
        own_tracking.tracking_record_decision(message=message, own_channel=sends_without_provider(message))
    return message, True


# --- Holds: approved emails kept back until a person releases them ----------------------------
#
# One mechanism for every reason a sender cannot send for now: sending paused by the automatic
# brakes (code `sender_paused`); another reason (a disconnected mailbox) is another code and
# another line in `hold_reason`. A held row keeps its approved text, the sweeper leaves it alone,
# and releasing it puts it back in the queue; the claim asks `hold_reason` again, so a reason that
# still holds holds it again. Nothing is dropped.


def sender_domain(address: str) -> str:
    """The domain of a From address ("Rita <rita@team.example>" -> "team.example")."""
    email_address = parseaddr(address)[1] or address
    return email_address.rsplit("@", 1)[-1].strip().lower() if "@" in email_address else ""


def messages_from_domain(domain: str) -> Q:
    """Outbox rows whose From address is on this domain (with or without a display name)."""
    return Q(from_email__iendswith=f"@{domain}>") | Q(from_email__iendswith=f"@{domain}")


def hold_reason(message: OutboundMessage) -> tuple[str, str] | None:
    """Why this message may not go out now, as (code, reason); None when nothing holds it."""
    domain = sender_domain(message.from_email)
    pause = (
        SendingPause.objects.filter(resumed_at__isnull=True)
        .filter(
            Q(scope=SendingPause.Scope.SENDER, sender_id=message.sender_id)
            | Q(scope=SendingPause.Scope.DOMAIN, domain=domain)
        )
        .order_by("created_at")
        .first()
    )
    if pause is not None:
        return Code.SENDER_PAUSED, pause.reason
    return None


def outbound_messages_hold(*, messages: QuerySet[OutboundMessage], code: str, reason: str) -> int:
    """Hold these queued emails (each move logged). Must run inside a transaction. Returns how many."""
    held = 0
    for message in messages.select_for_update(skip_locked=True, of=("self",)).filter(state=State.QUEUED):
        held += _move(
            message,
            from_states=(State.QUEUED,),
            to_state=State.HELD,
            note="held",
            code=code,
            error_message=reason,
            not_before=None,
        )
    return held


def outbound_messages_release(*, messages: QuerySet[OutboundMessage], code: str, actor, note: str) -> int:
    """Put emails held for this code back in the queue and nudge the workers after commit. Must run
    inside a transaction. Returns how many."""
    released: list[int] = []
    for message in messages.select_for_update(of=("self",)).filter(state=State.HELD, code=code).order_by("pk"):
        if _move(
            message,
            from_states=(State.HELD,),
            to_state=State.QUEUED,
            note=note,
            actor=actor,
            code="",
            error_message="",
            not_before=None,
        ):
            released.append(message.pk)
    for pk in released:
        transaction.on_commit(partial(outbound_message_enqueue, pk))
    return len(released)


@dataclass(frozen=True)
class _CopyAddress:
    """A CC or BCC address as the suppression check reads a person."""

    pk: int
    email: str
    country: str = ""
    consent_recorded_at: datetime | None = None


def _drop_suppressed_copies(message: OutboundMessage, now: datetime) -> None:
    """A suppressed CC or BCC address is dropped (the email still goes to its recipient), with a
    note in the message's log saying which and why."""
    copies = [("cc", a) for a in message.cc or []] + [("bcc", a) for a in message.bcc or []]
    if not copies:
        return
    people = [_CopyAddress(pk=-(i + 1), email=address) for i, (_, address) in enumerate(copies)]
    hits = suppression_check_bulk(recipients=people, list_ids=message.suppression_list_ids)
    if not hits:
        return
    dropped = [(field, address, hits[p.pk]) for (field, address), p in zip(copies, people, strict=True) if p.pk in hits]
    gone = {(field, address) for field, address, _ in dropped}
    message.cc = [a for a in message.cc if ("cc", a) not in gone]
    message.bcc = [a for a in message.bcc if ("bcc", a) not in gone]
    OutboundMessage.objects.filter(pk=message.pk).update(cc=message.cc, bcc=message.bcc)
    note = "; ".join(f"{field.upper()} {address} dropped: {hit.describe()}" for field, address, hit in dropped)
    OutboundMessageLog.objects.create(
        message=message, from_state=message.state, to_state=message.state, code="", note=note, created_at=now
    )
    logger.info("outbound message %s: %s", message.pk, note)


# --- Building and sending the email ------------------------------------------------------------


def _footer(message: OutboundMessage) -> tuple[str, str]:
    url = unsubscribe_url(recipient_id=message.recipient_id, message_id=message.pk)
    address = settings.COMPANY_POSTAL_ADDRESS
    text = f"\n\n--\nUnsubscribe: {url}\n{address}\n"
    html = (
        '<hr style="border:none;border-top:1px solid #ddd;margin:24px 0 8px">'
        '<p style="font-size:12px;color:#666">'
        f'<a href="{escape(url)}">Unsubscribe</a> from these emails.<br>{escape(address)}</p>'
    )
    return text, html


def html_document(*, subject: str, body_html: str) -> str:
    """A complete HTML document around an approved body (mail clients and filters expect one)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(subject)}</title>\n</head>\n<body>\n{body_html}\n</body>\n</html>\n"
    )


def list_id(message: OutboundMessage) -> str:
    """RFC 2919 List-Id naming the sending organization's outreach on the sender's domain: with the
    one-click List-Unsubscribe it makes the list headers complete (SpamAssassin scores a
    List-Unsubscribe without a List-Id on a short email as LIST_PARTIAL_SHORT_MSG)."""
    domain = sender_domain(message.from_email) or "localhost"
    return f"<outreach.{domain}>"


def _preheader(preview_text: str) -> str:
    """The preview text as the HTML part's hidden preheader: inboxes show it after the subject."""
    if not preview_text.strip():
        return ""
    return (
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all" aria-hidden="true">'
        f"{escape(preview_text.strip())}</div>"
    )


def build_email(message: OutboundMessage, *, connection=None) -> EmailMultiAlternatives:
    """The email exactly as approved, plus the unsubscribe footer and headers: a text part and, when
    there is an HTML body, the same words as a complete HTML document. Headers are built by
    Django's email classes, never by string concatenation. A message tracked by us
    (`message.tracking == "own"`, see own_tracking) has its recorded links wrapped and the open
    pixel in the HTML part only; the text part is never changed."""
    url = unsubscribe_url(recipient_id=message.recipient_id, message_id=message.pk)
    footer_text, footer_html = _footer(message)
    headers = {
        "Message-ID": message.message_id,
        "List-Id": list_id(message),
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
        headers["References"] = message.references or message.in_reply_to
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text + footer_text,
        from_email=message.from_email,
        to=[message.to_email],
        cc=list(message.cc),
        bcc=list(message.bcc),
        reply_to=[message.reply_to] if message.reply_to else None,
        headers=headers,
        connection=connection,
    )
    if message.body_html:
        email.attach_alternative(
            html_document(
                subject=message.subject,
                body_html=_preheader(message.preview_text)
                + own_tracking.tracked_html(message=message, body_html=message.body_html)
                + footer_html
                + own_tracking.tracking_pixel_html(message=message),
            ),
            "text/html",
        )
    # Read by outreach.mail.backends.ResendEmailBackend (the Idempotency-Key header).
    email.idempotency_key = message.idempotency_key  # type: ignore[attr-defined]
    return email


class SendFailure(Exception):
    def __init__(
        self,
        text: str,
        *,
        transient: bool,
        response: dict | None = None,
        mailbox_refused_login: bool = False,
        mailbox_reason: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(text)
        self.text = text
        self.transient = transient
        self.response = response or {}
        # The sender's own mailbox refused our login: the email waits for it to be reconnected.
        self.mailbox_refused_login = mailbox_refused_login
        self.mailbox_reason = mailbox_reason or "The server refused the saved password; enter it again."
        # The provider asked us to wait this long (429 Retry-After) before the next attempt.
        self.retry_after = retry_after


def _classify(exc: Exception) -> SendFailure:
    """Transient (retry with backoff) or permanent (fail now)? The error text is always kept."""
    from anymail.exceptions import AnymailAPIError, AnymailError

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        details = "; ".join(f"{addr}: {code} {msg!r}" for addr, (code, msg) in exc.recipients.items())
        return SendFailure(f"Recipients refused: {details}", transient=all(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return SendFailure(f"SMTP {exc.smtp_code}: {error}", transient=400 <= exc.smtp_code < 500)
    if isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout, TimeoutError)):
        return SendFailure(text, transient=True)
    if isinstance(exc, AnymailAPIError):
        status = exc.status_code
        response = {"status_code": status, "description": str(exc)[:2000]}
        # No status: the request never got an answer (connection error), so it is worth a retry.
        transient = status is None or status == 429 or status >= 500
        return SendFailure(text, transient=transient, response=response)
    if isinstance(exc, AnymailError):
        return SendFailure(text, transient=False)
    if isinstance(exc, OSError):
        return SendFailure(text, transient=True)
    # Unknown errors fail rather than retry: we cannot tell whether the email went out.
    return SendFailure(text, transient=False)


def _deliver_through_mailbox(message: OutboundMessage, mailbox: MailboxConnection) -> dict:
    """SMTP submission with the mailbox's login, with our copy in its Sent folder.

    Unless the server files sent mail itself, the copy is appended before the submission, marked
    pending, and the mark is cleared once the server accepted the email: after a crash, recovery
    reads Sent to tell "went out" (copy, no mark), "did not" (no copy) and "cannot tell" (mark)."""
    if mailbox.kind in mailboxes.OAUTH_KINDS:
        return _deliver_through_mailbox_api(message, mailbox)
    client = None
    uid = None
    try:
        email = build_email(message, connection=mailboxes.mailbox_smtp_connection(mailbox))
        # The mailbox's server accepts mail from its own address: the display name is kept.
        name, address = parseaddr(message.from_email)
        if address.lower() != mailbox.email_address.lower():
            email.from_email = formataddr((name, mailbox.email_address))
        if not mailbox.server_saves_sent:
            client = mailboxes.mailbox_imap(mailbox)
            if not mailbox.sent_folder:
                raise ApplicationError(f"{mailbox.email_address} has no Sent folder to keep a copy in.")
            uid = mailboxes.sent_copy_place(client, mailbox=mailbox, raw=email.message().as_bytes())
        try:
            email.send(fail_silently=False)
        except Exception:
            if client is not None:
                with contextlib.suppress(Exception):
                    mailboxes.sent_copy_settle(
                        client, mailbox=mailbox, uid=uid, message_id=message.message_id, sent=False
                    )
            raise
        if client is not None:
            try:
                mailboxes.sent_copy_settle(client, mailbox=mailbox, uid=uid, message_id=message.message_id, sent=True)
            except Exception:
                # The email went out; only the mark on our copy remains.
                logger.warning("message %s: sent, but its copy in Sent is still marked pending", message.pk)
    except ApplicationError as exc:
        raise SendFailure(exc.message, transient=False) from exc
    except (smtplib.SMTPAuthenticationError, LoginError) as exc:
        raise SendFailure(
            f"{mailbox.email_address} refused the login: {exc}",
            transient=True,
            mailbox_refused_login=True,
            mailbox_reason=mailboxes.login_refused_reason(mailbox),
        ) from exc
    except Exception as exc:
        raise _classify(exc) from exc
    finally:
        if client is not None:
            mailboxes.imap_close(client)
    return {"backend": channel_name(message), "message_id": message.message_id, "status": ["sent"]}


def _deliver_through_mailbox_api(message: OutboundMessage, mailbox: MailboxConnection) -> dict:
    """The whole RFC 5322 message through the mailbox's API (Gmail users.messages.send): our
    Message-ID, List-Unsubscribe and threading headers are kept and the provider files it in Sent.

    A retry first looks for our Message-ID in Sent: an attempt whose answer was lost may have gone
    out, and it must not go out twice."""
    from outreach.mail.oauth_api import ApiError, GrantRevoked, RateLimited
    from outreach.mail.services import oauth_mailboxes

    email = build_email(message)
    name, address = parseaddr(message.from_email)
    if address.lower() != mailbox.email_address.lower():
        email.from_email = formataddr((name, mailbox.email_address))
    mime = email.message()
    if message.bcc:
        # The API reads the recipients from the headers (and strips Bcc from what it delivers).
        mime["Bcc"] = ", ".join(message.bcc)
    backend = channel_name(message)
    try:
        if message.attempts > 1:
            found = oauth_mailboxes.oauth_sent_copy_find(mailbox=mailbox, message_id=message.message_id)
            if found == mailboxes.SentCopy.FOUND:
                return {"backend": backend, "message_id": message.message_id, "status": ["sent"], "found_in_sent": True}
        sent = oauth_mailboxes.oauth_mailbox_send(mailbox=mailbox, raw=mime.as_bytes(), message_id=message.message_id)
    except GrantRevoked as exc:
        raise SendFailure(
            f"{mailbox.email_address}: {exc.message}",
            transient=True,
            mailbox_refused_login=True,
            mailbox_reason=oauth_mailboxes.reauthorization_reason(mailbox),
        ) from exc
    except RateLimited as exc:
        raise SendFailure(
            f"{mailbox.email_address}: {exc.message}", transient=True, retry_after=exc.retry_after
        ) from exc
    except ApiError as exc:
        # No answer, or the provider's own trouble: worth another attempt; a 4xx is about the email.
        transient = exc.status is None or exc.status >= 500
        raise SendFailure(f"{mailbox.email_address}: {exc.message}", transient=transient) from exc
    return {
        "backend": backend,
        "message_id": sent.message_id,
        "status": ["sent"],
        "provider_id": sent.provider_id,
        "thread_id": sent.thread_id,
    }


def _deliver(message: OutboundMessage) -> dict:
    """Hand the email to the backend once. Returns the provider's response; raises SendFailure."""
    if message.mailbox is not None:
        return _deliver_through_mailbox(message, message.mailbox)
    path = backend_path(message.sender_config)
    try:
        connection = _connection(message.sender_config)
        email = build_email(message, connection=connection)
        count = email.send(fail_silently=False)
    except ApplicationError as exc:
        raise SendFailure(exc.message, transient=False, response={"backend": path}) from exc
    except Exception as exc:
        failure = _classify(exc)
        # The channel it failed on names the send result's code (resend_error, smtp_error…).
        failure.response = {"backend": path, **failure.response}
        raise failure from exc
    status = getattr(email, "anymail_status", None)
    if status is not None and status.status is not None:
        response = {
            "backend": path,
            "message_id": status.message_id,
            "status": sorted(status.status),
            "recipients": {addr: s.status for addr, s in (status.recipients or {}).items()},
        }
        if status.status <= {"rejected", "invalid", "failed"}:
            raise SendFailure(
                f"The provider did not accept the email: {sorted(status.status)}", transient=False, response=response
            )
        return response
    if not count:
        raise SendFailure("The backend reported that nothing was sent.", transient=False, response={"backend": path})
    return {"backend": path, "message_id": message.message_id, "status": ["sent"]}


def _record_recipient_outreach(message: OutboundMessage, now: datetime) -> None:
    """So the next campaign can see who was contacted lately, and by which campaign; then the
    properties the email was approved with (a campaign's "set after a send"), filled in."""
    recipient = Recipient.objects.select_for_update().get(pk=message.recipient_id)
    _name, sender_email = parseaddr(message.from_email)
    recipient.properties = {
        **(recipient.properties or {}),
        **set_properties_render(
            message.set_properties, sent_at=now, subject=message.subject, sender_email=sender_email
        ),
        "last_outreach_at": now.isoformat(),
        "last_outreach_campaign": message.campaign_ref,
        "last_outreach_message": message.pk,
    }
    recipient.save(update_fields=["properties", "updated_at"])


def outbound_message_send(*, message_id: int) -> OutboundMessage | None:
    """Send one outbox row at most once. Safe to call twice or from two workers at the same time.

    Returns the message as it ended (or waits again), or None when there was nothing to claim.
    """
    message, go = _claim(message_id)
    if message is None or not go:
        return message
    try:
        response = _deliver(message)
    except SendFailure as failure:
        if failure.mailbox_refused_login and message.mailbox_id is not None:
            return _hold_for_mailbox(message, failure)
        with transaction.atomic():
            if failure.transient and message.attempts < settings.SEND_MAX_ATTEMPTS:
                delay = settings.SEND_RETRY_BASE_SECONDS * 2 ** (message.attempts - 1)
                delay = max(delay, int(failure.retry_after or 0))
                _move(
                    message,
                    from_states=(State.SENDING,),
                    to_state=State.QUEUED,
                    note=f"transient error, retry in {delay}s (attempt {message.attempts} of {settings.SEND_MAX_ATTEMPTS})",
                    code=Code.PROVIDER_ERROR,
                    error_message=failure.text,
                    provider_response=failure.response,
                    not_before=timezone.now() + timedelta(seconds=delay),
                    lease_expires_at=None,
                )
            else:
                why = "permanent error" if not failure.transient else "transient error, no attempts left"
                _move(
                    message,
                    from_states=(State.SENDING, State.UNKNOWN),
                    to_state=State.FAILED,
                    note=why,
                    code=Code.PROVIDER_ERROR,
                    error_message=failure.text,
                    provider_response=failure.response,
                    lease_expires_at=None,
                )
        return message
    now = timezone.now()
    with transaction.atomic():
        # UNKNOWN too: recovery may have given up on a slow send that did in fact succeed.
        _move(
            message,
            from_states=(State.SENDING, State.UNKNOWN),
            to_state=State.SENT,
            note="accepted by the provider",
            code="",
            error_message="",
            provider=response.get("backend", "")[:50],
            provider_message_id=response.get("message_id") or message.message_id,
            provider_response=response,
            sent_at=now,
            lease_expires_at=None,
        )
        _record_recipient_outreach(message, now)
    return message


def _hold_for_mailbox(message: OutboundMessage, failure: SendFailure) -> OutboundMessage:
    """The sender's mailbox refused the login: it needs re-authorization, and this email (with the
    others waiting for that mailbox) is held for it. No attempt is used up."""
    assert message.mailbox_id is not None
    mailbox = mailboxes.mailbox_mark_broken(
        mailbox_id=message.mailbox_id, state=MailboxConnection.State.NEEDS_REAUTH, reason=failure.mailbox_reason
    )
    with transaction.atomic():
        _move(
            message,
            from_states=(State.SENDING,),
            to_state=State.HELD,
            note=failure.text,
            code=Code.MAILBOX_DISCONNECTED,
            error_message=mailboxes.hold_reason(mailbox) if mailbox else failure.text,
            lease_expires_at=None,
            attempts=F("attempts") - 1,
        )
    return message


# --- Recovery and the sweeper ------------------------------------------------------------------


def outbound_message_recover(*, limit: int = 500) -> dict[str, int]:
    """Resolve rows left in "sending" by a worker that died: never a blind second send.

    Where the provider deduplicates by our idempotency key (Resend, 24 hours) the row is queued
    again and resent with the same key; otherwise it becomes "unknown" for a person to decide.
    """
    now = timezone.now()
    outcome = {"requeued": 0, "unknown": 0, "settled_from_sent_folder": 0}
    ids = list(
        OutboundMessage.objects.filter(state=State.SENDING, lease_expires_at__lt=now).values_list("pk", flat=True)[
            :limit
        ]
    )
    for pk in ids:
        # Sent through the sender's mailbox: its Sent folder says what happened (read before the
        # row is locked: no lock is held over the network).
        candidate = OutboundMessage.objects.select_related("mailbox").filter(pk=pk).first()
        if candidate is not None and candidate.mailbox is not None and _recover_from_sent_folder(candidate, now):
            outcome["settled_from_sent_folder"] += 1
            continue
        with transaction.atomic():
            message = (
                OutboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("sender_config")
                .filter(pk=pk, state=State.SENDING, lease_expires_at__lt=now)
                .first()
            )
            if message is None:
                continue
            path = backend_path(message.sender_config)
            lease_end = message.lease_expires_at or now
            started = lease_end - timedelta(seconds=settings.SEND_LEASE_SECONDS)
            window = IDEMPOTENT_BACKENDS.get(path)
            # Leave an hour's margin inside the provider's deduplication window.
            if window is not None and now - started < window - timedelta(hours=1):
                _move(
                    message,
                    from_states=(State.SENDING,),
                    to_state=State.QUEUED,
                    note=f"lease expired mid-send; {path} honours the idempotency key, so it is resent with the same key",
                    not_before=None,
                    lease_expires_at=None,
                    error_message="A worker stopped mid-send; resent with the same idempotency key.",
                )
                transaction.on_commit(partial(outbound_message_enqueue, pk))
                outcome["requeued"] += 1
            else:
                _move(
                    message,
                    from_states=(State.SENDING,),
                    to_state=State.UNKNOWN,
                    note=f"lease expired mid-send; {path} cannot deduplicate, so it is not resent",
                    lease_expires_at=None,
                    error_message=(
                        "A worker stopped while handing this email to the provider; it may or may not have gone "
                        "out. Check the provider or the sender's Sent folder, then mark it sent or send it again."
                    ),
                )
                outcome["unknown"] += 1
    return outcome


def _recover_from_sent_folder(candidate: OutboundMessage, now: datetime) -> bool:
    """Settle a mailbox send left mid-way by our Message-ID in the mailbox's Sent folder:
    a copy without the pending mark went out (sent); no copy means it was never submitted (queued
    again). True when settled; a copy still marked pending, or an unreadable mailbox, is left to the
    usual path (unknown: a person decides)."""
    mailbox = candidate.mailbox
    assert mailbox is not None
    try:
        verdict = mailboxes.sent_copy_find(mailbox=mailbox, message_id=candidate.message_id)
    except Exception as exc:
        logger.warning("recovery: could not read Sent of mailbox %s for message %s: %s", mailbox.pk, candidate.pk, exc)
        return False
    if verdict == mailboxes.SentCopy.PENDING:
        return False
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=candidate.pk, state=State.SENDING, lease_expires_at__lt=now)
            .first()
        )
        if message is None:
            return True
        if verdict == mailboxes.SentCopy.FOUND:
            settled_at = timezone.now()
            _move(
                message,
                from_states=(State.SENDING,),
                to_state=State.SENT,
                note=f"lease expired mid-send; our Message-ID is in the Sent folder of {mailbox.email_address}",
                code="",
                error_message="",
                provider=channel_name(message)[:50],
                provider_message_id=message.message_id,
                sent_at=settled_at,
                lease_expires_at=None,
            )
            _record_recipient_outreach(message, settled_at)
        else:
            _move(
                message,
                from_states=(State.SENDING,),
                to_state=State.QUEUED,
                note=f"lease expired mid-send; not in the Sent folder of {mailbox.email_address}, so never submitted",
                not_before=None,
                lease_expires_at=None,
                error_message="A worker stopped before submitting this email; it is sent again.",
            )
            transaction.on_commit(partial(outbound_message_enqueue, message.pk))
    return True


def outbound_message_sweep(*, limit: int = 1000) -> int:
    """Re-enqueue due queued rows whose task was lost (rows are the truth, tasks only a nudge)."""
    now = timezone.now()
    ids = list(
        OutboundMessage.objects.filter(state=State.QUEUED, updated_at__lte=now - SWEEP_GRACE)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .order_by("not_before", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    # Touch them so the next sweep, a minute later, does not nudge them again at once.
    OutboundMessage.objects.filter(pk__in=ids, state=State.QUEUED).update(updated_at=now)
    for pk in ids:
        outbound_message_enqueue(pk)
    return len(ids)


# --- A person decides about "unknown" rows -----------------------------------------------------


class Resolution:
    MARK_SENT = "mark_sent"
    SEND_AGAIN = "send_again"
    MARK_FAILED = "mark_failed"


@transaction.atomic
def outbound_message_resolve(*, message: OutboundMessage, user, action: str, note: str = "") -> OutboundMessage:
    """An admin settles a row whose fate is unknown: it did go out, send it again, or give up."""
    reason = note.strip() or f"resolved by {user}"
    if action == Resolution.MARK_SENT:
        moved = _move(
            message,
            from_states=(State.UNKNOWN,),
            to_state=State.SENT,
            note=reason,
            actor=user,
            code="",
            sent_at=timezone.now(),
        )
    elif action == Resolution.SEND_AGAIN:
        moved = _move(
            message,
            from_states=(State.UNKNOWN,),
            to_state=State.QUEUED,
            note=reason,
            actor=user,
            not_before=None,
        )
        if moved:
            transaction.on_commit(lambda: outbound_message_enqueue(message.pk))
    elif action == Resolution.MARK_FAILED:
        moved = _move(
            message,
            from_states=(State.UNKNOWN,),
            to_state=State.FAILED,
            note=reason,
            actor=user,
            code=Code.PROVIDER_ERROR,
        )
    else:
        raise ApplicationError(f"Unknown resolution {action!r}")
    if not moved:
        raise ApplicationError("Only a message whose outcome is unknown can be resolved this way.")
    return message
