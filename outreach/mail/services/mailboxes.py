"""Each team member's own mailboxes: connect, check, send a test email, disconnect, and what a
broken connection does to the emails waiting to go out through it.

A mailbox that needs re-authorization or fails to log in holds its owner's queued emails (state
"held", code mailbox_disconnected, with the reason): they are never dropped and never sent through
another channel without a person deciding. Reconnecting releases them.

IMAP/SMTP mailboxes log in with a password, or (kind imap_oauth) with an OAuth 2.0 access token
(SASL XOAUTH2) from the grant stored as Google's and Microsoft's are, refreshed the same way
(`outreach.mail.services.oauth_mailboxes`).
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import smtplib
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.core.netguard import DestinationRefused
from outreach.mail.imap import AuthorizationRefused, LoginError, PinnedIMAPClient, TokenSource, imap_open
from outreach.mail.models import LocalMailboxMessage, MailboxConnection, OutboundMessage

logger = logging.getLogger(__name__)

OWN_SMTP_BACKEND = "outreach.mail.backends.PinnedSMTPBackend"
State = MailboxConnection.State
Security = MailboxConnection.Security
# Connected with OAuth 2.0 and used through the provider's API (outreach.mail.services.oauth_mailboxes).
OAUTH_KINDS = (MailboxConnection.Kind.GOOGLE, MailboxConnection.Kind.MICROSOFT)
# The stored secret is an OAuth 2.0 grant (revoked at the provider on disconnect where it can be).
TOKEN_KINDS = (*OAUTH_KINDS, MailboxConnection.Kind.IMAP_OAUTH)


def own_smtp_connection(
    *,
    host: str,
    port: int,
    username: str,
    password: str,
    use_tls: bool,
    use_ssl: bool,
    timeout: int | None = None,
    access_token: TokenSource | None = None,
):
    """Django's SMTP backend to a server a person typed: checked and pinned at each connection
    (outreach.mail.backends.PinnedSMTPBackend). Used for SenderConfig and mailboxes alike. With
    `access_token`, it logs in with XOAUTH2 instead of the password."""
    return get_connection(
        OWN_SMTP_BACKEND,
        fail_silently=False,
        host=host,
        port=port,
        # "" rather than None: None makes Django fall back to EMAIL_HOST_USER/PASSWORD, which
        # would hand the organization's credentials to the rep's server.
        username=username,
        password=password,
        use_tls=use_tls,
        use_ssl=use_ssl,
        timeout=timeout or settings.EMAIL_TIMEOUT,
        access_token=access_token,
    )


def _token_source(mailbox: MailboxConnection) -> TokenSource | None:
    """For an imap_oauth mailbox, where its logins get their access token; else None (password)."""
    if mailbox.kind != MailboxConnection.Kind.IMAP_OAUTH:
        return None
    from outreach.mail.services import oauth_mailboxes

    return oauth_mailboxes.xoauth2_token_source(mailbox)


def login_refused_reason(mailbox: MailboxConnection) -> str:
    """What the owner is told when the mailbox's server refuses our login."""
    if mailbox.kind in TOKEN_KINDS:
        from outreach.mail.services import oauth_mailboxes

        return oauth_mailboxes.reauthorization_reason(mailbox)
    return "The server refused the saved password; enter it again."


LOCAL_BACKEND = "outreach.mail.local_mailbox.LocalMailboxBackend"


def mailbox_smtp_connection(mailbox: MailboxConnection):
    if mailbox.kind == MailboxConnection.Kind.LOCAL:
        return get_connection(LOCAL_BACKEND, fail_silently=False)
    return own_smtp_connection(
        host=mailbox.smtp_host,
        port=mailbox.smtp_port,
        username=mailbox.username,
        use_tls=mailbox.smtp_security == Security.STARTTLS,
        use_ssl=mailbox.smtp_security == Security.SSL,
        **_credentials(mailbox),
    )


def _credentials(mailbox: MailboxConnection) -> dict:
    source = _token_source(mailbox)
    if source is not None:
        return {"password": "", "access_token": source}
    return {"password": mailbox.get_secret()}


def mailbox_imap(mailbox: MailboxConnection) -> PinnedIMAPClient:
    """A logged-in IMAP client for the mailbox (LoginError when the password or the OAuth grant is
    refused; AuthorizationUnavailable, an OSError, when no access token could be had just now)."""
    return imap_open(
        host=mailbox.imap_host,
        port=mailbox.imap_port,
        security=mailbox.imap_security,
        username=mailbox.username,
        **_credentials(mailbox),
    )


