"""Local stand-ins for Google's and Microsoft's OAuth 2.0 authorization servers, the Gmail API and
Microsoft Graph mail, served over real HTTP on 127.0.0.1. The app's real clients (authlib, httpx) talk to them through the settings'
base URLs.

The authorization server implements what the app uses: the consent page (answered at once, as
if the person clicked "Allow"), the code exchange with PKCE (S256) verified, refresh, expiry and
revocation. The Gmail stub keeps one mailbox (messages with ids, thread ids, labels and a history
of additions), answers only with a valid bearer token, and implements profile, messages.send,
messages.list (q = rfc822msgid: / after:), messages.get (raw, metadata) and history.list (404
for a history id older than the oldest kept). Every request is recorded; `fail()` scripts 401,
429 with Retry-After, 500 on the next matching requests.

    stub = GoogleStub().start()
    stub.fail("/history", status=429, headers={"Retry-After": "1"}, times=2)
"""

from __future__ import annotations

import base64
import calendar
import email
import email.policy
import hashlib
import html
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "test-client.apps.googleusercontent.com"
CLIENT_SECRET = "test-client-secret"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Grant:
    scope: str
    refresh_token: str
    revoked: bool = False


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    label_ids: list[str]
    raw: bytes
    history_id: int
    internal_date: int  # ms since the epoch

    @property
    def headers(self) -> list[dict[str, str]]:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.compat32)
        return [{"name": k, "value": str(v)} for k, v in parsed.items()]

    def header(self, name: str) -> str:
        for h in self.headers:
            if h["name"].lower() == name.lower():
                return h["value"]
        return ""


class _Server:
    """A threaded HTTP server that records every request and routes it to `handle`."""

    name = "stub"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._faults: list[tuple[str, Reply, list[int]]] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    def start(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with stub._lock:
                    stub.requests.append(request)
                    reply = stub._fault_for(request) or stub.handle(request)
                data = (
                    b""
                    if reply.body is None
                    else (reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode())
                )
                try:
                    self.send_response(reply.status)
                    headers = {"content-type": "application/json", **reply.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _serve  # noqa: N815 - http.server's spelling

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.02,), name=self.name, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail(self, path_contains: str, *, status: int, times: int = 1, headers: dict | None = None, body=None) -> None:
        """The next `times` requests whose path contains `path_contains` get this answer."""
        reply = Reply(
            status, body if body is not None else {"error": {"code": status, "message": "scripted"}}, headers or {}
        )
        with self._lock:
            self._faults.append((path_contains, reply, [times]))

    def _fault_for(self, request: Recorded) -> Reply | None:
        for path, reply, left in self._faults:
            if path in request.path and left[0] > 0:
                left[0] -= 1
                return reply
        return None

    def requests_to(self, path_contains: str) -> list[Recorded]:
        return [r for r in self.requests if path_contains in r.path]

    def handle(self, request: Recorded) -> Reply:  # pragma: no cover - overridden
        raise NotImplementedError


class OAuthServerMixin:
    """Authorization code with PKCE, refresh (optionally rotating), expiry, revocation."""

    authorize_path = "/o/oauth2/v2/auth"
    token_path = "/token"
    revoke_path = "/revoke"

    def _oauth_init(self) -> None:
        self.expires_in = 3600
        self.rotate_refresh_tokens = False
        self.deny_consent = False
        # False: the consent page answers "Allow" at once (the Django test client). True: it is an
        # HTML page with Allow and Cancel buttons, for a browser to press.
        self.consent_page = False
        self.granted_scope: str | None = None  # None: what was asked for
        self.codes: dict[str, dict] = {}
        self.grants: dict[str, Grant] = {}  # by refresh token
        self.access_tokens: dict[str, tuple[Grant, float]] = {}  # token -> (grant, expires at)
        self.pkce_verified: list[str] = []  # code verifiers that matched their challenge
        self.authorize_requests: list[dict[str, str]] = []

    # --- what a test does to the provider's side ---------------------------------------------
    def expire_access_tokens(self) -> None:
        """Every access token issued so far has expired (the API answers 401)."""
        for token, (grant, _) in list(self.access_tokens.items()):
            self.access_tokens[token] = (grant, 0.0)

    def revoke_all(self) -> None:
        """The person removed the app's access in their account: every grant is revoked."""
        for grant in self.grants.values():
            grant.revoked = True

    def bearer_valid(self, request: Recorded) -> bool:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        entry = self.access_tokens.get(token)
        return bool(entry and not entry[0].revoked and entry[1] > time.time())

    @property
    def live_refresh_tokens(self) -> list[str]:
        return [t for t, g in self.grants.items() if not g.revoked]

    # --- endpoints ------------------------------------------------------------------------------
    def oauth_handle(self, request: Recorded) -> Reply | None:
        if request.method == "GET" and request.path == self.authorize_path:
            params = {k: v[0] for k, v in request.query.items()}
            if self.consent_page and params.get("client_id") == CLIENT_ID:
                return self._consent_page(params)
            return self._authorize(params)
        if request.method == "POST" and request.path == self.authorize_path:
            # The person pressed Allow or Cancel on the consent page.
            form = request.form
            return self._authorize(form, denied=form.pop("decision", "") != "allow")
        if request.method == "POST" and request.path == self.token_path:
            return self._token(request)
        if request.method == "POST" and request.path == self.revoke_path:
            token = request.form.get("token") or (request.query.get("token") or [""])[0]
            grant = self.grants.get(token) or (self.access_tokens.get(token, (None, 0))[0])
            if grant is None:
                return Reply(400, {"error": "invalid_token"})
            grant.revoked = True
            return Reply(200, {})
        return None

    consent_app_name = "Outreach Review"

    def _consent_page(self, params: dict[str, str]) -> Reply:
        """A provider's consent screen, reduced to what a person does there: read what the app asks
        for and press Allow (or Cancel). The authorization request travels in hidden fields."""
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in params.get("scope", "").split())
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
        )
        page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in · {self.name}</title></head>
