"""OAuth 2.0 and the mail APIs of Google (Gmail) and Microsoft 365 (Graph): thin transport.

The authorization code flow with PKCE (S256) and offline access, refresh and revocation go through
authlib's OAuth2Client; API calls are plain httpx with a bearer token. Every URL is a setting, so
tests point them at local stub servers. What a mailbox does with these calls (tokens stored
encrypted, holds, matching) lives in `outreach.mail.services.oauth_mailboxes`.

Errors a caller must tell apart:
- GrantRevoked: the provider refuses the stored grant (invalid_grant, or 401 right after a
  refresh): the mailbox needs re-authorization.
- RateLimited: 429 with a Retry-After longer than we wait in place.
- ApiError: anything else (5xx after a retry, 4xx, network): try again later.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from django.conf import settings

GOOGLE = "google"
MICROSOFT = "microsoft"
# Any other provider: its IMAP and SMTP servers take the access token (SASL XOAUTH2); no mail API.
IMAP_OAUTH = "imap_oauth"

GOOGLE_SCOPES = (
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
)
MICROSOFT_SCOPES = (
    "offline_access",
    "https://graph.microsoft.com/User.Read",
    "https://graph.microsoft.com/Mail.Send",
    "https://graph.microsoft.com/Mail.Read",
)
# A token is refreshed when it has less than this left, not when a call fails.
REFRESH_LEEWAY_SECONDS = 300
RETRIES_IN_PLACE = 3


@dataclass(frozen=True)
class OAuthProvider:
    kind: str
    label: str
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    revoke_url: str
    api_base_url: str
    scopes: tuple[str, ...]
    # Google gives a refresh token only with access_type=offline (and again only with consent).
    authorize_params: dict[str, str] = field(default_factory=dict)


# Providers whose whole path (connect, send, read, recover) is built.
READY = (GOOGLE, MICROSOFT, IMAP_OAUTH)


def oauth_provider(kind: str) -> OAuthProvider | None:
    """The provider's configuration, or None when its client id is not set (or it is not READY)."""
    if kind not in READY:
        return None
    if kind == GOOGLE and settings.GOOGLE_OAUTH_CLIENT_ID:
        return OAuthProvider(
            kind=GOOGLE,
            label="Google",
            client_id=settings.GOOGLE_OAUTH_CLIENT_ID,
            client_secret=settings.GOOGLE_OAUTH_CLIENT_SECRET,
            authorize_url=settings.GOOGLE_OAUTH_AUTHORIZE_URL,
            token_url=settings.GOOGLE_OAUTH_TOKEN_URL,
            revoke_url=settings.GOOGLE_OAUTH_REVOKE_URL,
            api_base_url=settings.GMAIL_API_BASE_URL,
            scopes=GOOGLE_SCOPES,
            authorize_params={"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"},
        )
    if kind == MICROSOFT and settings.MICROSOFT_OAUTH_CLIENT_ID:
        return OAuthProvider(
            kind=MICROSOFT,
            label="Microsoft 365",
            client_id=settings.MICROSOFT_OAUTH_CLIENT_ID,
            client_secret=settings.MICROSOFT_OAUTH_CLIENT_SECRET,
            authorize_url=settings.MICROSOFT_OAUTH_AUTHORIZE_URL,
            token_url=settings.MICROSOFT_OAUTH_TOKEN_URL,
            revoke_url="",  # Microsoft has no endpoint that revokes one app's refresh token
            api_base_url=settings.GRAPH_API_BASE_URL,
            scopes=MICROSOFT_SCOPES,
            authorize_params={"prompt": "select_account"},
        )
    if kind == IMAP_OAUTH and settings.MAILBOX_OAUTH_CLIENT_ID:
        return OAuthProvider(
            kind=IMAP_OAUTH,
            label=settings.MAILBOX_OAUTH_LABEL,
            client_id=settings.MAILBOX_OAUTH_CLIENT_ID,
            client_secret=settings.MAILBOX_OAUTH_CLIENT_SECRET,
            authorize_url=settings.MAILBOX_OAUTH_AUTHORIZE_URL,
            token_url=settings.MAILBOX_OAUTH_TOKEN_URL,
            revoke_url=settings.MAILBOX_OAUTH_REVOKE_URL,
            api_base_url="",  # mail goes through the IMAP and SMTP servers
            scopes=tuple(settings.MAILBOX_OAUTH_SCOPES.split()),
        )
    return None


def oauth_providers_configured() -> list[OAuthProvider]:
    return [p for p in (oauth_provider(GOOGLE), oauth_provider(MICROSOFT), oauth_provider(IMAP_OAUTH)) if p]


class ApiError(Exception):
    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


class GrantRevoked(ApiError):
    """The provider no longer accepts the grant: a person must authorize again."""


class RateLimited(ApiError):
    pass


class NotFound(ApiError):
    pass


def _oauth_client(provider: OAuthProvider, *, redirect_uri: str | None = None) -> OAuth2Client:
    return OAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope=" ".join(provider.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
        revocation_endpoint_auth_method="client_secret_post",
        timeout=settings.MAILBOX_API_TIMEOUT,
    )


