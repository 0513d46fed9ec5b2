"""Personal API tokens: created in the browser, shown once, hashed, scoped, revocable, rate-limited."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from outreach.core.public_ids import encode as pid
from outreach.integrations.models import ApiToken

from .conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_a_user_creates_a_token_in_the_browser_and_sees_the_secret_once(rep_client, rep):
    response = rep_client.post(
        reverse("settings_token_create"), {"name": "CRM sync", "scopes": ["contacts:read", "drafts:read"]}
    )
    assert response.status_code == 200
    secret = response.context["new_secret"]
    assert secret.startswith("orv_") and len(secret) > 40
    assert secret in response.content.decode()
    token = ApiToken.objects.get(user=rep)
    assert token.scopes == ["contacts:read", "drafts:read"]
    # Only the SHA-256 is stored, and the page never shows the secret again.
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().first())
    assert secret not in rep_client.get(reverse("settings_tokens")).content.decode()


def test_a_token_without_scopes_is_refused_in_the_browser(rep_client, rep):
    response = rep_client.post(reverse("settings_token_create"), {"name": "nothing"})
    assert response.status_code == 422
    assert not ApiToken.objects.filter(user=rep).exists()


def test_a_revoked_token_gets_401(rep, rep_client, token_for):
    token, secret = token_for(rep, "contacts:read")
    client = ApiClient(secret)
    assert client.get("/v1/contacts/").status_code == 200
    rep_client.post(reverse("settings_token_revoke", args=[token.pk]))
    response = client.get("/v1/contacts/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API token.", "field": "Authorization"}


def test_a_person_cannot_revoke_someone_elses_token(rep, other_rep, login_client, token_for):
    token, _ = token_for(rep)
    response = login_client(other_rep).post(reverse("settings_token_revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_request_without_a_token_gets_401_json(client):
    response = client.get("/v1/contacts/")
    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"


def test_a_browser_session_is_not_an_api_credential(rep_client):
    assert rep_client.get("/v1/contacts/").status_code == 401


def test_a_token_without_the_scope_gets_403_json(csm, api_client_for):
    client = api_client_for(csm, "drafts:read")
    response = client.get("/v1/contacts/")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "This token lacks the scope 'contacts:read' or 'contacts:write'.",
        "field": "scope",
    }


@pytest.mark.parametrize(
    ("method", "path", "scopes"),
    [
        # Reads accept the matching write scope: the documented scopes read back what they create.
        ("get", "/v1/contacts/", ("contacts:read", "contacts:write")),
        ("get", f"/v1/contacts/{pid('ctc', 1)}/", ("contacts:read", "contacts:write")),
        ("post", "/v1/contacts/", ("contacts:write",)),
        ("get", "/v1/suppressions/", ("suppressions:write",)),
        ("post", "/v1/suppressions/", ("suppressions:write",)),
        ("delete", "/v1/suppressions/", ("suppressions:write",)),
        ("get", "/v1/messages/", ("drafts:read", "email:send")),
        ("get", "/v1/drafts/", ("drafts:read", "email:send")),
        ("get", "/v1/sequences/", ("sequences:read", "sequences:write")),
        ("get", "/v1/sequences/enrollments/", ("sequences:read", "sequences:write")),
        ("post", "/v1/sequences/enrollments/", ("sequences:write",)),
        ("get", "/v1/events/", ("events:read",)),
        ("get", "/v1/webhooks/", ("webhooks:write",)),
        ("post", "/v1/webhooks/", ("webhooks:write",)),
        ("get", f"/v1/inboxes/{pid('inb', 1)}/threads/", ("inboxes:read", "inboxes:write")),
        ("get", f"/v1/inboxes/{pid('inb', 1)}/threads/{pid('thr', 1)}/messages/", ("inboxes:read", "inboxes:write")),
        ("post", "/v1/inboxes/", ("inboxes:write",)),
        ("post", f"/v1/inboxes/{pid('inb', 1)}/sync", ("inboxes:write",)),
    ],
)
def test_every_endpoint_requires_its_scope(admin_user, token_for, method, path, scopes):
    others = [s for s in ApiToken.Scope.values if s not in scopes]
    _, secret = token_for(admin_user, *others)
    response = getattr(ApiClient(secret), method)(path, {}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["detail"] == "This token lacks the scope " + " or ".join(f"'{s}'" for s in scopes) + "."


def test_the_documented_scopes_read_back_what_they_create(admin_user, token_for):
    _, secret = token_for(admin_user, "contacts:read", "contacts:write", "sequences:write", "email:send")
    client = ApiClient(secret)
    for path in ("/v1/contacts/", "/v1/sequences/", "/v1/sequences/enrollments/", "/v1/messages/", "/v1/drafts/"):
        assert client.get(path).status_code == 200, path


def test_the_last_use_is_recorded_at_most_once_a_minute(rep, token_for):
    token, secret = token_for(rep, "contacts:read")
    client = ApiClient(secret)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.get("/v1/contacts/")
        token.refresh_from_db()
        first = token.last_used_at
        assert first is not None
        traveller.shift(timedelta(seconds=30))
        client.get("/v1/contacts/")
        token.refresh_from_db()
        assert token.last_used_at == first
        traveller.shift(timedelta(seconds=31))
        client.get("/v1/contacts/")
        token.refresh_from_db()
        assert token.last_used_at > first


def test_over_the_rate_limit_a_token_gets_429_with_retry_after(rep, token_for, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    _, secret = token_for(rep, "contacts:read")
    client = ApiClient(secret)
    start = timezone.now().replace(second=10, microsecond=0)
    with time_machine.travel(start, tick=False) as traveller:
        assert [client.get("/v1/contacts/").status_code for _ in range(3)] == [200, 200, 200]
        response = client.get("/v1/contacts/")
        assert response.status_code == 429
        assert response["Retry-After"] == "20"  # one request refills every 60 / 3 seconds
        assert response.json()["detail"].startswith("Rate limit exceeded")
        traveller.shift(timedelta(seconds=20))
        assert client.get("/v1/contacts/").status_code == 200


def test_the_rate_limit_counts_per_token(rep, token_for, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    first = ApiClient(token_for(rep, "contacts:read")[1])
    second = ApiClient(token_for(rep, "contacts:read")[1])
    with time_machine.travel(timezone.now().replace(second=1), tick=False):
        assert first.get("/v1/contacts/").status_code == 200
        assert first.get("/v1/contacts/").status_code == 429
        assert second.get("/v1/contacts/").status_code == 200


def test_the_openapi_schema_is_served_without_login(client):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert "/v1/contacts/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"


def test_the_docs_page_needs_a_browser_login(client, rep_client):
    assert client.get("/v1/docs").status_code == 302
    assert rep_client.get("/v1/docs").status_code == 200


def test_validation_errors_are_json_with_a_field(csm, api_client_for):
    response = api_client_for(csm).post_json("/v1/contacts/", {"emails": [{"label": "work"}]})
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "emails.0.address"
    assert body["detail"] == "Field required"


def test_a_malformed_json_body_is_a_json_error(csm, api_client_for):
    client = api_client_for(csm)
    response = client.post("/v1/contacts/", "{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert "detail" in response.json()


def test_a_deactivated_users_token_gets_401(rep, token_for):
    _, secret = token_for(rep, "contacts:read")
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert ApiClient(secret).get("/v1/contacts/").status_code == 401


def test_a_made_up_token_gets_401(client):
    response = client.get("/v1/contacts/", headers={"Authorization": "Bearer orv_not-a-real-token"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API token."


def test_api_token_create_prints_a_working_token_with_exactly_the_scopes_asked_for(rep):
    out, err = StringIO(), StringIO()
    call_command("api_token_create", rep.username, "--scopes", "inboxes:read,contacts:read", stdout=out, stderr=err)
    secret = out.getvalue().strip()

    token = ApiToken.objects.get(user=rep)
    assert sorted(token.scopes) == ["contacts:read", "inboxes:read"]
    assert secret not in err.getvalue()  # the secret alone on stdout, shown once
    assert ApiClient(secret).get("/v1/inboxes/").status_code == 200
    assert ApiClient(secret).post_json("/v1/contacts/", {"email": "a@b.example"}).status_code == 403


def test_api_token_create_refuses_an_unknown_scope_and_an_unknown_user(rep):
    with pytest.raises(CommandError):
        call_command("api_token_create", rep.username, "--scopes", "everything", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="No user named"):
        call_command("api_token_create", "nobody", "--scopes", "inboxes:read", stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()