def imap_close(client) -> None:
    with contextlib.suppress(Exception):
        client.logout()


def find_sent_folder(client) -> str:
    """The folder with the \\Sent special use (RFC 6154), else a conventional name, else ""."""
    folders = client.list_folders()
    for flags, _, name in folders:
        if b"\\Sent" in flags:
            return name
    names = {name.lower(): name for _, _, name in folders}
    for candidate in ("sent", "sent items", "sent messages", "inbox.sent", "[gmail]/sent mail"):
        if candidate in names:
            return names[candidate]
    return ""


@dataclass(frozen=True)
class ConnectionCheck:
    sent_folder: str
    uidvalidity: int
    uidnext: int


def _describe(exc: Exception, mailbox: MailboxConnection | None = None) -> str:
    token_login = mailbox is not None and mailbox.kind == MailboxConnection.Kind.IMAP_OAUTH
    if isinstance(exc, AuthorizationRefused):
        return "The provider no longer accepts the authorization; connect the mailbox again."
    if isinstance(exc, LoginError):
        if token_login:
            return "The IMAP server refused the access token for this address."
        return "The server refused the username or password."
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        if token_login:
            return "The SMTP server refused the access token for this address."
        return "The SMTP server refused the username or password."
    if isinstance(exc, DestinationRefused):
        return f"The host is {exc.message}."
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, OSError | TimeoutError):
        return f"Could not reach the server: {exc}"
    return f"{type(exc).__name__}: {exc}"


def mailbox_check(mailbox: MailboxConnection) -> ConnectionCheck:
    """Log in to IMAP and SMTP once; read where Sent is and where the inbox stands now.

    Raises ApplicationError with a reason a person can act on."""
    try:
        client = mailbox_imap(mailbox)
        try:
            sent_folder = find_sent_folder(client)
            status = client.folder_status(mailbox.inbox_folder, [b"UIDNEXT", b"UIDVALIDITY"])
        finally:
            imap_close(client)
        smtp = mailbox_smtp_connection(mailbox)
        smtp.open()
        smtp.close()
    except (Exception, imaplib.IMAP4.error) as exc:
        raise ApplicationError(f"Could not connect {mailbox.email_address}: {_describe(exc, mailbox)}") from exc
    return ConnectionCheck(
        sent_folder=sent_folder, uidvalidity=int(status[b"UIDVALIDITY"]), uidnext=int(status[b"UIDNEXT"])
    )


def mailbox_connect_imap(
    *,
    user,
    email_address: str,
    imap_host: str,
    imap_port: int,
    imap_security: str,
    smtp_host: str,
    smtp_port: int,
    smtp_security: str,
    username: str,
    password: str,
) -> MailboxConnection:
    """Connect (or reconnect) one's IMAP/SMTP mailbox. Nothing is saved unless both logins work.

    Reading starts with what arrives from now on. Reconnecting an address keeps its sync cursor
    and releases the emails that waited for it."""
    return mailbox_connect_servers(
        user=user,
        kind=MailboxConnection.Kind.IMAP_SMTP,
        email_address=email_address,
        imap_host=imap_host,
        imap_port=imap_port,
        imap_security=imap_security,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_security=smtp_security,
        username=username,
        secret=password,
    )