def authorization_url(
    provider: OAuthProvider, *, redirect_uri: str, state: str, code_verifier: str, login_hint: str = ""
) -> str:
    extra = dict(provider.authorize_params)
    if login_hint:
        extra["login_hint"] = login_hint
    with _oauth_client(provider, redirect_uri=redirect_uri) as client:
        url, _ = client.create_authorization_url(
            provider.authorize_url, state=state, code_verifier=code_verifier, **extra
        )
    return url


def _token_dict(token: dict) -> dict[str, Any]:
    """What we keep of a token response: never the id token or anything else."""
    expires_in = token.get("expires_in")
    expires_at = token.get("expires_at") or (time.time() + float(expires_in) if expires_in else None)
    return {
        "access_token": token.get("access_token", ""),
        "refresh_token": token.get("refresh_token", ""),
        "expires_at": float(expires_at) if expires_at else None,
        "scope": token.get("scope", ""),
    }


def _token_call(call: Callable[[], dict], what: str) -> dict[str, Any]:
    try:
        return _token_dict(call())
    except OAuthError as exc:
        if exc.error in ("invalid_grant", "unauthorized_client", "interaction_required", "consent_required"):
            raise GrantRevoked(f"{what}: {exc.error} ({exc.description or 'no description'})") from exc
        raise ApiError(f"{what}: {exc.error} ({exc.description or 'no description'})") from exc
    except Exception as exc:  # network, 5xx, a body that is not a token: try again later
        raise ApiError(f"{what}: {type(exc).__name__}: {exc}") from exc


def code_exchange(provider: OAuthProvider, *, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
    with _oauth_client(provider, redirect_uri=redirect_uri) as client:
        return _token_call(
            lambda: client.fetch_token(
                provider.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
            ),
            "The code exchange failed",
        )


def token_refresh(provider: OAuthProvider, *, refresh_token: str) -> dict[str, Any]:
    """A fresh access token. The answer may carry a new refresh token (Microsoft rotates them)."""
    if not refresh_token:
        raise GrantRevoked("No refresh token is stored.")
    with _oauth_client(provider) as client:
        return _token_call(
            lambda: client.refresh_token(provider.token_url, refresh_token=refresh_token), "The token refresh failed"
        )


def token_revoke(provider: OAuthProvider, *, token: str) -> None:
    """RFC 7009 revocation where the provider has an endpoint (Google). Raises ApiError."""
    if not provider.revoke_url or not token:
        return
    with _oauth_client(provider) as client:
        try:
            response = client.revoke_token(provider.revoke_url, token=token, token_type_hint="refresh_token")
        except Exception as exc:
            raise ApiError(f"{type(exc).__name__}: {exc}") from exc
    # 400 is Google's answer for a token that is already invalid: nothing left to revoke.
    if response.status_code > 400:
        raise ApiError(f"the revoke endpoint answered {response.status_code}", status=response.status_code)


# --- Authorized API calls ----------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)[:300]
    return str(error or body)[:300]


class MailApi:
    """Calls one mailbox's API with its bearer token.

    `access_token(stale)` returns a usable token; given the token a call was refused with, it
    refreshes (once per stale token) or raises GrantRevoked. A 401 is refreshed and retried once;
    a 429 with a short Retry-After and a 5xx are retried in place; the rest raise."""

    def __init__(self, base_url: str, access_token: Callable[[str | None], str]) -> None:
        self.base_url = base_url.rstrip("/")
        self._access_token = access_token
        self._http = httpx.Client(timeout=settings.MAILBOX_API_TIMEOUT)
        self.requests = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        extra_headers = kwargs.pop("headers", None) or {}
        token = self._access_token(None)
        refreshed = False
        waits = 0
        server_errors = 0
        while True:
            try:
                self.requests += 1
                headers = {**extra_headers, "Authorization": f"Bearer {token}"}
                response = self._http.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise ApiError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
            status = response.status_code
            if status == 401:
                if refreshed:
                    raise GrantRevoked(f"{method} {path}: refused a freshly refreshed token", status=401)
                token = self._access_token(token)
                refreshed = True
                continue
            if status == 429:
                retry_after = _retry_after(response)
                wait = 1.0 if retry_after is None else retry_after
                if waits < RETRIES_IN_PLACE and wait <= settings.MAILBOX_API_RETRY_AFTER_MAX_SECONDS:
                    waits += 1
                    time.sleep(wait)
                    continue
                raise RateLimited(f"{method} {path}: rate limited", status=429, retry_after=wait)
            if status >= 500:
                if server_errors < 1:
                    server_errors += 1
                    time.sleep(0.2)
                    continue
                raise ApiError(f"{method} {path}: {status} {_error_text(response)}", status=status)
            if status == 404:
                raise NotFound(f"{method} {path}: 404 {_error_text(response)}", status=404)
            if status >= 400:
                raise ApiError(f"{method} {path}: {status} {_error_text(response)}", status=status)
            return response

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, path, **kwargs)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise ApiError(f"{method} {path}: the answer is not JSON") from exc
        return body if isinstance(body, dict) else {}


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Gmail(MailApi):
    """The Gmail API calls a mailbox uses (users.* of the signed-in user)."""

    PREFIX = "/gmail/v1/users/me"

    def profile(self) -> dict[str, Any]:
        return self.json("GET", f"{self.PREFIX}/profile")

    def send_raw(self, raw: bytes) -> dict[str, Any]:
        """users.messages.send with the whole RFC 5322 message: our headers are kept."""
        return self.json("POST", f"{self.PREFIX}/messages/send", json={"raw": b64url_encode(raw)})

    def message(self, message_id: str, *, format: str, headers: tuple[str, ...] = ()) -> dict[str, Any]:
        params: list[tuple[str, str]] = [("format", format)]
        params += [("metadataHeaders", h) for h in headers]
        return self.json("GET", f"{self.PREFIX}/messages/{message_id}", params=params)

    def message_ids(self, *, q: str, label: str = "", limit: int = 500) -> list[dict[str, str]]:
        """users.messages.list, every page up to `limit`: [{"id", "threadId"}], newest first."""
        found: list[dict[str, str]] = []
        page = ""
        while len(found) < limit:
            params: dict[str, Any] = {"q": q, "maxResults": min(100, limit - len(found))}
            if label:
                params["labelIds"] = label
            if page:
                params["pageToken"] = page
            body = self.json("GET", f"{self.PREFIX}/messages", params=params)
            found += body.get("messages") or []
            page = body.get("nextPageToken") or ""
            if not page:
                break
        return found

    def history(self, *, start_history_id: str, label: str, page_token: str = "") -> dict[str, Any]:
        """users.history.list of messages added since the id (NotFound: the id is too old)."""
        params = {"startHistoryId": start_history_id, "historyTypes": "messageAdded", "labelId": label}
        if page_token:
            params["pageToken"] = page_token
        return self.json("GET", f"{self.PREFIX}/history", params=params)


