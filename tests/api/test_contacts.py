"""Contacts through the API: create or update by address, list with filters and a cursor, detail."""

from __future__ import annotations

import pytest

from outreach.core.public_ids import encode as pid
from outreach.people.models import Fact, Recipient
from tests.factories import FactFactory, RecipientFactory

pytestmark = pytest.mark.django_db

# The example, with its facts filled in.
EXAMPLE = {
    "inbox_id": None,
    "full_name": "Avery Chen",
    "emails": [{"label": "work", "address": "buyer@example.com"}],
    "labels": ["lead"],
    "notes": "Met at the Berlin meetup; evaluating for Q3.",
    "facts": [
        {"kind": "activity", "text": "Downloaded the pricing guide", "source": "website"},
        "Asked about SSO on the demo call",
    ],
}


@pytest.fixture
def csm_api(csm, api_client_for):
    return api_client_for(csm, "contacts:read", "contacts:write")


def test_the_example_payload_creates_a_contact_owned_by_the_inbox(csm_api, rep):
    response = csm_api.post_json("/v1/contacts/", {**EXAMPLE, "inbox_id": pid("inb", rep.sender.pk)})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["full_name"] == "Avery Chen"
    assert body["email"] == "buyer@example.com"
    assert body["emails"] == [{"label": "work", "address": "buyer@example.com"}]
    assert body["labels"] == ["lead"]
    assert body["notes"] == EXAMPLE["notes"]
    assert body["inbox_id"] == pid("inb", rep.sender.pk)
    assert body["owner"] == rep.username
    assert sorted(f["text"] for f in body["facts"]) == [
        "Asked about SSO on the demo call",
        "Downloaded the pricing guide",
    ]
    recipient = Recipient.objects.get(email="buyer@example.com")
    assert (recipient.first_name, recipient.last_name, recipient.owner) == ("Avery", "Chen", rep)
    assert recipient.facts.get(kind=Fact.Kind.NOTE).source == "api"


def test_posting_the_same_address_again_updates_the_one_contact(csm_api):
    csm_api.post_json("/v1/contacts/", EXAMPLE)
    response = csm_api.post_json(
        "/v1/contacts/",
        {
            "full_name": "Avery Chen-Park",
            "emails": [{"label": "work", "address": "Buyer@Example.com"}],
            "labels": ["customer"],
        },
    )
    assert response.status_code == 200
    assert Recipient.objects.count() == 1
    body = response.json()
    assert body["last_name"] == "Chen-Park"
    assert body["labels"] == ["customer"]
    # Left out, so kept: notes and facts.
    assert body["notes"] == EXAMPLE["notes"]
    assert len(body["facts"]) == 2


def test_a_second_address_finds_the_contact_and_is_kept(csm_api):
    csm_api.post_json("/v1/contacts/", EXAMPLE)
    response = csm_api.post_json(
        "/v1/contacts/",
        {
            "emails": [
                {"label": "home", "address": "avery@home.example"},
                {"label": "work", "address": "buyer@example.com"},
            ]
        },
    )
    assert response.status_code == 200
    assert response.json()["email"] == "buyer@example.com"
    assert {"label": "home", "address": "avery@home.example"} in response.json()["emails"]


def test_a_fact_is_not_added_twice(csm_api):
    csm_api.post_json("/v1/contacts/", EXAMPLE)
    csm_api.post_json("/v1/contacts/", EXAMPLE)
    assert Fact.objects.count() == 2


def test_an_unknown_inbox_is_a_field_error(csm_api):
    response = csm_api.post_json("/v1/contacts/", {**EXAMPLE, "inbox_id": pid("inb", 99999)})
    assert response.status_code == 422
    assert response.json()["field"] == "inbox_id"


def test_an_invalid_address_is_a_field_error(csm_api):
    response = csm_api.post_json("/v1/contacts/", {**EXAMPLE, "emails": [{"label": "work", "address": "not-an-email"}]})
    assert response.status_code == 422
    problem = {"detail": "'not-an-email' is not a valid email address.", "field": "emails.0.address"}
    assert response.json() == {**problem, "errors": [problem]}


def test_addresses_of_two_different_contacts_conflict(csm_api):
    RecipientFactory(email="a@example.com")
    RecipientFactory(email="b@example.com")
    response = csm_api.post_json(
        "/v1/contacts/", {"emails": [{"address": "a@example.com"}, {"address": "b@example.com"}]}
    )
    assert response.status_code == 409
    assert response.json()["field"] == "emails"