def mailbox_connect_servers(
    *,
    user,
    kind: str,
    email_address: str,
    imap_host: str,
    imap_port: int,
    imap_security: str,
    smtp_host: str,
    smtp_port: int,
    smtp_security: str,
    username: str,
    secret: str,
) -> MailboxConnection:
    """Connect (or reconnect) a mailbox read over IMAP and sent through over SMTP, logging in with
    a password (kind imap_smtp) or an OAuth 2.0 grant (kind imap_oauth, `secret` the token as
    stored). Nothing is saved unless both logins work."""
    email_address = email_address.strip().lower()
    existing = (
        MailboxConnection.objects.filter(user=user, email_address=email_address)
        .exclude(state=State.DISCONNECTED)
        .first()
    )
    mailbox = existing or MailboxConnection(user=user, email_address=email_address)
    mailbox.kind = kind
    mailbox.imap_host = imap_host.strip()
    mailbox.imap_port = imap_port
    mailbox.imap_security = imap_security
    mailbox.smtp_host = smtp_host.strip()
    mailbox.smtp_port = smtp_port
    mailbox.smtp_security = smtp_security
    mailbox.username = username.strip() or email_address
    if existing is not None and existing.kind in OAUTH_KINDS:
        mailbox.server_saves_sent = False  # the API filed sent mail; SMTP does not
    if secret:
        mailbox.set_secret(secret)
    elif not mailbox.has_secret:
        raise ApplicationError("Enter the mailbox's password or app password.")
    try:
        mailbox.full_clean(exclude=["user"], validate_constraints=False)
    except ValidationError as exc:
        raise ApplicationError("; ".join(exc.messages)) from exc
    check = mailbox_check(mailbox)
    with transaction.atomic():
        if existing is None:
            has_default = MailboxConnection.objects.filter(user=user, is_default=True).exists()
            mailbox.is_default = not has_default
        mailbox.sent_folder = check.sent_folder
        if mailbox.sync_uidvalidity != check.uidvalidity:
            mailbox.sync_uidvalidity = check.uidvalidity
            mailbox.sync_uidnext = check.uidnext
        mailbox.connected_at = mailbox.connected_at if existing else timezone.now()
        mailbox.last_sync_error = ""
        _set_state(mailbox, State.CONNECTED, "")
        mailbox.save()
        outbound_messages_release(mailbox=mailbox)
    return mailbox


@transaction.atomic
def mailbox_connect_local(*, user, email_address: str) -> MailboxConnection:
    """The demo: the local development mailbox plays the sender's own inbox (what is "sent" is
    stored and readable at /mailbox/; what is "delivered" to the address is read by the same sync).
    Only while developing. Idempotent."""
    if not settings.DEBUG:
        raise ApplicationError("The local development mailbox is for development only.")
    email_address = email_address.strip().lower()
    mailbox = (
        MailboxConnection.objects.filter(user=user, email_address=email_address, kind=MailboxConnection.Kind.LOCAL)
        .exclude(state=State.DISCONNECTED)
        .first()
    )
    if mailbox is not None:
        return mailbox
    last = LocalMailboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    mailbox = MailboxConnection.objects.create(
        user=user,
        kind=MailboxConnection.Kind.LOCAL,
        email_address=email_address,
        is_default=not MailboxConnection.objects.filter(user=user, is_default=True).exists(),
        server_saves_sent=True,  # the local backend's row is the copy
        sent_folder="(local mailbox)",
        sync_uidvalidity=1,
        sync_uidnext=last + 1,
    )
    outbound_messages_release(mailbox=mailbox)
    return mailbox


def _set_state(mailbox: MailboxConnection, state: str, reason: str) -> None:
    if mailbox.state != state:
        mailbox.state_changed_at = timezone.now()
    mailbox.state = state
    mailbox.state_reason = reason


@transaction.atomic
def mailbox_mark_broken(*, mailbox_id: int, state: str, reason: str) -> MailboxConnection | None:
    """The mailbox needs re-authorization (a refused login, a revoked grant) or errs: record why
    and hold the emails waiting to go out through it."""
    mailbox = MailboxConnection.objects.select_for_update().filter(pk=mailbox_id).first()
    if mailbox is None or mailbox.state == State.DISCONNECTED:
        return mailbox
    _set_state(mailbox, state, reason)
    mailbox.save(update_fields=["state", "state_reason", "state_changed_at", "updated_at"])
    logger.warning("mailbox %s is %s: %s", mailbox.pk, state, reason)
    outbound_messages_hold(mailbox=mailbox)
    return mailbox


def hold_reason(mailbox: MailboxConnection) -> str:
    return (
        f"Held: your mailbox {mailbox.email_address} is {mailbox.get_state_display().lower()}"
        f"{': ' + mailbox.state_reason if mailbox.state_reason else ''}. "
        "Reconnect it on My mailboxes and this email goes out."
    )


def outbound_messages_hold(*, mailbox: MailboxConnection) -> int:
    """Queued emails of the mailbox's owner that would go out through it wait for it. Must run
    inside a transaction. Returns how many."""
    from outreach.mail.services import sending

    queued = OutboundMessage.objects.filter(sender_id=mailbox.user_id)
    if not mailbox.is_default:
        queued = queued.filter(mailbox=mailbox)
    return sending.outbound_messages_hold(
        messages=queued, code=OutboundMessage.Code.MAILBOX_DISCONNECTED, reason=hold_reason(mailbox)
    )


