"""CC and BCC on sequence steps through the API: validated, kept on the step, handed to the draft
(and so to the email), team addresses allowed."""

from __future__ import annotations

import pytest

from campaigns.models import SequenceStep
from campaigns.services import enrollment_advance_due
from outreach.core.public_ids import encode as pid
from review.models import Draft
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


def _sequence(rep, **step) -> dict:
    return {
        "name": "Renewal",
        "sender_inbox_id": pid("inb", rep.sender.pk),
        "emails": [{"delay_days": 0, "subject": "Your renewal", "body": "Shall we talk?", **step}],
    }


def test_a_steps_copies_reach_its_draft(csm, rep, api_client_for):
    api = api_client_for(csm, "sequences:write")
    response = api.post_json("/v1/sequences/", _sequence(rep, cc=["Boss@Customer.example"], bcc=[rep.email]))
    assert response.status_code == 201, response.json()
    assert (response.json()["emails"][0]["cc"], response.json()["emails"][0]["bcc"]) == (
        ["boss@customer.example"],
        [rep.email],
    )
    assert SequenceStep.objects.get().cc == ["boss@customer.example"]
    contact = RecipientFactory(owner=rep)
    api.post_json(
        "/v1/sequences/enrollments/",
        {"sequence_id": response.json()["id"], "recipient": {"contact_id": pid("ctc", contact.pk)}},
    )
    enrollment_advance_due()
    draft = Draft.objects.get()
    assert (draft.cc, draft.bcc) == (["boss@customer.example"], [rep.email])


def test_an_invalid_copy_address_is_a_422_naming_the_step(csm, rep, api_client_for):
    response = api_client_for(csm, "sequences:write").post_json("/v1/sequences/", _sequence(rep, cc=["not-an-address"]))
    assert response.status_code == 422
    assert response.json()["field"] == "emails.0.cc"
