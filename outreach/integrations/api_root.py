"""The one NinjaAPI under /v1/ (alias /api/v1/) and its JSON error handlers. Only `outreach/urls.py` imports
this module; it mounts every app's router (`outreach/api.py`, `review/api.py`, `campaigns/api.py`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.operation import Operation

from outreach.core.errors import ApplicationError
from outreach.integrations.api_events import webhooks_openapi
from outreach.integrations.api_support import ApiError, TokenAuth
from outreach.integrations.middleware import body_too_large_detail

EXAMPLES_FILE = Path(__file__).with_name("documented_examples.json")
# The documented integration examples, shown as request examples (tests replay the same file).
EXAMPLE_BODIES = {
    "contact_upsert": ("contact",),
    # out_of_office_sequence is ours (the option the documented bodies leave at its default, off).
    "sequence_create": ("sequence", "prompt_sequence", "out_of_office_sequence"),
    "enrollment_create": ("template_enrollment", "ad_hoc_enrollment", "automation_enrollment"),
    "enrollment_update": ("cancel",),
}
# Refusals that only some operations can make.
BODY_ERRORS = {400, 413}  # only where a body is read (400: not JSON; a service refusing it)
CONFLICT_OPERATIONS = {
    "contact_upsert",
    "enrollment_create",
    "enrollment_update",
    "automation_create",
    "draft_approve",
    "suppression_create",
    "webhook_update",
}


class OutreachApi(NinjaAPI):
    """The NinjaAPI with a schema clients can be generated from: operationIds are the view names
    (stable when code moves), each operation says the scopes it needs and declares the headers it
    reads and answers with, and lists only the refusals it can make."""

    def get_openapi_operation_id(self, operation: Operation) -> str:
        name = operation.view_func.__name__
        self._operations_by_id[name] = operation
        return name

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None) -> Any:
        self._operations_by_id: dict[str, Operation] = {}
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        examples = json.loads(EXAMPLES_FILE.read_text())
        for path, methods in schema["paths"].items():
            for method, details in methods.items():
                operation = self._operations_by_id.get(details.get("operationId", ""))
                if operation is not None:
                    _describe(path, method, details, operation, examples)
        schema["webhooks"] = webhooks_openapi(schema.setdefault("components", {}).setdefault("schemas", {}))
        return schema


def _scopes(operation: Operation) -> tuple[str, ...]:
    for auth in operation.auth_callbacks or ():
        if isinstance(auth, TokenAuth):
            return auth.scopes
    return ()


def _describe(path: str, method: str, details: dict, operation: Operation, examples: dict) -> None:
    op_id = details["operationId"]
    scopes = _scopes(operation)
    if scopes:
        needed = " or ".join(f"`{s}`" for s in scopes)
        details["description"] = "\n\n".join(
            p for p in (details.get("description", ""), f"Required scope: {needed}.") if p
        )
        details["x-required-scopes"] = list(scopes)
    responses = details.get("responses", {})
    has_body = "requestBody" in details
    if not has_body:
        for code in BODY_ERRORS:
            responses.pop(code, None)
    if op_id not in CONFLICT_OPERATIONS:
        responses.pop(409, None)
    if "{" not in path and method != "delete":
        responses.pop(404, None)
    if not scopes:
        for code in (401, 403, 429):
            responses.pop(code, None)
    if 429 in responses:
        responses[429]["headers"] = {
            "Retry-After": {"description": "Whole seconds until the next request fits.", "schema": {"type": "integer"}}
        }
    if getattr(operation.view_func, "idempotent", False):
        details.setdefault("parameters", []).append(
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "description": "Retry safely: the same key and body within 24 hours replays the first response.",
                "schema": {"type": "string", "maxLength": 255},
            }
        )
        for code, response in responses.items():
            if 200 <= int(code) < 300:
                response["headers"] = {
                    "Idempotent-Replayed": {
                        "description": "true when this is the stored answer to an earlier request with the same key.",
                        "schema": {"type": "string", "enum": ["true"]},
                    }
                }
    names = EXAMPLE_BODIES.get(op_id, ())
    content = details.get("requestBody", {}).get("content", {}).get("application/json")
    if names and content is not None:
        content["examples"] = {name: {"value": examples[name]} for name in names}
    # A body schema may carry its own examples (`request_examples`: name -> value).
    own = _own_examples(operation)
    if own and content is not None:
        content.setdefault("examples", {}).update({name: {"value": value} for name, value in own.items()})


def _own_examples(operation: Operation) -> dict:
    for model in getattr(operation, "models", ()) or ():
        for field in getattr(model, "model_fields", {}).values():
            found = getattr(field.annotation, "request_examples", None)
            if found:
                return found
    return {}


api = OutreachApi(
    title="Outreach Review API",
    version="1.0.0",
    description=(
        "Contacts, inboxes, sequences, enrollments, suppressions, drafts, messages with their send results, "
        "and emitted events. Authenticate with `Authorization: Bearer orv_…` (a personal token from Settings → "
        "API tokens); each operation names the scope it needs. Ids are opaque prefixed strings (`ctc_…`, "
        "`seq_…`). Every error under the API root is JSON `{detail, field}` (a 422 adds `errors`). Creating "
        "endpoints accept an `Idempotency-Key` header."
    ),
    urls_namespace="api-v1",
)


def _json_error(
    request, status: int, detail: str | None, field: str | None = None, headers: dict | None = None, **extra
):
    if status == 422 and "errors" not in extra:
        # Every 422 lists its problems, a single one included: clients read one shape.
        extra["errors"] = [{"detail": detail, "field": field}]
    response = api.create_response(request, {"detail": detail, "field": field, **extra}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return _json_error(request, exc.status, exc.detail, exc.field, exc.headers)


@api.exception_handler(ApplicationError)
def _application_error(request, exc: ApplicationError):
    status = int(exc.extra.get("status", 400))
    return _json_error(request, status, exc.message, exc.extra.get("field"))


def _field_of(loc) -> str | None:
    # ninja prefixes where the value came from ("body", "query", the argument name): drop those.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "form", "cookie"}:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in {"payload", "data", "filters", "params"}:
        parts = parts[1:]
    return ".".join(parts) or None


@api.exception_handler(NinjaValidationError)
def _validation_error(request, exc: NinjaValidationError):
    errors = [
        {"detail": str(e.get("msg", "Invalid value")), "field": _field_of(e.get("loc", ()))}
        for e in exc.errors
        if isinstance(e, dict)
    ] or [{"detail": "Invalid request.", "field": None}]
    first = errors[0]
    return _json_error(request, 422, first["detail"], first["field"], errors=errors)


@api.exception_handler(DjangoValidationError)
def _django_validation_error(request, exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        field, messages = next(iter(exc.message_dict.items()))
        return _json_error(request, 422, "; ".join(messages), None if field == "__all__" else field)
    return _json_error(request, 422, "; ".join(exc.messages))


@api.exception_handler(AuthenticationError)
def _authentication_error(request, exc: AuthenticationError):
    return _json_error(request, 401, "Missing API token: send 'Authorization: Bearer orv_…'.", "Authorization")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return _json_error(request, exc.status_code, str(exc))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _json_error(request, 404, "Not found.")


@api.exception_handler(DataError)
def _data_error(request, exc):
    # A value the database cannot store or compare (a number beyond 64 bits, for example).
    return _json_error(request, 422, "A value in this request is out of range.")


@api.exception_handler(ValueError)
def _value_error(request, exc: ValueError):
    # PostgreSQL refuses NUL characters in text; that is the client's input, not our failure.
    if "NUL" in str(exc):
        return _json_error(request, 422, "Text may not contain NUL (0x00) characters.")
    raise exc


@api.exception_handler(RequestDataTooBig)
def _body_too_large(request, exc):
    # A body Django read up to DATA_UPLOAD_MAX_MEMORY_SIZE and found longer (ApiBodyLimitMiddleware
    # answers those whose Content-Length already says so).
    return _json_error(request, 413, body_too_large_detail())


@api.exception_handler(PermissionDenied)
def _permission_denied(request, exc):
    return _json_error(request, 403, str(exc) or "You may not do this.")


def exempt_from_login(urls):
    """API views authenticate by token, not session: tell LoginRequiredMiddleware to let them
    through. The docs page (for people) keeps the browser login; the schema itself is public."""
    patterns, app_name, namespace = urls
    for pattern in patterns:
        if getattr(pattern, "name", None) != "openapi-view":
            pattern.callback.login_required = False
    return patterns, app_name, namespace


def api_alias_urls():
    """The same routes again for the older /api/v1/ prefix, in their own namespace so reversing
    `api-v1:…` (and the schema's paths) keeps naming /v1/."""
    patterns, app_name, _namespace = api.urls
    return patterns, app_name, "api-v1-alias"