def outbound_messages_release(*, mailbox: MailboxConnection, actor=None) -> int:
    """The mailbox works again: its owner's emails held for a disconnected mailbox are queued and
    nudged (emails held for another reason, a sending pause, stay held). Returns how many."""
    from outreach.mail.services import sending

    return sending.outbound_messages_release(
        messages=OutboundMessage.objects.filter(sender_id=mailbox.user_id),
        code=OutboundMessage.Code.MAILBOX_DISCONNECTED,
        actor=actor,
        note=f"released: {mailbox.email_address} is connected",
    )


def mailbox_send_test(*, mailbox: MailboxConnection, user) -> str:
    """Send a short email from the mailbox to itself through its SMTP server. Returns its Message-ID.

    A refused login marks the mailbox "needs re-authorization"."""
    if mailbox.state == State.DISCONNECTED:
        raise ApplicationError("This mailbox is disconnected.")
    domain = mailbox.email_address.rsplit("@", 1)[-1]
    message_id = f"<test-{uuid.uuid4().hex}@{domain}>"
    through = mailbox.get_kind_display() if mailbox.kind in OAUTH_KINDS else mailbox.smtp_host
    email = EmailMessage(
        subject="Outreach Review: test email",
        body=(
            f"This test email was sent by {user} from Outreach Review through {through}.\n"
            "If you can read it, your mailbox is connected.\n"
        ),
        from_email=mailbox.email_address,
        to=[mailbox.email_address],
        headers={"Message-ID": message_id, "Auto-Submitted": "auto-generated"},
        connection=None if mailbox.kind in OAUTH_KINDS else mailbox_smtp_connection(mailbox),
    )
    if mailbox.kind in OAUTH_KINDS:
        from outreach.mail.oauth_api import ApiError, GrantRevoked
        from outreach.mail.services import oauth_mailboxes

        try:
            oauth_mailboxes.oauth_mailbox_send(mailbox=mailbox, raw=email.message().as_bytes(), message_id=message_id)
        except GrantRevoked as exc:
            oauth_mailboxes.mark_needs_reauthorization(mailbox, exc)
            raise ApplicationError(
                f"The test email was not sent: {oauth_mailboxes.reauthorization_reason(mailbox)}"
            ) from exc
        except ApiError as exc:
            raise ApplicationError(f"The test email was not sent: {exc.message}") from exc
        return message_id
    try:
        email.send(fail_silently=False)
    except (smtplib.SMTPAuthenticationError, LoginError) as exc:
        reason = login_refused_reason(mailbox) if mailbox.kind in TOKEN_KINDS else _describe(exc)
        mailbox_mark_broken(mailbox_id=mailbox.pk, state=State.NEEDS_REAUTH, reason=reason)
        raise ApplicationError(f"The test email was not sent: {_describe(exc, mailbox)}") from exc
    except Exception as exc:
        raise ApplicationError(f"The test email was not sent: {_describe(exc, mailbox)}") from exc
    return message_id


def mailbox_disconnect(*, mailbox: MailboxConnection, user) -> MailboxConnection:
    """Stop using the mailbox: its password or tokens are deleted here (an OAuth grant is first
    revoked at the provider where it supports that: Google), the row stays for the history of
    what went out through it. Emails already held stay held until a mailbox is connected."""
    note = ""
    if mailbox.kind in TOKEN_KINDS and mailbox.has_secret:
        from outreach.mail.services import oauth_mailboxes

        # Outside the transaction: no row lock is held over the network.
        note = oauth_mailboxes.oauth_grant_revoke(mailbox=mailbox)
    return _mailbox_disconnect(mailbox=mailbox, user=user, note=note)


@transaction.atomic
def _mailbox_disconnect(*, mailbox: MailboxConnection, user, note: str) -> MailboxConnection:
    mailbox = MailboxConnection.objects.select_for_update().get(pk=mailbox.pk)
    mailbox.secret_encrypted = ""
    was_default = mailbox.is_default
    mailbox.is_default = False
    _set_state(mailbox, State.DISCONNECTED, f"disconnected by {user}{note}")
    mailbox.save()
    if was_default:
        # Another working mailbox of the same person becomes the default.
        successor = (
            MailboxConnection.objects.filter(user_id=mailbox.user_id, state=State.CONNECTED)
            .exclude(pk=mailbox.pk)
            .order_by("created_at")
            .first()
        )
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default", "updated_at"])
            outbound_messages_release(mailbox=successor)
    return mailbox


