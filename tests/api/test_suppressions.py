"""Suppressions through the API: add, list, remove with a reason (history kept)."""

from __future__ import annotations

import pytest

from outreach.core.public_ids import encode as pid
from outreach.integrations.models import EmittedEvent
from outreach.suppression.models import Suppression
from outreach.suppression.selectors import suppression_check
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(admin_user, api_client_for):
    return api_client_for(admin_user, "suppressions:write")


def test_an_address_is_suppressed_through_the_service(admin_api, admin_user):
    recipient = RecipientFactory(email="stop@example.com")
    response = admin_api.post_json(
        "/v1/suppressions/", {"value": "Stop@Example.com", "reason": "unsubscribed", "note": "asked by phone"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["value"], body["reason"], body["list_name"]) == (
        "address",
        "stop@example.com",
        "unsubscribed",
        "Global",
    )
    assert body["added_by"] == admin_user.username
    assert suppression_check(recipient=recipient).reason == "unsubscribed"


def test_suppressing_twice_returns_the_active_entry(admin_api):
    admin_api.post_json("/v1/suppressions/", {"kind": "domain", "value": "example.org"})
    response = admin_api.post_json("/v1/suppressions/", {"kind": "domain", "value": "@EXAMPLE.org"})
    assert response.status_code == 200
    assert Suppression.objects.count() == 1


def test_an_invalid_domain_is_a_field_error(admin_api):
    response = admin_api.post_json("/v1/suppressions/", {"kind": "domain", "value": "not a domain"})
    assert response.status_code == 422
    assert response.json()["field"] == "value"


def test_a_permanent_reason_cannot_expire(admin_api):
    response = admin_api.post_json(
        "/v1/suppressions/",
        {"value": "x@example.com", "reason": "hard_bounce", "expires_at": "2030-01-01T00:00:00Z"},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "expires_at"


def test_a_suppression_emits_a_suppression_addition_event(admin_api, django_capture_on_commit_callbacks):
    recipient = RecipientFactory(email="stop@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.post_json("/v1/suppressions/", {"value": "stop@example.com", "reason": "complaint"})
    event = EmittedEvent.objects.get()
    assert event.type == "suppression_addition"
    assert event.payload["reason"] == "complaint"
    assert event.payload["recipient"] == {"id": pid("ctc", recipient.pk), "email": "stop@example.com"}


def test_delete_removes_with_a_reason_and_keeps_the_history(admin_api, admin_user):
    admin_api.post_json("/v1/suppressions/", {"value": "back@example.com"})
    response = admin_api.delete_json(
        "/v1/suppressions/", {"value": "back@example.com", "reason": "Customer asked to hear from us again"}
    )
    assert response.status_code == 200
    removed = response.json()["removed"][0]
    assert removed["active"] is False
    assert removed["removed_by"] == admin_user.username
    entry = Suppression.objects.get()
    assert entry.removal_reason == "Customer asked to hear from us again"
    # Listed again only when asking for removed entries too.
    assert admin_api.get("/v1/suppressions/").json()["items"] == []
    assert len(admin_api.get("/v1/suppressions/?include_removed=true").json()["items"]) == 1


def test_delete_needs_a_reason(admin_api):
    admin_api.post_json("/v1/suppressions/", {"value": "back@example.com"})
    response = admin_api.delete_json("/v1/suppressions/", {"value": "back@example.com"})
    assert response.status_code == 422
    assert response.json()["field"] == "reason"
    assert Suppression.objects.get().removed_at is None


def test_deleting_what_is_not_suppressed_is_404(admin_api):
    response = admin_api.delete_json("/v1/suppressions/", {"value": "never@example.com", "reason": "x"})
    assert response.status_code == 404
    assert response.json()["field"] == "value"


def test_the_list_filters_by_value(admin_api):
    admin_api.post_json("/v1/suppressions/", {"value": "one@example.com"})
    admin_api.post_json("/v1/suppressions/", {"value": "two@example.com"})
    items = admin_api.get("/v1/suppressions/?value=TWO@example.com").json()["items"]
    assert [i["value"] for i in items] == ["two@example.com"]


def test_a_reps_token_may_not_manage_suppression_as_in_the_browser(rep, api_client_for):
    client = api_client_for(rep, "suppressions:write")
    assert client.post_json("/v1/suppressions/", {"value": "x@example.com"}).status_code == 403
    assert client.get("/v1/suppressions/").status_code == 403
    assert not Suppression.objects.exists()


def test_an_idempotent_retry_adds_one_entry_and_one_event(admin_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = admin_api.post_json("/v1/suppressions/", {"value": "a@example.com"}, headers={"Idempotency-Key": "k1"})
        second = admin_api.post_json("/v1/suppressions/", {"value": "a@example.com"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Suppression.objects.count() == 1
    assert EmittedEvent.objects.count() == 1
