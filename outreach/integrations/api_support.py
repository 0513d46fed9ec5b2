"""What every app's `api.py` shares: token auth with scopes and rate limits, JSON errors
(`{detail, field}`), cursor pagination and Idempotency-Key. No app knowledge lives here, so
review and campaigns may import it (downwards)."""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Schema
from ninja.responses import NinjaJSONEncoder
from ninja.security import HttpBearer

from outreach.integrations.models import ApiToken
from outreach.integrations.services import tokens as api_tokens


class ApiError(Exception):
    """An API refusal with a status, a message and the field it is about."""

    def __init__(self, status: int, detail: str, *, field: str | None = None, headers: dict | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}


def username(user: Any) -> str:
    return user.get_username()


class ErrorOut(Schema):
    detail: str
    field: str | None = None


class TokenAuth(HttpBearer):
    """`Authorization: Bearer orv_…`; the request then acts as the token's user.

    With a scope, a token without it gets 403. Every authenticated request counts against the
    token's per-minute limit (429 with Retry-After beyond it)."""

    def __init__(self, scope: str | None = None) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        api_token = api_tokens.api_token_authenticate(secret=token.strip())
        if api_token is None:
            raise ApiError(401, "Invalid or revoked API token.", field="Authorization")
        if self.scope and self.scope not in api_token.scopes:
            raise ApiError(403, f"This token lacks the scope '{self.scope}'.", field="scope")
        retry_after = api_tokens.api_token_rate_limit_hit(token=api_token)
        if retry_after is not None:
            raise ApiError(
                429,
                f"Rate limit exceeded; try again in {retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )
        # Act as that user with that user's permissions, exactly as in the browser.
        request.user = api_token.user
        return api_token


def token_auth(scope: str | None = None) -> TokenAuth:
    return TokenAuth(scope)


def require_perm(request: HttpRequest, perm: str, message: str) -> None:
    """The token's user must hold this role permission, as in the browser."""
    if not request.user.has_perm(perm):
        raise ApiError(403, message, field=None)


# --- Cursor pagination ------------------------------------------------------------------------

MAX_LIMIT = 200


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("ascii")
        if not value.startswith("id:"):
            raise ValueError
        position = int(value[3:])
    except (ValueError, UnicodeError, binascii.Error):
        raise ApiError(422, "Invalid cursor: pass the next_cursor of a previous page.", field="cursor") from None
    if position < 0 or position > 2**62:
        raise ApiError(422, "Invalid cursor: pass the next_cursor of a previous page.", field="cursor")
    return position


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"id:{position}".encode("ascii")).decode("ascii").rstrip("=")


def filter_given(queryset: QuerySet, **lookups: Any) -> QuerySet:
    """Filter by each lookup whose query parameter was given (an omitted one is None or "")."""
    return queryset.filter(**{lookup: value for lookup, value in lookups.items() if value not in (None, "")})


def paginate(queryset: QuerySet, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Keyset pagination by id (stable under inserts): {"items": [...], "next_cursor": str | None}."""
    limit = max(1, min(limit, MAX_LIMIT))
    after = _decode_cursor(cursor)
    rows = list(queryset.filter(pk__gt=after).order_by("pk")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].pk) if has_more and rows else None}


# --- Idempotency-Key --------------------------------------------------------------------------


def _as_json(body: Any) -> str:
    """The JSON text ninja itself would answer with (its encoder); stored as text so a replay is
    byte for byte the first answer."""
    if hasattr(body, "model_dump"):
        body = body.model_dump()
    return json.dumps(body, cls=NinjaJSONEncoder)


def _json_response(status: int, body: str, *, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view):
    """Make a creating endpoint safe to retry: the same Idempotency-Key and body within 24 hours
    replays the first response (one row created); the same key with another body is refused (422).

    The view must return (status, body) with a JSON-able body or a Schema instance; the wrapper
    answers with that JSON itself, so a replay is byte-for-byte the first answer."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            status, body = view(request, *args, **kwargs)
            return _json_response(status, _as_json(body))
        if len(key) > 255:
            raise ApiError(422, "Idempotency-Key is longer than 255 characters.", field="Idempotency-Key")
        token = request.auth  # type: ignore[attr-defined]
        fingerprint = api_tokens.request_fingerprint(method=request.method or "", path=request.path, body=request.body)

        def replay(stored):
            if stored.request_hash != fingerprint:
                raise ApiError(
                    422,
                    "This Idempotency-Key was used with a different request; use a new key.",
                    field="Idempotency-Key",
                )
            return _json_response(stored.response_status, stored.response_body, replayed=True)

        stored = api_tokens.idempotency_lookup(token=token, key=key)
        if stored is not None:
            return replay(stored)
        try:
            with transaction.atomic():
                status, body = view(request, *args, **kwargs)
                body = _as_json(body)
                api_tokens.idempotency_store(token=token, key=key, request_hash=fingerprint, status=status, body=body)
        except IntegrityError:
            # A concurrent retry with the same key won; answer with its response.
            stored = api_tokens.idempotency_lookup(token=token, key=key)
            if stored is None:
                raise
            return replay(stored)
        return _json_response(status, body)

    # ninja reads the view's parameters from the signature; resolve the string annotations in the
    # view's own module (with `from __future__ import annotations` they are not yet types).
    wrapper.__signature__ = inspect.signature(view, eval_str=True)  # type: ignore[attr-defined]
    return wrapper


ERRORS: dict[int, type] = dict.fromkeys((400, 401, 403, 404, 409, 413, 422, 429), ErrorOut)