<body><main><h1>{self.consent_app_name} wants to access your account</h1>
<p>Signed in as {html.escape(params.get("login_hint") or getattr(self, "address", ""))}</p><p>It asks for:</p><ul>{scopes}</ul>
<form method="post" action="{self.authorize_path}">{hidden}
<button type="submit" name="decision" value="cancel">Cancel</button>
<button type="submit" name="decision" value="allow">Allow</button></form></main></body></html>"""
        return Reply(200, page.encode(), {"content-type": "text/html; charset=utf-8"})

    def _authorize(self, params: dict[str, str], *, denied: bool = False) -> Reply:
        self.authorize_requests.append(params)
        redirect = params.get("redirect_uri", "")
        if params.get("client_id") != CLIENT_ID or params.get("response_type") != "code" or not redirect:
            return Reply(400, {"error": "invalid_request"})
        sep = "&" if "?" in redirect else "?"
        if self.deny_consent or denied:
            query = urlencode({"error": "access_denied", "state": params.get("state", "")})
            return Reply(302, None, {"location": f"{redirect}{sep}{query}"})
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return Reply(400, {"error": "invalid_request", "error_description": "PKCE is required"})
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": params["code_challenge"],
            "redirect_uri": redirect,
            "scope": self.granted_scope if self.granted_scope is not None else params.get("scope", ""),
        }
        query = urlencode({"code": code, "state": params.get("state", ""), "scope": self.codes[code]["scope"]})
        return Reply(302, None, {"location": f"{redirect}{sep}{query}"})

    def _client_ok(self, request: Recorded, form: dict[str, str]) -> bool:
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user == CLIENT_ID and password == CLIENT_SECRET
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET

    def _issue(self, grant: Grant, *, with_refresh: bool) -> dict:
        access = "at-" + secrets.token_urlsafe(16)
        self.access_tokens[access] = (grant, time.time() + self.expires_in)
        token = {"access_token": access, "token_type": "Bearer", "expires_in": self.expires_in, "scope": grant.scope}
        if with_refresh:
            token["refresh_token"] = grant.refresh_token
        return token

    def _token(self, request: Recorded) -> Reply:
        form = request.form
        if not self._client_ok(request, form):
            return Reply(401, {"error": "invalid_client"})
        if form.get("grant_type") == "authorization_code":
            entry = self.codes.pop(form.get("code", ""), None)
            if entry is None or entry["redirect_uri"] != form.get("redirect_uri"):
                return Reply(400, {"error": "invalid_grant"})
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not verifier or digest != entry["challenge"]:
                return Reply(400, {"error": "invalid_grant", "error_description": "code_verifier does not match"})
            self.pkce_verified.append(verifier)
            grant = Grant(scope=entry["scope"], refresh_token="rt-" + secrets.token_urlsafe(16))
            self.grants[grant.refresh_token] = grant
            return Reply(200, self._issue(grant, with_refresh=True))
        if form.get("grant_type") == "refresh_token":
            grant = self.grants.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked:
                return Reply(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
            if self.rotate_refresh_tokens:
                grant.revoked = True
                grant = Grant(scope=grant.scope, refresh_token="rt-" + secrets.token_urlsafe(16))
                self.grants[grant.refresh_token] = grant
            return Reply(200, self._issue(grant, with_refresh=self.rotate_refresh_tokens))
        return Reply(400, {"error": "unsupported_grant_type"})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class GoogleStub(OAuthServerMixin, _Server):
    """Google's authorization server and the Gmail API for one mailbox (`address`)."""

    name = "google-stub"

    def __init__(self, address: str = "rep1@team.example") -> None:
        super().__init__()
        self._oauth_init()
        self.address = address
        self.messages: dict[str, StoredMessage] = {}
        self.history: list[tuple[int, str]] = []  # (history id, message id added)
        self.history_id = 1000
        self.oldest_history_id = 0  # a startHistoryId below this answers 404
        self.page_size = 100
        self._ids = itertools.count(1)

    # --- the mailbox, as a test fills it ------------------------------------------------------
    def _add(self, raw: bytes, labels: list[str], thread_id: str | None = None) -> StoredMessage:
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        if thread_id is None:
            # Gmail threads a message with the one it answers.
            refs = re.findall(r"<[^<>\s]+>", f"{parsed.get('In-Reply-To', '')} {parsed.get('References', '')}")
            for m in self.messages.values():
                if m.header("Message-ID") in refs:
                    thread_id = m.thread_id
                    break
        message_id = f"{next(self._ids):016x}"
        self.history_id += 1
        stored = StoredMessage(
            id=message_id,
            thread_id=thread_id or message_id,
            label_ids=labels,
            raw=raw,
            history_id=self.history_id,
            internal_date=int(time.time() * 1000),
        )
        self.messages[message_id] = stored
        self.history.append((self.history_id, message_id))
        return stored

    def deliver(self, raw: bytes, *, thread_id: str | None = None) -> StoredMessage:
        """An email arrives in the inbox."""
        return self._add(raw, ["INBOX", "UNREAD"], thread_id)

    def sent(self) -> list[StoredMessage]:
        return [m for m in self.messages.values() if "SENT" in m.label_ids]

    def forget_history(self) -> None:
        """Google keeps history for a limited time: every stored history id is now too old."""
        self.oldest_history_id = self.history_id + 1
        self.history_id += 1

    # --- routing ------------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        oauth = self.oauth_handle(request)
        if oauth is not None:
            return oauth
        prefix = "/gmail/v1/users/me/"
        if not request.path.startswith(prefix):
            return Reply(404, {"error": {"code": 404, "message": "Not Found"}})
        if not self.bearer_valid(request):
            return Reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "Invalid Credentials"}})
        rest = request.path[len(prefix) :]
        q = {k: v[0] for k, v in request.query.items()}
        if request.method == "GET" and rest == "profile":
            return Reply(200, {"emailAddress": self.address, "historyId": str(self.history_id)})
        if request.method == "POST" and rest == "messages/send":
            raw = base64.urlsafe_b64decode(request.json["raw"] + "==")
            stored = self._add(raw, ["SENT"])
            return Reply(200, {"id": stored.id, "threadId": stored.thread_id, "labelIds": stored.label_ids})
        if request.method == "GET" and rest == "messages":
            return self._list(q, request.query.get("labelIds", []))
        if request.method == "GET" and rest.startswith("messages/"):
            stored = self.messages.get(rest.split("/", 1)[1])
            if stored is None:
                return Reply(404, {"error": {"code": 404, "message": "Requested entity was not found."}})
            body = {
                "id": stored.id,
                "threadId": stored.thread_id,
                "labelIds": stored.label_ids,
                "historyId": str(stored.history_id),
                "internalDate": str(stored.internal_date),
                "sizeEstimate": len(stored.raw),
            }
            if q.get("format") == "raw":
                body["raw"] = b64url(stored.raw)
            elif q.get("format") == "metadata":
                wanted = {h.lower() for h in request.query.get("metadataHeaders", [])}
                body["payload"] = {"headers": [h for h in stored.headers if not wanted or h["name"].lower() in wanted]}
            return Reply(200, body)
        if request.method == "GET" and rest == "history":
            return self._history(q)
        return Reply(404, {"error": {"code": 404, "message": "Not Found"}})

    def _list(self, q: dict[str, str], labels: list[str]) -> Reply:
        found = [m for m in self.messages.values() if all(label in m.label_ids for label in labels)]
        query = q.get("q", "")
        for term in query.split():
            if term.startswith("rfc822msgid:"):
                wanted = term.split(":", 1)[1].strip("<>")
                found = [m for m in found if m.header("Message-ID").strip().strip("<>") == wanted]
            elif term.startswith("after:"):
                after = int(term.split(":", 1)[1]) * 1000
                found = [m for m in found if m.internal_date > after]
        found.sort(key=lambda m: -m.internal_date)  # newest first, as Gmail lists
        start = int(q.get("pageToken") or 0)
        size = min(int(q.get("maxResults") or self.page_size), self.page_size)
        page = found[start : start + size]
        body: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if page:
            body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return Reply(200, body)

    def _history(self, q: dict[str, str]) -> Reply:
        start = int(q.get("startHistoryId") or 0)
        if start < self.oldest_history_id:
            return Reply(404, {"error": {"code": 404, "message": "Requested entity was not found."}})
        label = q.get("labelId")
        records = []
        for history_id, message_id in self.history:
            stored = self.messages[message_id]
            if history_id > start and (not label or label in stored.label_ids):
                records.append(
                    {
                        "id": str(history_id),
                        "messagesAdded": [
                            {"message": {"id": stored.id, "threadId": stored.thread_id, "labelIds": stored.label_ids}}
                        ],
                    }
                )
        offset = int(q.get("pageToken") or 0)
        page = records[offset : offset + self.page_size]
        body: dict[str, Any] = {"historyId": str(self.history_id)}
        if page:
            body["history"] = page
        if offset + self.page_size < len(records):
            body["nextPageToken"] = str(offset + self.page_size)
        return Reply(200, body)


