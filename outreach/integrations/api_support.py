"""What every app's `api.py` shares: token auth with scopes and rate limits, JSON errors
(`{detail, field}`), cursor pagination and Idempotency-Key. No app knowledge lives here, so
review and campaigns may import it (downwards)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from typing import Annotated, Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema
from ninja.responses import NinjaJSONEncoder
from ninja.security import HttpBearer
from pydantic import WithJsonSchema
from pydantic_core import core_schema

from outreach.core import public_ids
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
    """Every refusal: what is wrong, and the field it is about (null: the request as a whole)."""

    detail: str
    field: str | None = None


class FieldErrorOut(Schema):
    detail: str
    field: str | None = None


class ValidationErrorOut(ErrorOut):
    """A 422: the first problem in detail/field, and every problem in errors (at least one)."""

    errors: list[FieldErrorOut] = Field(..., min_length=1)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer orv_…`; the request then acts as the token's user.

    With scopes, a token holding none of them gets 403 (reads accept the matching write scope, so
    the documented scopes suffice to read back what they created). Every authenticated request
    counts against the token's per-minute limit (429 with Retry-After beyond it)."""

    def __init__(self, *scopes: str) -> None:
        super().__init__()
        self.scopes = tuple(s for s in scopes if s)

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        api_token = api_tokens.api_token_authenticate(secret=token.strip())
        if api_token is None:
            raise ApiError(401, "Invalid or revoked API token.", field="Authorization")
        if self.scopes and not set(self.scopes) & set(api_token.scopes):
            needed = " or ".join(f"'{s}'" for s in self.scopes)
            raise ApiError(403, f"This token lacks the scope {needed}.", field="scope")
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


def token_auth(*scopes: str) -> TokenAuth:
    """Any one of these scopes lets the request in."""
    return TokenAuth(*scopes)


def require_perm(request: HttpRequest, perm: str, message: str) -> None:
    """The token's user must hold this role permission, as in the browser."""
    if not request.user.has_perm(perm):
        raise ApiError(403, message, field=None)


# --- Public ids ---------------------------------------------------------------------------------


def _id_schema(prefix: str) -> dict:
    noun = public_ids.KINDS[prefix]
    return {
        "type": "string",
        "pattern": f"^{prefix}_[a-z2-7]{{26}}$",
        "description": f"{'An' if noun[0] in 'aeiou' else 'A'} {noun} id ({prefix}_…), as returned by this API.",
    }


@dataclasses.dataclass(frozen=True)
class PublicIdIn:
    """Annotated[int, PublicIdIn("ctc")]: a public id accepted in a path, a query or a body;
    `ctc_…` becomes the row's pk. A number, another kind's id or a made-up one is a 422 naming the
    field (ids are never guessable from row counts, so numbers are not accepted)."""

    prefix: str

    def to_pk(self, value: Any) -> int:
        pk = public_ids.decode(self.prefix, value) if isinstance(value, str) else None
        if pk is None or pk < 1:
            noun = public_ids.KINDS[self.prefix]
            raise ValueError(f"not a {noun} id: give a {self.prefix}_… id returned by this API")
        return pk

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.to_pk)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict:
        return _id_schema(self.prefix)


@dataclasses.dataclass(frozen=True)
class PublicIdOut:
    """Annotated[int, PublicIdOut("ctc")]: a row's pk, shown as its public id (`ctc_…`)."""

    prefix: str

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        prefix = self.prefix
        return core_schema.int_schema(
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda pk: public_ids.encode(prefix, pk), return_schema=core_schema.str_schema()
            )
        )

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict:
        return _id_schema(self.prefix)


# --- Enums ------------------------------------------------------------------------------------


def named_enum(choices: Any, name: str, description: str = "") -> WithJsonSchema:
    """A Django choices class (or a list of values), inlined in the schema under its own name:
    several models' choices share a class name (Kind, State, Status), and as components they
    overwrote each other. On an output field, annotate `str` with it (`Annotated[str,
    named_enum(...)]`): the schema promises the values, the stored text is answered as it is."""
    values = list(choices.values) if hasattr(choices, "values") else list(choices)
    schema: dict[str, Any] = {"type": "string", "enum": values, "title": name}
    if description:
        schema["description"] = description
    return WithJsonSchema(schema)


# One pair per kind: `…Id` is accepted (paths, queries, bodies), `…Ref` is shown.
InboxId = Annotated[int, PublicIdIn("inb")]
InboxRef = Annotated[int, PublicIdOut("inb")]
ContactId = Annotated[int, PublicIdIn("ctc")]
ContactRef = Annotated[int, PublicIdOut("ctc")]
FactRef = Annotated[int, PublicIdOut("fct")]
SequenceId = Annotated[int, PublicIdIn("seq")]
SequenceRef = Annotated[int, PublicIdOut("seq")]
StepRef = Annotated[int, PublicIdOut("stp")]
EnrollmentId = Annotated[int, PublicIdIn("enr")]
EnrollmentRef = Annotated[int, PublicIdOut("enr")]
DraftId = Annotated[int, PublicIdIn("drf")]
DraftRef = Annotated[int, PublicIdOut("drf")]
MessageId = Annotated[int, PublicIdIn("msg")]
MessageRef = Annotated[int, PublicIdOut("msg")]
SuppressionRef = Annotated[int, PublicIdOut("sup")]
SuppressionListId = Annotated[int, PublicIdIn("spl")]
SuppressionListRef = Annotated[int, PublicIdOut("spl")]
WebhookId = Annotated[int, PublicIdIn("whk")]
WebhookRef = Annotated[int, PublicIdOut("whk")]
DeliveryId = Annotated[int, PublicIdIn("dlv")]
DeliveryRef = Annotated[int, PublicIdOut("dlv")]
SenderConfigRef = Annotated[int, PublicIdOut("scf")]
AutomationId = Annotated[int, PublicIdIn("aut")]
AutomationRef = Annotated[int, PublicIdOut("aut")]
RuleId = Annotated[int, PublicIdIn("rul")]
RuleRef = Annotated[int, PublicIdOut("rul")]


def public_id(prefix: str, pk: int | None) -> str | None:
    return public_ids.encode_or_none(prefix, pk)


# --- Cursor pagination ------------------------------------------------------------------------

MAX_LIMIT = 200


def _decode_cursor(cursor: str | None) -> int:
    # A cursor is opaque too (cur_…): a page boundary does not tell how many rows exist.
    if not cursor:
        return 0
    position = public_ids.decode("cur", cursor)
    if position is None or position > 2**62:
        raise ApiError(422, "Invalid cursor: pass the next_cursor of a previous page.", field="cursor")
    return position


def encode_cursor(position: int) -> str:
    return public_ids.encode("cur", position)


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
    wrapper.idempotent = True  # type: ignore[attr-defined]  # the schema declares Idempotency-Key
    return wrapper


ERRORS: dict[int, type] = {**dict.fromkeys((400, 401, 403, 404, 409, 413, 429), ErrorOut), 422: ValidationErrorOut}