def test_a_reps_token_may_not_create_contacts_as_in_the_browser(rep, api_client_for):
    response = api_client_for(rep, "contacts:write").post_json("/v1/contacts/", EXAMPLE)
    assert response.status_code == 403
    assert response.json()["detail"] == "Your role may not create or change contacts."
    assert not Recipient.objects.exists()


def test_a_reps_token_lists_only_the_reps_contacts(rep, other_rep, api_client_for):
    mine = RecipientFactory(owner=rep)
    RecipientFactory(owner=other_rep)
    response = api_client_for(rep, "contacts:read").get("/v1/contacts/")
    assert [c["id"] for c in response.json()["items"]] == [pid("ctc", mine.pk)]


def test_a_reps_token_cannot_open_another_reps_contact(rep, other_rep, api_client_for):
    theirs = RecipientFactory(owner=other_rep)
    response = api_client_for(rep, "contacts:read").get(f"/v1/contacts/{pid('ctc', theirs.pk)}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "field": None}


def test_the_detail_shows_facts_and_suppression(csm_api, admin_user):
    from outreach.suppression.services import suppression_add

    recipient = RecipientFactory(email="gone@example.com")
    FactFactory(recipient=recipient, text="Renewal on 1 March")
    suppression_add(kind="address", value="gone@example.com", reason="unsubscribed", added_by=admin_user)
    body = csm_api.get(f"/v1/contacts/{pid('ctc', recipient.pk)}/").json()
    assert body["facts"][0]["text"] == "Renewal on 1 March"
    assert body["suppressed"]["reason"] == "unsubscribed"


def test_the_list_filters_by_label_address_and_search(csm_api):
    csm_api.post_json("/v1/contacts/", EXAMPLE)
    RecipientFactory(email="someone@else.example", first_name="Sam")
    assert [c["email"] for c in csm_api.get("/v1/contacts/?label=lead").json()["items"]] == ["buyer@example.com"]
    assert [c["email"] for c in csm_api.get("/v1/contacts/?email=BUYER@example.com").json()["items"]] == [
        "buyer@example.com"
    ]
    assert [c["email"] for c in csm_api.get("/v1/contacts/?q=sam").json()["items"]] == ["someone@else.example"]


def test_the_cursor_pages_through_every_contact_once(csm_api):
    created = {pid("ctc", r.pk) for r in RecipientFactory.create_batch(7)}
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        url = "/v1/contacts/?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = csm_api.get(url).json()
        seen += [c["id"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(created)


def test_a_bad_cursor_is_a_field_error(csm_api):
    response = csm_api.get("/v1/contacts/?cursor=%%%")
    assert response.status_code == 422
    assert response.json()["field"] == "cursor"


def test_the_list_uses_a_fixed_number_of_queries(csm_api, django_assert_max_num_queries):
    for recipient in RecipientFactory.create_batch(20):
        FactFactory(recipient=recipient)
    with django_assert_max_num_queries(12):
        response = csm_api.get("/v1/contacts/?limit=50")
    assert len(response.json()["items"]) == 20


def test_the_same_idempotency_key_replays_the_response_and_creates_one_contact(csm_api):
    first = csm_api.post_json("/v1/contacts/", EXAMPLE, headers={"Idempotency-Key": "crm-42"})
    second = csm_api.post_json("/v1/contacts/", EXAMPLE, headers={"Idempotency-Key": "crm-42"})
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second["Idempotent-Replayed"] == "true"
    assert Recipient.objects.count() == 1
    assert Fact.objects.count() == 2


def test_the_same_idempotency_key_with_another_body_is_refused(csm_api):
    csm_api.post_json("/v1/contacts/", EXAMPLE, headers={"Idempotency-Key": "crm-43"})
    response = csm_api.post_json(
        "/v1/contacts/", {**EXAMPLE, "full_name": "Someone Else"}, headers={"Idempotency-Key": "crm-43"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"


def test_an_idempotency_key_expires_after_a_day(csm_api):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    csm_api.post_json("/v1/contacts/", EXAMPLE, headers={"Idempotency-Key": "crm-44"})
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        response = csm_api.post_json("/v1/contacts/", EXAMPLE, headers={"Idempotency-Key": "crm-44"})
    # Executed again (an update now), not replayed.
    assert response.status_code == 200
    assert not response.has_header("Idempotent-Replayed")