@dataclass
class GraphMessage:
    id: str
    conversation_id: str
    folder: str  # inbox | sentitems
    raw: bytes
    change: int  # the delta round it was added or last changed in
    received: float
    is_read: bool = False

    def header(self, name: str) -> str:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.compat32)
        return str(parsed.get(name, ""))

    @property
    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversationId": self.conversation_id,
            "internetMessageId": self.header("Message-ID").strip(),
            "receivedDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.received)),
            "isRead": self.is_read,
        }


class MicrosoftStub(OAuthServerMixin, _Server):
    """Microsoft's identity platform (v2.0 endpoints; refresh tokens rotate, no revocation
    endpoint) and the Graph mail API for one mailbox (`address`)."""

    name = "microsoft-stub"
    authorize_path = "/common/oauth2/v2.0/authorize"
    token_path = "/common/oauth2/v2.0/token"
    revoke_path = "/no-such-endpoint"

    def __init__(self, address: str = "rep1@team.example") -> None:
        super().__init__()
        self._oauth_init()
        self.rotate_refresh_tokens = True
        self.address = address
        self.messages: dict[str, GraphMessage] = {}
        self.change = 0  # the current delta token
        self.oldest_token = 0  # an older $deltatoken answers 410 Gone
        self.page_size = 50
        self._ids = itertools.count(1)

    def _add(self, raw: bytes, folder: str, conversation_id: str | None = None) -> GraphMessage:
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        if conversation_id is None:
            refs = re.findall(r"<[^<>\s]+>", f"{parsed.get('In-Reply-To', '')} {parsed.get('References', '')}")
            for m in self.messages.values():
                if m.header("Message-ID").strip() in refs:
                    conversation_id = m.conversation_id
                    break
        self.change += 1
        message_id = f"AAMk{next(self._ids):06d}"
        stored = GraphMessage(
            id=message_id,
            conversation_id=conversation_id or f"AAQk{message_id}",
            folder=folder,
            raw=raw,
            change=self.change,
            received=time.time(),
        )
        self.messages[message_id] = stored
        return stored

    def deliver(self, raw: bytes, *, conversation_id: str | None = None) -> GraphMessage:
        return self._add(raw, "inbox", conversation_id)

    def sent(self) -> list[GraphMessage]:
        return [m for m in self.messages.values() if m.folder == "sentitems"]

    def mark_read(self, message: GraphMessage) -> None:
        """The person opens the email: the next delta round reports it again, as changed."""
        self.change += 1
        message.is_read = True
        message.change = self.change

    def forget_delta_tokens(self) -> None:
        self.change += 1
        self.oldest_token = self.change

    def handle(self, request: Recorded) -> Reply:
        oauth = self.oauth_handle(request)
        if oauth is not None:
            return oauth
        if not request.path.startswith("/v1.0/"):
            return Reply(404, {"error": {"code": "NotFound", "message": "no such path"}})
        if not self.bearer_valid(request):
            return Reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}})
        rest = request.path[len("/v1.0") :]
        q = {k: v[0] for k, v in request.query.items()}
        if request.method == "GET" and rest == "/me":
            return Reply(200, {"mail": self.address, "userPrincipalName": self.address})
        if request.method == "POST" and rest == "/me/sendMail":
            if not request.headers.get("content-type", "").startswith("text/plain"):
                return Reply(415, {"error": {"code": "UnsupportedMediaType", "message": "MIME needs text/plain"}})
            self._add(base64.b64decode(request.body), "sentitems")
            return Reply(202, None)
        if request.method == "GET" and rest == "/me/mailFolders/sentitems/messages":
            wanted = re.fullmatch(r"internetMessageId eq '(.*)'", q.get("$filter", ""))
            found = [m.resource for m in self.sent() if wanted and m.resource["internetMessageId"] == wanted.group(1)]
            return Reply(200, {"value": found})
        if request.method == "GET" and rest == "/me/mailFolders/inbox/messages/delta":
            return self._delta(q)
        match = re.fullmatch(r"/me/messages/([^/]+)(/\$value)?", rest)
        if request.method == "GET" and match:
            stored = self.messages.get(match.group(1))
            if stored is None:
                return Reply(404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}})
            if match.group(2):
                return Reply(200, stored.raw, {"content-type": "text/plain"})
            parsed = email.message_from_bytes(stored.raw, policy=email.policy.compat32)
            headers = [{"name": k, "value": str(v)} for k, v in parsed.items()]
            return Reply(200, {**stored.resource, "internetMessageHeaders": headers})
        return Reply(404, {"error": {"code": "NotFound", "message": "no such path"}})

    def _delta(self, q: dict[str, str]) -> Reply:
        base = f"{self.url}/v1.0/me/mailFolders/inbox/messages/delta"
        if "$deltatoken" in q:
            token = int(q["$deltatoken"])
            if token < self.oldest_token:
                return Reply(410, {"error": {"code": "SyncStateNotFound", "message": "The sync state is gone."}})
            found = [m for m in self.messages.values() if m.folder == "inbox" and m.change > token]
        else:
            since = q.get("$filter", "").removeprefix("receivedDateTime ge ")
            cutoff = calendar.timegm(time.strptime(since, "%Y-%m-%dT%H:%M:%SZ")) if since else 0
            found = [m for m in self.messages.values() if m.folder == "inbox" and m.received >= cutoff]
        offset = int(q.get("$skiptoken") or 0)
        page = found[offset : offset + self.page_size]
        body: dict[str, Any] = {"value": [m.resource for m in page]}
        if offset + self.page_size < len(found):
            body["@odata.nextLink"] = f"{base}?{urlencode({**q, '$skiptoken': offset + self.page_size})}"
        else:
            body["@odata.deltaLink"] = f"{base}?{urlencode({'$deltatoken': self.change})}"
        return Reply(200, body)


