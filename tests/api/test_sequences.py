"""Sequences and enrollments through the API, in the shapes follow-up sequence APIs use."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign, Enrollment
from campaigns.services import enrollment_advance_due
from outreach.core.public_ids import decode
from outreach.core.public_ids import encode as pid
from outreach.mail.models import OutboundMessage
from outreach.people.models import Recipient
from outreach.suppression.services import suppression_add
from review.models import Draft
from tests.campaigns.factories import CampaignFactory, SequenceStepFactory
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


def sequence_payload(inbox_id: int) -> dict:
    return {
        "name": "Renewal follow-up",
        "sender_inbox_id": inbox_id,
        "exit_on_reply": True,
        "emails": [
            {
                "delay_days": 0,
                "subject": "About your renewal, {{ first_name }}",
                "body": "Hi {{ first_name }},\n\nYour renewal is coming up. Shall we talk?",
            },
            {
                "delay_days": 3,
                "subject": "Following up",
                "prompt": "Follow up briefly on the renewal note; offer two times.",
            },
        ],
        "exit_condition_prompt": "Exit if they say they are not the right person.",
    }


SOURCE = {
    "type": "email",
    "message_id": "<abc@mail.example>",
    "thread_id": "thread-9",
    "subject": "Re: pricing",
    "from_address": "buyer@example.com",
}


@pytest.fixture
def csm_api(csm, api_client_for):
    return api_client_for(csm, "sequences:read", "sequences:write", "drafts:read")


@pytest.fixture
def sequence(csm_api, rep):
    response = csm_api.post_json("/v1/sequences/", sequence_payload(pid("inb", rep.sender.pk)))
    assert response.status_code == 201, response.json()
    return Campaign.objects.get(pk=decode("seq", response.json()["id"]))


def test_the_example_sequence_becomes_a_running_api_campaign_with_steps(csm_api, rep):
    response = csm_api.post_json("/v1/sequences/", sequence_payload(pid("inb", rep.sender.pk)))
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["trigger"], body["status"], body["sender_inbox_id"]) == (
        "Renewal follow-up",
        "api",
        "active",
        pid("inb", rep.sender.pk),
    )
    assert [(e["position"], e["delay_days"], bool(e["body"]), bool(e["prompt"])) for e in body["emails"]] == [
        (1, 0, True, False),
        (2, 3, False, True),
    ]
    campaign = Campaign.objects.get()
    assert (campaign.sender_mode, campaign.named_sender, campaign.exit_condition_prompt) == (
        "named",
        rep,
        "Exit if they say they are not the right person.",
    )


def test_an_email_with_both_body_and_prompt_is_refused(csm_api, rep):
    payload = sequence_payload(pid("inb", rep.sender.pk))
    payload["emails"][0]["prompt"] = "also this"
    response = csm_api.post_json("/v1/sequences/", payload)
    assert response.status_code == 422
    assert response.json()["field"] == "emails.0"
    assert not Campaign.objects.exists()


def test_an_unknown_template_variable_is_refused(csm_api, rep):
    payload = sequence_payload(pid("inb", rep.sender.pk))
    payload["emails"][0]["body"] = "Hi {{ nickname }}"
    response = csm_api.post_json("/v1/sequences/", payload)
    assert response.status_code == 422
    assert "nickname" in response.json()["detail"]


def test_a_rep_may_not_create_sequences(rep, api_client_for):
    response = api_client_for(rep, "sequences:write").post_json(
        "/v1/sequences/", sequence_payload(pid("inb", rep.sender.pk))
    )
    assert response.status_code == 403


def test_sequences_are_listed_and_shown(csm_api, sequence):
    assert [s["id"] for s in csm_api.get("/v1/sequences/?trigger=api").json()["items"]] == [pid("seq", sequence.pk)]
    assert csm_api.get(f"/v1/sequences/{pid('seq', sequence.pk)}/").json()["name"] == "Renewal follow-up"


def test_a_template_enrollment_with_a_source(csm_api, sequence, rep):
    contact = RecipientFactory(owner=rep)
    response = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {"sequence_id": pid("seq", sequence.pk), "recipient": {"contact_id": pid("ctc", contact.pk)}, "source": SOURCE},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["state"], body["sequence_id"], body["contact_id"]) == (
        "template",
        "active",
        pid("seq", sequence.pk),
        pid("ctc", contact.pk),
    )
    assert body["source"]["message_id"] == "<abc@mail.example>"
    assert body["history"][0]["kind"] == "enrolled"


def test_an_ad_hoc_enrollment_by_email_creates_the_contact(csm_api, csm, rep):
    response = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {
            "recipient": {"email": "new.person@example.com"},
            "emails": [
                {"delay_days": 0, "subject": "Quick question", "body": "Hi {{ first_name }}, a quick question."}
            ],
            "exit_on_reply": False,
            "sender_inbox_id": pid("inb", rep.sender.pk),
            "source": SOURCE,
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["exit_on_reply"], body["sequence_id"]) == ("ad_hoc", False, None)
    assert [e["subject"] for e in body["emails"]] == ["Quick question"]
    assert Recipient.objects.filter(email="new.person@example.com").exists()
    assert Enrollment.objects.get().sender == rep


def test_an_automation_enrolls_once_per_occurrence(csm_api, sequence, rep):
    contact = RecipientFactory(owner=rep)
    payload = {
        "sequence_id": pid("seq", sequence.pk),
        "recipient": {"contact_id": pid("ctc", contact.pk)},
        "trigger": {"automation": "crm-deal-stage", "occurrence_key": "deal-42:proposal"},
        "source": {"type": "crm_event", "subject": "Deal moved to proposal"},
    }
    first = csm_api.post_json("/v1/sequences/enrollments/", payload)
    assert first.status_code == 201
    assert first.json()["kind"] == "triggered"
    assert first.json()["occurrence_key"] == "api:crm-deal-stage:deal-42:proposal"
    csm_api.patch_json(f"/v1/sequences/enrollments/{first.json()['id']}/", {"action": "cancel"})
    again = csm_api.post_json("/v1/sequences/enrollments/", payload)
    assert again.status_code == 409
    assert Enrollment.objects.count() == 1


def test_enrolling_someone_already_enrolled_is_a_conflict(csm_api, sequence, rep):
    contact = RecipientFactory(owner=rep)
    payload = {"sequence_id": pid("seq", sequence.pk), "recipient": {"contact_id": pid("ctc", contact.pk)}}
    csm_api.post_json("/v1/sequences/enrollments/", payload)
    response = csm_api.post_json("/v1/sequences/enrollments/", payload)
    assert response.status_code == 409
    assert "already enrolled" in response.json()["detail"]


def test_a_suppressed_contact_is_enrolled_as_suppressed(csm_api, sequence, rep):
    contact = RecipientFactory(owner=rep, email="gone@example.com")
    suppression_add(kind="address", value="gone@example.com", reason="unsubscribed")
    body = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {"sequence_id": pid("seq", sequence.pk), "recipient": {"contact_id": pid("ctc", contact.pk)}},
    ).json()
    assert body["state"] == "suppressed"
    assert "Unsubscribed" in body["state_reason"]


def test_a_recipient_needs_a_contact_id_or_an_email(csm_api, sequence):
    response = csm_api.post_json(
        "/v1/sequences/enrollments/", {"sequence_id": pid("seq", sequence.pk), "recipient": {}}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "recipient"


def test_an_unknown_sequence_is_a_field_error(csm_api, rep):
    contact = RecipientFactory(owner=rep)
    response = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {"sequence_id": pid("seq", 999999), "recipient": {"contact_id": pid("ctc", contact.pk)}},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "sequence_id"


def test_cancel_ends_the_enrollment_and_records_it(csm_api, csm, sequence, rep):
    contact = RecipientFactory(owner=rep)
    enrollment_id = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {"sequence_id": pid("seq", sequence.pk), "recipient": {"contact_id": pid("ctc", contact.pk)}},
    ).json()["id"]
    response = csm_api.patch_json(f"/v1/sequences/enrollments/{enrollment_id}/", {"action": "cancel"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "cancelled"
    assert body["history"][-1]["kind"] == "cancelled"
    assert body["history"][-1]["actor"] == csm.username
    again = csm_api.patch_json(f"/v1/sequences/enrollments/{enrollment_id}/", {"action": "cancel"})
    assert again.status_code == 409


def test_an_unknown_action_is_refused(csm_api, sequence, rep):
    contact = RecipientFactory(owner=rep)
    enrollment_id = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {"sequence_id": pid("seq", sequence.pk), "recipient": {"contact_id": pid("ctc", contact.pk)}},
    ).json()["id"]
    response = csm_api.patch_json(f"/v1/sequences/enrollments/{enrollment_id}/", {"action": "pause"})
    assert response.status_code == 422
    assert response.json()["field"] == "action"


def test_enrollments_are_listed_with_state_filters(csm_api, sequence, rep):
    a, b = RecipientFactory(owner=rep), RecipientFactory(owner=rep)
    for contact in (a, b):
        csm_api.post_json(
            "/v1/sequences/enrollments/",
            {"sequence_id": pid("seq", sequence.pk), "recipient": {"contact_id": pid("ctc", contact.pk)}},
        )
    first = Enrollment.objects.get(recipient=a)
    csm_api.patch_json(f"/v1/sequences/enrollments/{pid('enr', first.pk)}/", {"action": "cancel"})
    items = csm_api.get("/v1/sequences/enrollments/?state=active").json()["items"]
    assert [i["contact_id"] for i in items] == [pid("ctc", b.pk)]


def test_a_rep_cannot_see_enrollments_of_campaigns_they_do_not_send_in(other_rep, rep, api_client_for):
    campaign = CampaignFactory(named_sender=rep, sender_mode="named")
    SequenceStepFactory(campaign=campaign)
    enrollment = Enrollment.objects.create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    response = api_client_for(other_rep, "sequences:read").get(
        f"/v1/sequences/enrollments/{pid('enr', enrollment.pk)}/"
    )
    assert response.status_code == 404


def test_an_idempotent_retry_creates_one_enrollment(csm_api, sequence, rep):
    contact = RecipientFactory(owner=rep)
    payload = {"sequence_id": pid("seq", sequence.pk), "recipient": {"contact_id": pid("ctc", contact.pk)}}
    first = csm_api.post_json("/v1/sequences/enrollments/", payload, headers={"Idempotency-Key": "enroll-1"})
    second = csm_api.post_json("/v1/sequences/enrollments/", payload, headers={"Idempotency-Key": "enroll-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Enrollment.objects.count() == 1


def test_from_enrollment_to_the_draft_in_the_queue_to_an_api_approval(csm_api, sequence, rep, api_client_for):
    """The README walk-through: the enrollment's first step becomes a ready draft in the rep's
    queue; the rep approves that exact text with their own token; only then is a message queued."""
    contact = RecipientFactory(owner=rep, first_name="Avery")
    enrollment_id = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {"sequence_id": pid("seq", sequence.pk), "recipient": {"contact_id": pid("ctc", contact.pk)}},
    ).json()["id"]
    enrollment_advance_due()
    assert not OutboundMessage.objects.exists()
    # The draft is in the sender's queue, so the rep's token sees it (a CSM's does not, as in the browser).
    rep_api = api_client_for(rep, "drafts:read", "email:send")
    assert csm_api.get(f"/v1/drafts/?enrollment_id={enrollment_id}").json()["items"] == []
    drafts = rep_api.get(f"/v1/drafts/?enrollment_id={enrollment_id}").json()["items"]
    assert [(d["status"], d["subject"]) for d in drafts] == [("ready", "About your renewal, Avery")]
    assert csm_api.get(f"/v1/sequences/enrollments/{enrollment_id}/").json()["state"] == "waiting_review"
    response = rep_api.post_json(f"/v1/drafts/{drafts[0]['id']}/approve", {"expected_version": drafts[0]["version"]})
    assert response.status_code == 200
    message = OutboundMessage.objects.get()
    draft = Draft.objects.get()
    assert (message.subject, message.body_text) == (draft.subject, draft.body_text)


def test_a_sequence_created_through_the_api_keeps_its_entry_prompt(csm, api_client_for):
    prompt = 'Only send when a fact says "renewal".'
    client = api_client_for(csm, "sequences:write")
    body = {"name": "Nudge", "emails": [{"subject": "Hi", "body": "Hello"}], "entry_prompt": prompt}
    created = client.post_json("/v1/sequences/", body)
    assert (created.status_code, created.json()["entry_prompt"]) == (201, prompt)
