"""Refusals the API makes before any view, in its own JSON shape."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

# Where outreach/urls.py mounts the NinjaAPI.
API_PATH_PREFIX = "/api/v1/"


def body_too_large_detail() -> str:
    return f"The request body is larger than the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."


def body_too_large_response() -> JsonResponse:
    response = JsonResponse(
        {"detail": body_too_large_detail(), "field": None},
        status=413,
        content_type="application/json; charset=utf-8",  # as the API's own responses
    )
    # Set here: the middleware that would add it never sees this response, and without it the
    # client has to wait for the connection to close, which comes only after the unread body.
    response["Content-Length"] = str(len(response.content))
    return response


class ApiBodyLimitMiddleware:
    """An API request whose Content-Length is over DATA_UPLOAD_MAX_MEMORY_SIZE gets a JSON 413
    before anything reads the body, whatever the endpoint (even one that never reads it).

    Bodies read without a trustworthy length still stop at the same limit inside Django, and the
    API's RequestDataTooBig handler answers those with the same 413."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.path_info.startswith(API_PATH_PREFIX):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0  # Django treats a malformed length as no body
            if length > limit:
                # The body is left unread; the server discards it (Connection is the server's header).
                return body_too_large_response()
        return self.get_response(request)