class MailOAuthStub(OAuthServerMixin, _Server):
    """Any other mail provider's OAuth 2.0 authorization server (consent, code exchange with PKCE,
    refresh, expiry, RFC 7009 revocation), whose IMAP and SMTP servers take its access tokens
    (XOAUTH2). It has no mail API: the servers ask it who a token belongs to through RFC 7662
    token introspection (`POST /introspect`), as Dovecot's oauth2 passdb does. Its tokens belong
    to one mailbox (`address`)."""

    name = "mail-oauth-stub"
    authorize_path = "/oauth2/authorize"
    token_path = "/oauth2/token"
    revoke_path = "/oauth2/revoke"
    introspect_path = "/introspect"

    def __init__(self, address: str = "rep1@team.example") -> None:
        super().__init__()
        self._oauth_init()
        self.address = address

    def token_user(self, token: str) -> str:
        """Whose mailbox the token opens, or "" when it is unknown, expired or revoked."""
        entry = self.access_tokens.get(token)
        return self.address if entry and not entry[0].revoked and entry[1] > time.time() else ""

    def handle(self, request: Recorded) -> Reply:
        oauth = self.oauth_handle(request)
        if oauth is not None:
            return oauth
        if request.method == "POST" and request.path == self.introspect_path:
            user = self.token_user(request.form.get("token", ""))
            return Reply(200, {"active": True, "username": user} if user else {"active": False})
        return Reply(404, {"error": "not_found"})
