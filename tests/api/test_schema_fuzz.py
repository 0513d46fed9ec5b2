"""Schemathesis against the served OpenAPI schema: generated requests, with a valid admin token
carrying every scope, never get a 5xx, every answer's status is one the operation declares and its
body matches the declared (typed) schema, and every error is `{detail, field}` JSON.
Bounded: 25 examples per operation, derandomized so a run is repeatable."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from outreach.integrations.models import ApiToken

MAX_EXAMPLES = 25


def _served_schema() -> dict:
    # Collected before the test environment allows the test host; ask for the schema as served.
    with override_settings(ALLOWED_HOSTS=["*"]):
        response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


schema = schemathesis.openapi.from_dict(_served_schema())
schema.app = WSGIHandler()


@pytest.fixture
def admin_secret(admin_user, token_for, settings):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    # Generated mailbox hosts (POST /inboxes/) must not reach this machine's own services.
    settings.ALLOW_PRIVATE_NETWORK_DESTINATIONS = False
    _, secret = token_for(admin_user, *ApiToken.Scope.values)
    # The real WSGI handler closes "old" connections around each request, which would end the
    # test's transaction; Django's test client makes the same disconnect.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield secret
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_never_get_a_server_error(case, admin_secret):
    response = case.call(headers={"Authorization": f"Bearer {admin_secret}"})
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance])
    content_type = response.headers.get("content-type") or [""]
    if isinstance(content_type, list):
        content_type = content_type[0]
    if response.status_code >= 400 and content_type.startswith("application/json"):
        body = response.json()
        assert "detail" in body and "field" in body, body
