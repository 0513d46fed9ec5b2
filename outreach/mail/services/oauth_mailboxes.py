"""Google (Gmail API) and Microsoft 365 (Graph) mailboxes connected with OAuth 2.0: connect, tokens,
send, read, recover.

Connect: authorization code with PKCE (S256) and offline access. The view keeps the state and the
code verifier in the person's session; the callback checks the state, exchanges the code (the
provider verifies the PKCE verifier), reads the mailbox's address from the provider and stores the
tokens encrypted (FIELD_ENCRYPTION_KEY), never shown again.

Tokens: the access token is refreshed when it has less than five minutes left, or once when a
call is refused with 401, under a row lock (two workers never refresh one grant at once: a
rotated refresh token would be lost). A refresh the provider refuses (invalid_grant: revoked,
expired, password changed) marks the mailbox "needs re-authorization" and holds its queued sends
(code mailbox_disconnected), as a refused IMAP login does.

Reading (Gmail): users.history.list from the stored history id, INBOX additions only: one request
when nothing changed. A history id Google no longer keeps (404) re-reads what arrived since
connecting (at most MAILBOX_RESYNC_DAYS); replies already recorded are recognised by their Message-ID.
Each new email is matched through the same path as IMAP (In-Reply-To/References with the
participant check, then the Gmail thread, then the participants).

Reading (Graph): the Inbox's delta query from the stored delta link (one request when nothing
changed); a delta token Graph no longer knows (410) restarts the query from what arrived since
connecting. Matching uses the conversationId as the thread.

Any other provider (kind imap_oauth, configured by the MAILBOX_OAUTH_* settings): the same connect
and the same tokens, but mail goes through the provider's IMAP and SMTP servers, which take the
access token instead of a password (SASL XOAUTH2). The person types their address; the first
IMAP and SMTP logins with the new token prove the grant is for that mailbox. Sending, reading and
recovery are then the IMAP/SMTP mailbox's own (`mailboxes`, `mailbox_sync`).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.core.normalize import normalize_email
from outreach.mail.imap import AuthorizationRefused, AuthorizationUnavailable, TokenSource
from outreach.mail.models import EngagementEvent, MailboxConnection
from outreach.mail.oauth_api import (
    GOOGLE,
    IMAP_OAUTH,
    REFRESH_LEEWAY_SECONDS,
    ApiError,
    DeltaExpired,
    Gmail,
    GrantRevoked,
    Graph,
    NotFound,
    OAuthProvider,
    RateLimited,
    authorization_url,
    b64url_decode,
    code_exchange,
    oauth_provider,
    token_refresh,
    token_revoke,
)
from outreach.mail.services import mailboxes

logger = logging.getLogger(__name__)
_MSGID = re.compile(r"<[^<>\s]+>")

Kind = MailboxConnection.Kind
State = MailboxConnection.State
OAUTH_KINDS = (Kind.GOOGLE, Kind.MICROSOFT)
# A re-read after Google forgot our history id lists at most this many emails.
RESYNC_LIMIT = 500


def _provider(mailbox_or_kind: MailboxConnection | str) -> OAuthProvider:
    kind = mailbox_or_kind.kind if isinstance(mailbox_or_kind, MailboxConnection) else mailbox_or_kind
    provider = oauth_provider(kind)
    if provider is None:
        raise ApplicationError(f"Connecting {kind} mailboxes is not configured on this server.")
    return provider


def reauthorization_reason(mailbox: MailboxConnection) -> str:
    label = _label(mailbox.kind)
    return f"{label} no longer accepts the saved authorization (revoked or expired); connect it again"


def _label(kind: str) -> str:
    if kind == Kind.IMAP_OAUTH:
        return settings.MAILBOX_OAUTH_LABEL
    return {Kind.GOOGLE: "Google", Kind.MICROSOFT: "Microsoft 365"}.get(kind, kind)  # type: ignore[call-overload]


# --- Connecting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationStart:
    kind: str
    url: str
    state: str
    code_verifier: str


def oauth_connect_start(*, kind: str, redirect_uri: str, login_hint: str = "") -> AuthorizationStart:
    """Where to send the person to authorize, with a fresh state and PKCE code verifier (the caller
    keeps both in the person's session: they never leave this server except as the challenge)."""
    provider = _provider(kind)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 asks for 43 to 128
    url = authorization_url(
        provider, redirect_uri=redirect_uri, state=state, code_verifier=verifier, login_hint=login_hint
    )
    return AuthorizationStart(kind=kind, url=url, state=state, code_verifier=verifier)


def _api(provider: OAuthProvider, access_token) -> Gmail | Graph:
    api_class = Gmail if provider.kind == GOOGLE else Graph
    return api_class(provider.api_base_url, access_token)


def _identity(provider: OAuthProvider, access_token: str) -> tuple[str, str]:
    """(the mailbox's address, where reading starts) as the provider states them."""
    with _api(provider, lambda stale: _no_refresh(access_token, stale)) as api:
        if isinstance(api, Gmail):
            profile = api.profile()
            return normalize_email(str(profile.get("emailAddress") or "")), str(profile.get("historyId") or "")
        me = api.me()
        address = str(me.get("mail") or me.get("userPrincipalName") or "")
        link, _ = _graph_delta_collect(api, api.delta_start(since_iso=_iso(timezone.now())), keep=False)
        return normalize_email(address), link


def _no_refresh(token: str, stale: str | None) -> str:
    if stale is not None:
        raise GrantRevoked("the provider refused the token it just issued")
    return token


def oauth_connect_finish(
    *, user, kind: str, code: str, redirect_uri: str, code_verifier: str, address: str = ""
) -> MailboxConnection:
    """Exchange the code, learn the address, store the tokens encrypted and release what waited.

    Reconnecting an address keeps its reading cursor (what arrived meanwhile is read) and queues
    the emails held for it again. For imap_oauth, `address` is the one the person typed."""
    provider = _provider(kind)
    if kind == IMAP_OAUTH and not address:
        raise ApplicationError("Enter the mailbox's address before connecting it.")
    try:
        token = code_exchange(provider, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
    except ApiError as exc:
        raise ApplicationError(f"{provider.label} did not confirm the authorization: {exc.message}") from exc
    granted = set(token["scope"].split())
    missing = [s for s in provider.scopes if s != "offline_access" and granted and s not in granted]
    if missing:
        # Google lets a person untick scopes on the consent screen.
        names = ", ".join(s.rsplit("/", 1)[-1] for s in missing)
        raise ApplicationError(f"{provider.label} did not grant {names}: connect again and allow every permission.")
    if not token["refresh_token"]:
        raise ApplicationError(f"{provider.label} gave no refresh token: connect again and allow offline access.")
    if kind == IMAP_OAUTH:
        return _xoauth2_connect_finish(user=user, address=address, token=token)
    try:
        address, cursor = _identity(provider, token["access_token"])
    except ApiError as exc:
        raise ApplicationError(f"{provider.label} did not tell which mailbox this is: {exc.message}") from exc
    if not address:
        raise ApplicationError(f"{provider.label} did not tell which mailbox this is.")
    existing = (
        MailboxConnection.objects.filter(user=user, email_address=address).exclude(state=State.DISCONNECTED).first()
    )
    with transaction.atomic():
        mailbox = existing or MailboxConnection(user=user, email_address=address, connected_at=timezone.now())
        if existing is None:
            mailbox.is_default = not MailboxConnection.objects.filter(user=user, is_default=True).exists()
        if existing is None or existing.kind != kind or not existing.sync_cursor:
            mailbox.sync_cursor = cursor
        mailbox.kind = kind
        mailbox.username = address
        mailbox.server_saves_sent = True  # the API files what it sends in Sent itself
        mailbox.sent_folder = "SENT" if kind == Kind.GOOGLE else "Sent Items"
        _store_token(mailbox, token)
        mailbox.last_sync_error = ""
        if mailbox.state != State.CONNECTED:
            mailbox.state_changed_at = timezone.now()
        mailbox.state = State.CONNECTED
        mailbox.state_reason = ""
        mailbox.save()
        mailboxes.outbound_messages_release(mailbox=mailbox)
    return mailbox


def _xoauth2_connect_finish(*, user, address: str, token: dict) -> MailboxConnection:
    """Log in to the configured IMAP and SMTP servers with the new token (XOAUTH2): nothing is saved
    unless both accept it for this address."""
    return mailboxes.mailbox_connect_servers(
        user=user,
        kind=Kind.IMAP_OAUTH,
        email_address=address,
        imap_host=settings.MAILBOX_OAUTH_IMAP_HOST,
        imap_port=settings.MAILBOX_OAUTH_IMAP_PORT,
        imap_security=settings.MAILBOX_OAUTH_IMAP_SECURITY,
        smtp_host=settings.MAILBOX_OAUTH_SMTP_HOST,
        smtp_port=settings.MAILBOX_OAUTH_SMTP_PORT,
        smtp_security=settings.MAILBOX_OAUTH_SMTP_SECURITY,
        username=address,
        secret=json.dumps(token),
    )


def _store_token(mailbox: MailboxConnection, token: dict) -> None:
    mailbox.set_secret(json.dumps(token))


def _load_token(mailbox: MailboxConnection) -> dict:
    try:
        token = json.loads(mailbox.get_secret() or "{}")
    except ValueError:
        token = {}
    return token if isinstance(token, dict) else {}


# --- Tokens -------------------------------------------------------------------------------------


def mailbox_access_token(*, mailbox_id: int, stale: str | None = None) -> str:
    """A usable access token: the stored one while it has time left, else a refreshed one.

    `stale` is a token a call was just refused with: refreshed unless another worker already did.
    Raises GrantRevoked (the provider refuses the grant) or ApiError (try later)."""
    with transaction.atomic():
        # Lock the row: a rotated refresh token must replace the old one exactly once.
        mailbox = MailboxConnection.objects.select_for_update().get(pk=mailbox_id)
        if mailbox.state == State.DISCONNECTED or not mailbox.has_secret:
            raise GrantRevoked("the mailbox is disconnected")
        token = _load_token(mailbox)
        access = token.get("access_token") or ""
        expires_at = token.get("expires_at")
        fresh = bool(access) and (expires_at is None or expires_at - REFRESH_LEEWAY_SECONDS > time.time())
        if fresh and access != stale:
            return access
        provider = oauth_provider(mailbox.kind)
        if provider is None:
            raise ApiError(f"{_label(mailbox.kind)} is not configured on this server")
        new = token_refresh(provider, refresh_token=token.get("refresh_token") or "")
        new["refresh_token"] = new["refresh_token"] or token.get("refresh_token") or ""
        new["scope"] = new["scope"] or token.get("scope") or ""
        _store_token(mailbox, new)
        mailbox.save(update_fields=["secret_encrypted", "updated_at"])
        return new["access_token"]


def xoauth2_token_source(mailbox: MailboxConnection) -> TokenSource:
    """Access tokens for the mailbox's IMAP and SMTP logins (XOAUTH2): the one held in memory while
    it has time left, else one from mailbox_access_token (refreshed under the row lock when due).

    A refused grant raises AuthorizationRefused (a LoginError: the mailbox needs re-authorization,
    as with a refused password); no answer from the token endpoint raises AuthorizationUnavailable
    (an OSError: try again later)."""

    def access_token(stale: str | None) -> str:
        token = _load_token(mailbox)
        access = token.get("access_token") or ""
        expires_at = token.get("expires_at")
        fresh = bool(access) and (expires_at is None or expires_at - REFRESH_LEEWAY_SECONDS > time.time())
        if fresh and access != stale:
            return access
        if mailbox.pk is None:  # being connected: only the token just issued
            raise AuthorizationRefused(f"{_label(mailbox.kind)} refused the token it just issued")
        try:
            return mailbox_access_token(mailbox_id=mailbox.pk, stale=stale or access)
        except GrantRevoked as exc:
            raise AuthorizationRefused(exc.message) from exc
        except ApiError as exc:
            raise AuthorizationUnavailable(exc.message) from exc

    return access_token


def mailbox_api(mailbox: MailboxConnection) -> Gmail | Graph:
    provider = oauth_provider(mailbox.kind)
    if provider is None:
        raise ApiError(f"{_label(mailbox.kind)} is not configured on this server")
    return _api(provider, lambda stale: mailbox_access_token(mailbox_id=mailbox.pk, stale=stale))


def mark_needs_reauthorization(mailbox: MailboxConnection, exc: Exception) -> None:
    logger.warning("mailbox %s: authorization refused: %s", mailbox.pk, exc)
    mailboxes.mailbox_mark_broken(
        mailbox_id=mailbox.pk, state=State.NEEDS_REAUTH, reason=reauthorization_reason(mailbox)
    )


def oauth_grant_revoke(*, mailbox: MailboxConnection) -> str:
    """Revoke the grant at the provider where it can be (Google). Returns a note for the record:
    "" when revoked, else what the person may still do in their account."""
    provider = oauth_provider(mailbox.kind)
    token = _load_token(mailbox)
    if provider is None:
        return f"; {_label(mailbox.kind)} is not configured here, so the grant was not revoked there"
    if not provider.revoke_url:
        return f"; {provider.label} cannot revoke it for us: remove the app in your account's settings"
    try:
        token_revoke(provider, token=token.get("refresh_token") or token.get("access_token") or "")
    except ApiError as exc:
        logger.warning("mailbox %s: revoking the grant failed: %s", mailbox.pk, exc)
        return f"; {provider.label} did not confirm the revocation ({exc.message}): remove the app in your account"
    return ""


# --- Sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiSend:
    message_id: str  # the Message-ID as the provider stored it (normally ours)
    provider_id: str
    thread_id: str


def oauth_mailbox_send(*, mailbox: MailboxConnection, raw: bytes, message_id: str) -> ApiSend:
    """Send the whole RFC 5322 message through the mailbox's API (it lands in Sent). Raises
    GrantRevoked, RateLimited, ApiError."""
    with mailbox_api(mailbox) as api:
        if isinstance(api, Graph):
            return _graph_send(api, mailbox, raw, message_id)
        sent = api.send_raw(raw)
        provider_id = str(sent.get("id") or "")
        stored = message_id
        # Read back the Message-ID Gmail kept, rather than assuming it is ours: replies cite it.
        try:
            headers = api.message(provider_id, format="metadata", headers=("Message-ID",))
            for header in (headers.get("payload") or {}).get("headers") or []:
                if str(header.get("name", "")).lower() == "message-id" and header.get("value"):
                    stored = str(header["value"]).strip()
        except ApiError as exc:  # the email went out; only the read-back failed
            logger.info("mailbox %s: Message-ID not read back: %s", mailbox.pk, exc)
    if stored != message_id:
        logger.warning("mailbox %s: Gmail replaced Message-ID %s with %s", mailbox.pk, message_id, stored)
    return ApiSend(message_id=stored, provider_id=provider_id, thread_id=str(sent.get("threadId") or ""))


def _graph_send(api: Graph, mailbox: MailboxConnection, raw: bytes, message_id: str) -> ApiSend:
    api.send_mime(raw)
    # sendMail answers 202 with no body: Sent Items tells the id and conversation it was filed under.
    try:
        copies = api.sent_items(internet_message_id=message_id)
    except ApiError as exc:
        logger.info("mailbox %s: the sent copy was not read back: %s", mailbox.pk, exc)
        copies = []
    copy = copies[0] if copies else {}
    return ApiSend(
        message_id=str(copy.get("internetMessageId") or message_id),
        provider_id=str(copy.get("id") or ""),
        thread_id=str(copy.get("conversationId") or ""),
    )


def oauth_sent_copy_find(*, mailbox: MailboxConnection, message_id: str) -> str:
    """Is our Message-ID in the mailbox's Sent (Gmail search rfc822msgid:, Graph internetMessageId
    on Sent Items)? SentCopy.FOUND/ABSENT."""
    with mailbox_api(mailbox) as api:
        if isinstance(api, Graph):
            found = api.sent_items(internet_message_id=message_id.strip())
        else:
            found = api.message_ids(q=f"rfc822msgid:{message_id.strip().strip('<>')}", label="SENT", limit=5)
    return mailboxes.SentCopy.FOUND if found else mailboxes.SentCopy.ABSENT


# --- Reading -------------------------------------------------------------------------------------


def oauth_mailbox_sync(*, mailbox: MailboxConnection, result, now: datetime) -> datetime | None:
    """One pass over a Google mailbox. Records errors on `result`; returns until when to leave
    the mailbox alone (a 429 with a long Retry-After), else None."""
    try:
        with mailbox_api(mailbox) as api:
            if isinstance(api, Graph):
                _graph_sync(api, mailbox, result, now)
            else:
                _gmail_sync(api, mailbox, result, now)
    except GrantRevoked as exc:
        mark_needs_reauthorization(mailbox, exc)
        result.error = "authorization refused: needs re-authorization"
    except RateLimited as exc:
        wait = exc.retry_after or 60
        result.error = f"rate limited: next pass in {wait:.0f}s"
        return timezone.now() + timedelta(seconds=wait)
    except ApiError as exc:
        result.error = exc.message
        logger.warning("mailbox %s: sync stopped: %s", mailbox.pk, exc.message)
    return None


def _set_cursor(mailbox: MailboxConnection, cursor: str) -> None:
    mailbox.sync_cursor = cursor
    MailboxConnection.objects.filter(pk=mailbox.pk).update(sync_cursor=cursor)


def _gmail_sync(api: Gmail, mailbox: MailboxConnection, result, now: datetime) -> None:
    cursor = mailbox.sync_cursor
    if not cursor:
        _set_cursor(mailbox, str(api.profile().get("historyId") or ""))
        return
    refs: list[dict] = []
    try:
        page = ""
        latest = cursor
        while True:
            body = api.history(start_history_id=cursor, label="INBOX", page_token=page)
            for record in body.get("history") or []:
                for added in record.get("messagesAdded") or []:
                    message = added.get("message") or {}
                    if message.get("id") and "INBOX" in (message.get("labelIds") or ["INBOX"]):
                        refs.append(message)
            latest = str(body.get("historyId") or latest)
            page = body.get("nextPageToken") or ""
            if not page:
                break
    except NotFound:
        # Google keeps history for a limited time: re-read what arrived since connecting (bounded).
        since = max(mailbox.connected_at, now - timedelta(days=settings.MAILBOX_RESYNC_DAYS))
        logger.info("mailbox %s: history id %s expired; re-reading since %s", mailbox.pk, cursor, since.date())
        latest = str(api.profile().get("historyId") or "")
        refs = list(reversed(api.message_ids(q=f"after:{int(since.timestamp())}", label="INBOX", limit=RESYNC_LIMIT)))
    if not refs:
        if latest != cursor:
            _set_cursor(mailbox, latest)
        return
    result.changed = True
    seen: set[str] = set()
    for ref in refs:
        if ref["id"] in seen:
            continue
        seen.add(ref["id"])
        _gmail_read_one(api, mailbox, ref, result, now)
    # Only after every email was handled: a pass cut short reads them again (recognised by Message-ID).
    _set_cursor(mailbox, latest)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Pages of one delta round; more than this many and the rest waits for the next pass.
DELTA_PAGES = 100


def _graph_delta_collect(api: Graph, url: str, *, keep: bool = True) -> tuple[str, list[dict]]:
    """Follow @odata.nextLink pages to the @odata.deltaLink: (the delta link, the entries)."""
    entries: list[dict] = []
    for _ in range(DELTA_PAGES):
        body = api.delta_page(url)
        if keep:
            entries += [e for e in body.get("value") or [] if isinstance(e, dict)]
        if body.get("@odata.deltaLink"):
            return str(body["@odata.deltaLink"]), entries
        url = str(body.get("@odata.nextLink") or "")
        if not url:
            break
    raise ApiError("the delta query ended without a delta link")


def _graph_sync(api: Graph, mailbox: MailboxConnection, result, now: datetime) -> None:
    link = mailbox.sync_cursor
    if not link:
        new_link, _ = _graph_delta_collect(api, api.delta_start(since_iso=_iso(now)), keep=False)
        _set_cursor(mailbox, new_link)
        return
    try:
        new_link, entries = _graph_delta_collect(api, link)
    except DeltaExpired:
        since = max(mailbox.connected_at, now - timedelta(days=settings.MAILBOX_RESYNC_DAYS))
        logger.info("mailbox %s: delta token expired; re-reading since %s", mailbox.pk, since.date())
        new_link, entries = _graph_delta_collect(api, api.delta_start(since_iso=_iso(since)))
    entries = [e for e in entries if e.get("id") and "@removed" not in e]
    if not entries:
        if new_link != link:
            _set_cursor(mailbox, new_link)
        return
    result.changed = True
    recorded = _graph_recorded(mailbox, entries)
    seen: set[str] = set()
    for entry in entries:
        if entry["id"] in seen:
            continue
        seen.add(entry["id"])
        if entry["id"] in recorded:
            result.count("duplicate")  # listed again because it changed: not downloaded again
            continue
        _graph_read_one(api, mailbox, entry, result, now)
    _set_cursor(mailbox, new_link)


def _graph_recorded(mailbox: MailboxConnection, entries: list[dict]) -> set[str]:
    """The Graph ids of entries already recorded as a reply, auto-reply or delivery report.

    A delta round lists an email again when it changed (read, flagged, categorised): those are
    not downloaded again. Found by the keys recording used (the Message-ID, else the Graph id),
    in one query for the round; an email that matched nothing left no row and is read again."""
    keys: dict[str, str] = {}
    for entry in entries:
        graph_id = str(entry["id"])
        keys[f"graph:{mailbox.pk}:{graph_id}"] = graph_id
        found = _MSGID.findall(str(entry.get("internetMessageId") or ""))
        if found:
            for prefix in ("reply", "auto", "dsn"):
                keys[f"{prefix}:{found[0]}"] = graph_id
    recorded = EngagementEvent.objects.filter(provider_event_id__in=list(keys)).values_list(
        "provider_event_id", flat=True
    )
    return {keys[key] for key in recorded}


def _graph_read_one(api: Graph, mailbox: MailboxConnection, entry: dict, result, now: datetime) -> None:
    graph_id = str(entry["id"])
    result.read += 1
    try:
        raw = api.mime(graph_id, limit=settings.MAILBOX_MAX_BODY_BYTES)
        headers_only = raw is None
        if raw is None:
            lines = [f"{h.get('name')}: {h.get('value')}" for h in api.headers(graph_id)]
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
    except NotFound:
        result.count("failed")
        logger.info("mailbox %s: Graph message %s was deleted before it was read", mailbox.pk, graph_id)
        return
    _receive(
        mailbox,
        raw=raw,
        key=f"graph:{mailbox.pk}:{graph_id}",
        thread_id=str(entry.get("conversationId") or ""),
        headers_only=headers_only,
        result=result,
        now=now,
    )


def _gmail_read_one(api: Gmail, mailbox: MailboxConnection, ref: dict, result, now: datetime) -> None:
    gmail_id = str(ref["id"])
    result.read += 1
    try:
        minimal = api.message(gmail_id, format="minimal")
    except NotFound:
        result.count("failed")
        logger.info("mailbox %s: Gmail message %s was deleted before it was read", mailbox.pk, gmail_id)
        return
    thread_id = str(minimal.get("threadId") or ref.get("threadId") or "")
    headers_only = int(minimal.get("sizeEstimate") or 0) > settings.MAILBOX_MAX_BODY_BYTES
    if headers_only:
        meta = api.message(gmail_id, format="metadata")
        lines = [f"{h.get('name')}: {h.get('value')}" for h in (meta.get("payload") or {}).get("headers") or []]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
    else:
        raw = b64url_decode(str(api.message(gmail_id, format="raw").get("raw") or ""))
    _receive(
        mailbox,
        raw=raw,
        key=f"gmail:{mailbox.pk}:{gmail_id}",
        thread_id=thread_id,
        headers_only=headers_only,
        result=result,
        now=now,
    )


def _receive(
    mailbox: MailboxConnection, *, raw: bytes, key: str, thread_id: str, headers_only: bool, result, now: datetime
) -> None:
    from outreach.mail.services.mailbox_sync import Handled, inbound_message_receive

    try:
        handled = inbound_message_receive(
            mailbox=mailbox, raw=raw, source_key=key, thread_id=thread_id, headers_only=headers_only, now=now
        )
    except Exception as exc:  # one bad email never stops the rest
        logger.exception("mailbox %s: %s could not be handled", mailbox.pk, key)
        handled = Handled("failed", f"{type(exc).__name__}: {exc}")
    result.count(handled.outcome)
    if handled.outcome in ("failed", "ignored", "duplicate") or headers_only:
        logger.info(
            "mailbox %s: %s %s: %s%s",
            mailbox.pk,
            key,
            handled.outcome,
            handled.reason,
            " (body over the limit, headers read)" if headers_only else "",
        )
