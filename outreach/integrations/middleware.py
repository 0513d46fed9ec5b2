"""Refusals the API makes before any view, in its own JSON shape."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

# Where outreach/urls.py mounts the NinjaAPI: /v1/ (documented) and /api/v1/ (the older prefix,
# kept as an alias answering with the same routes and schema).
API_PATH_PREFIXES = ("/v1/", "/api/v1/")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PATH_PREFIXES)


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
        if limit is not None and is_api_path(request.path_info):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0  # Django treats a malformed length as no body
            if length > limit:
                # The body is left unread; the server discards it (Connection is the server's header).
                return body_too_large_response()
        return self.get_response(request)


class ApiJsonErrorsMiddleware:
    """Every error under the API root is JSON `{detail, field}`: an unknown path (Django's 404
    page), a method the route does not take (ninja's plain-text 405, Allow kept) or an unhandled
    server error would otherwise answer in HTML or plain text."""

    DETAILS = {
        404: "Not found: no API route at this path.",
        405: "Method not allowed on this path.",
        500: "Server error; the request was not completed.",
    }

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not is_api_path(request.path_info)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        status = response.status_code
        detail = self.DETAILS.get(status) or f"Request refused ({status})."
        if status == 405 and response.get("Allow"):
            detail = f"Method {request.method} not allowed on this path; allowed: {response['Allow']}."
        replacement = JsonResponse(
            {"detail": detail, "field": None}, status=status, content_type="application/json; charset=utf-8"
        )
        for header in ("Allow", "Retry-After"):
            if response.get(header):
                replacement[header] = response[header]
        return replacement
