"""An API request with a body over DATA_UPLOAD_MAX_MEMORY_SIZE gets the API's JSON 413, whether
its Content-Length says so or Django finds out while ninja reads the body."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from outreach.people.models import Recipient

from .conftest import ApiClient

pytestmark = pytest.mark.django_db

LIMIT = 10 * 1024 * 1024


@pytest.fixture
def csm_api(csm, api_client_for) -> ApiClient:
    return api_client_for(csm)


def _contact_body(size: int) -> bytes:
    """A contact whose notes make the JSON exactly `size` bytes long."""
    shell = json.dumps({"emails": [{"address": "big@customer.example"}], "notes": ""}).encode()
    return shell.replace(b'"notes": ""', b'"notes": "' + b"a" * (size - len(shell)) + b'"')


def _assert_json_413(response) -> None:
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {
        "detail": f"The request body is larger than the limit of {LIMIT:,} bytes.",
        "field": None,
    }


def test_an_api_body_over_the_limit_gets_a_json_413(csm_api, settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == LIMIT
    response = csm_api.post("/v1/contacts/", _contact_body(LIMIT + 1), content_type="application/json")
    _assert_json_413(response)
    assert not Recipient.objects.exists()


def test_a_content_length_over_the_limit_is_refused_without_reading_the_body(csm_api):
    # The client announces 20 MB and sends 2 bytes: the answer cannot have waited for the rest.
    response = csm_api.post("/v1/contacts/", b"{}", content_type="application/json", CONTENT_LENGTH="20000000")
    _assert_json_413(response)


def test_an_endpoint_that_never_reads_its_body_refuses_an_oversized_one_too(csm_api):
    response = csm_api.generic("GET", "/v1/contacts/", b"x" * (LIMIT + 1), content_type="text/plain")
    _assert_json_413(response)


def test_a_body_ninja_reads_over_the_limit_gets_the_same_json_413(csm_api, settings):
    # Without the early check, Django finds the body too large while ninja parses it, before the view.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("ApiBodyLimitMiddleware")]
    response = csm_api.post("/v1/contacts/", _contact_body(LIMIT + 1), content_type="application/json")
    _assert_json_413(response)


def test_a_body_of_exactly_the_limit_is_not_refused_for_its_size(csm_api):
    response = csm_api.post("/v1/contacts/", _contact_body(LIMIT), content_type="application/json")
    assert response.status_code == 422  # 10 MB of notes: refused by validation, not for its size
    assert response.json()["field"] == "notes"


def _raw_post(live_server, body: bytes, *, content_length: int) -> tuple[int, str, dict]:
    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest("POST", "/v1/contacts/")
        connection.putheader("Authorization", "Bearer orv_not-checked-before-the-size")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(content_length))
        connection.endheaders()
        connection.send(body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), json.loads(response.read())
    finally:
        connection.close()


def test_a_real_http_request_over_the_limit_gets_the_json_413(live_server):
    status, content_type, body = _raw_post(live_server, b"a" * (LIMIT + 1), content_length=LIMIT + 1)
    assert (status, content_type) == (413, "application/json; charset=utf-8")
    assert body["field"] is None and "larger than the limit" in body["detail"]


def test_a_real_http_request_announcing_too_much_is_answered_at_once(live_server):
    status, _, body = _raw_post(live_server, b"{", content_length=50 * 1024 * 1024)
    assert status == 413 and body["field"] is None