@transaction.atomic
def mailbox_make_default(*, mailbox: MailboxConnection) -> MailboxConnection:
    if mailbox.state == State.DISCONNECTED:
        raise ApplicationError("Connect this mailbox again before sending through it.")
    MailboxConnection.objects.filter(user_id=mailbox.user_id, is_default=True).exclude(pk=mailbox.pk).update(
        is_default=False
    )
    mailbox.is_default = True
    mailbox.save(update_fields=["is_default", "updated_at"])
    if mailbox.is_usable:
        outbound_messages_release(mailbox=mailbox)
    return mailbox


def mailbox_for_sending(*, user_id: int) -> MailboxConnection | None:
    """The sender's default mailbox while it is in use (connected, or broken and waiting to be
    reconnected); None sends through the organization's provider."""
    return MailboxConnection.objects.filter(
        user_id=user_id, is_default=True, state__in=MailboxConnection.IN_USE_STATES
    ).first()


# --- The copy in Sent, and finding it again after a crash ----------------------------------------

# Set on our copy in Sent from before the submission until the server accepted it: a copy that
# still carries it after a crash means "submitted or not, we cannot tell".
PENDING_FLAG = "$OutreachPending"


class SentCopy:
    FOUND = "found"  # the email went out
    PENDING = "pending"  # a worker died between placing the copy and hearing the server's answer
    ABSENT = "absent"


def _appenduid(response) -> int | None:
    text = response.decode(errors="replace") if isinstance(response, bytes) else str(response)
    marker = "APPENDUID "
    if marker not in text:
        return None
    with contextlib.suppress(ValueError, IndexError):
        return int(text.split(marker, 1)[1].split("]", 1)[0].split()[1])
    return None


def sent_copy_place(client, *, mailbox: MailboxConnection, raw: bytes) -> int | None:
    """APPEND our copy to Sent, marked pending, before the email is submitted. Returns its UID."""
    response = client.append(mailbox.sent_folder, raw, flags=("\\Seen", PENDING_FLAG))
    return _appenduid(response)


def _uids_with_message_id(client, *, folder: str, message_id: str) -> list[int]:
    client.select_folder(folder)
    return list(client.search(["HEADER", "Message-ID", message_id.strip()]))


def sent_copy_settle(client, *, mailbox: MailboxConnection, uid: int | None, message_id: str, sent: bool) -> None:
    """After the server's answer: clear the pending mark (sent) or take the copy back (refused)."""
    uids = [uid] if uid else _uids_with_message_id(client, folder=mailbox.sent_folder, message_id=message_id)
    if not uids:
        return
    client.select_folder(mailbox.sent_folder)
    if sent:
        client.remove_flags(uids, [PENDING_FLAG])
    else:
        client.delete_messages(uids)
        client.uid_expunge(uids) if client.has_capability("UIDPLUS") else client.expunge()


def sent_copy_find(*, mailbox: MailboxConnection, message_id: str) -> str:
    """Is our Message-ID in the mailbox's Sent folder (IMAP UID SEARCH HEADER Message-ID)?"""
    if mailbox.kind == MailboxConnection.Kind.LOCAL:
        found = LocalMailboxMessage.objects.filter(message_id=message_id).exists()
        return SentCopy.FOUND if found else SentCopy.ABSENT
    if mailbox.kind in OAUTH_KINDS:
        from outreach.mail.services import oauth_mailboxes

        return oauth_mailboxes.oauth_sent_copy_find(mailbox=mailbox, message_id=message_id)
    client = mailbox_imap(mailbox)
    try:
        folder = mailbox.sent_folder or find_sent_folder(client)
        if not folder:
            return SentCopy.ABSENT
        uids = _uids_with_message_id(client, folder=folder, message_id=message_id)
        if not uids:
            return SentCopy.ABSENT
        flags = client.get_flags(uids)
        pending = PENDING_FLAG.encode()
        if all(pending in (flags.get(uid) or ()) for uid in uids):
            return SentCopy.PENDING
        return SentCopy.FOUND
    finally:
        imap_close(client)