class Graph(MailApi):
    """The Microsoft Graph mail calls a mailbox uses (of the signed-in user)."""

    INBOX_DELTA = "/me/mailFolders/inbox/messages/delta"
    SELECT = "id,conversationId,internetMessageId,receivedDateTime"

    def me(self) -> dict[str, Any]:
        return self.json("GET", "/me", params={"$select": "mail,userPrincipalName"})

    def send_mime(self, raw: bytes) -> None:
        """POST /me/sendMail with the whole MIME message, base64 (text/plain): headers are kept."""
        self.request("POST", "/me/sendMail", content=base64.b64encode(raw), headers={"Content-Type": "text/plain"})

    def sent_items(self, *, internet_message_id: str) -> list[dict[str, Any]]:
        quoted = internet_message_id.replace("'", "''")
        body = self.json(
            "GET",
            "/me/mailFolders/sentitems/messages",
            params={"$filter": f"internetMessageId eq '{quoted}'", "$select": self.SELECT},
        )
        return list(body.get("value") or [])

    def delta_start(self, *, since_iso: str) -> str:
        """The Inbox's first delta URL: what arrives from `since_iso` on."""
        return (
            f"{self.base_url}{self.INBOX_DELTA}?"
            + httpx.QueryParams({"$filter": f"receivedDateTime ge {since_iso}", "$select": self.SELECT}).__str__()
        )

    def delta_page(self, url: str) -> dict[str, Any]:
        """One page of a delta query (NotFound-like Gone raises DeltaExpired)."""
        try:
            return self.json("GET", url, headers={"Prefer": "odata.maxpagesize=50"})
        except ApiError as exc:
            if exc.status == 410 or "syncStateNotFound" in exc.message or "SyncStateNotFound" in exc.message:
                raise DeltaExpired(exc.message, status=exc.status) from exc
            raise

    def mime(self, message_id: str, *, limit: int) -> bytes | None:
        """The message's MIME, or None when it is larger than `limit` (read no further)."""
        url = f"{self.base_url}/me/messages/{message_id}/$value"
        token = self._access_token(None)
        for attempt in range(2):
            with self._http.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
                self.requests += 1
                if response.status_code == 401 and attempt == 0:
                    token = self._access_token(token)
                    continue
                if response.status_code == 404:
                    raise NotFound(f"GET {url}: 404", status=404)
                if response.status_code == 429:
                    wait = _retry_after(response)
                    raise RateLimited(f"GET {url}: rate limited", status=429, retry_after=wait)
                if response.status_code >= 400:
                    raise ApiError(f"GET {url}: {response.status_code}", status=response.status_code)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        return None
                    chunks.append(chunk)
                return b"".join(chunks)
        raise GrantRevoked(f"GET {url}: refused a freshly refreshed token", status=401)

    def headers(self, message_id: str) -> list[dict[str, str]]:
        body = self.json("GET", f"/me/messages/{message_id}", params={"$select": "internetMessageHeaders"})
        return list(body.get("internetMessageHeaders") or [])


class DeltaExpired(ApiError):
    """Graph no longer knows the stored delta token (410 Gone / syncStateNotFound)."""
