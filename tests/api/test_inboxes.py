"""The inbox decides the sender: an enrollment's `inbox_id` is whose emails they are (their
review queue, their name on the From line); the caller must be allowed to send from it, and it
must agree with the sequence's own `sender_inbox_id`. Step subjects are kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.utils import timezone

from campaigns.models import Enrollment
from campaigns.services import enrollment_advance_due, enrollment_on_message_finished
from outreach.core.public_ids import encode as pid
from outreach.mail.models import OutboundMessage
from review import services as review_services
from review.models import Draft
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


def sequence_body(inbox: str | None, **extra) -> dict:
    body = {
        "name": "Proposal follow-up",
        "exit_on_reply": True,
        "emails": [{"delay_days": 0, "subject": "Following up on the proposal", "body": "Checking in."}],
        **extra,
    }
    if inbox is not None:
        body["sender_inbox_id"] = inbox
    return body


@pytest.fixture
def csm_api(csm, api_client_for):
    return api_client_for(csm, "contacts:read", "contacts:write", "sequences:write", "email:send")


def test_a_csm_enrolling_with_a_reps_inbox_sends_as_that_rep(csm_api, csm, rep):
    contact = RecipientFactory(owner=csm)
    response = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {
            "inbox_id": pid("inb", rep.sender.pk),
            "recipient": {"contact_id": pid("ctc", contact.pk)},
            "emails": [{"delay_days": 0, "subject": "Following up", "body": "Checking whether this is still useful."}],
        },
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["inbox_id"], response.json()["sender"]) == (pid("inb", rep.sender.pk), rep.username)
    enrollment_advance_due()
    draft = Draft.objects.get()
    # The rep's email, in the rep's review queue: not the CSM's.
    assert draft.sender == rep
    assert Enrollment.objects.get().sender == rep


def test_someone_who_may_only_send_as_themselves_gets_a_403_for_anothers_inbox(rep, other_rep, api_client_for):
    rep.user_permissions.add(Permission.objects.get(codename="add_enrollment"))
    contact = RecipientFactory(owner=rep)
    response = api_client_for(rep, "sequences:write").post_json(
        "/v1/sequences/enrollments/",
        {
            "inbox_id": pid("inb", other_rep.sender.pk),
            "recipient": {"contact_id": pid("ctc", contact.pk)},
            "emails": [{"delay_days": 0, "subject": "Hi", "body": "Hello."}],
        },
    )
    assert response.status_code == 403
    assert response.json()["field"] == "inbox_id"
    assert not Enrollment.objects.exists()


def test_an_inbox_that_disagrees_with_the_sequences_sender_is_a_422_naming_the_field(csm_api, rep, other_rep):
    sequence = csm_api.post_json("/v1/sequences/", sequence_body(pid("inb", rep.sender.pk))).json()
    contact = RecipientFactory(owner=rep)
    response = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {
            "inbox_id": pid("inb", other_rep.sender.pk),
            "sequence_id": sequence["id"],
            "recipient": {"contact_id": pid("ctc", contact.pk)},
        },
    )
    assert response.status_code == 422
    assert response.json()["field"] == "inbox_id"
    assert pid("inb", rep.sender.pk) in response.json()["detail"]
    assert not Enrollment.objects.exists()


def test_the_sequences_own_inbox_is_accepted_and_sends(csm_api, rep):
    sequence = csm_api.post_json("/v1/sequences/", sequence_body(pid("inb", rep.sender.pk))).json()
    contact = RecipientFactory(owner=rep)
    response = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {
            "inbox_id": pid("inb", rep.sender.pk),
            "sequence_id": sequence["id"],
            "recipient": {"contact_id": pid("ctc", contact.pk)},
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["inbox_id"] == pid("inb", rep.sender.pk)


def test_a_sequence_without_its_own_inbox_lets_each_enrollment_choose(csm_api, rep, other_rep):
    sequence = csm_api.post_json("/v1/sequences/", sequence_body(None)).json()
    assert sequence["sender_inbox_id"] is None
    contact = RecipientFactory(owner=rep)
    response = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {
            "inbox_id": pid("inb", other_rep.sender.pk),
            "sequence_id": sequence["id"],
            "recipient": {"contact_id": pid("ctc", contact.pk)},
        },
    )
    assert response.status_code == 201, response.json()
    enrollment_advance_due()
    assert Draft.objects.get().sender == other_rep


def test_a_prompt_step_keeps_its_subject(csm_api, rep):
    body = sequence_body(pid("inb", rep.sender.pk))
    body["emails"] = [
        {
            "delay_days": 0,
            "subject": "Following up",
            "prompt": "Write a concise follow-up based on the source message and latest thread context.",
        }
    ]
    sequence = csm_api.post_json("/v1/sequences/", body).json()
    contact = RecipientFactory(owner=rep)
    csm_api.post_json(
        "/v1/sequences/enrollments/",
        {"sequence_id": sequence["id"], "recipient": {"contact_id": pid("ctc", contact.pk)}},
    )
    enrollment_advance_due()
    draft = Draft.objects.get()
    review_services.draft_generate(draft_id=draft.pk)
    draft.refresh_from_db()
    assert draft.state == Draft.State.READY
    assert draft.subject == "Following up"
    assert "concise follow-up" not in draft.subject


def test_a_follow_up_without_a_subject_replies_in_the_thread(csm_api, rep, api_client_for):
    body = sequence_body(pid("inb", rep.sender.pk))
    body["emails"] = [
        {"delay_days": 0, "subject": "Proposal for review", "body": "Here is the proposal."},
        {"delay_days": 2, "body": "Checking whether you had a chance to review the proposal."},
    ]
    sequence = csm_api.post_json("/v1/sequences/", body).json()
    contact = RecipientFactory(owner=rep)
    csm_api.post_json(
        "/v1/sequences/enrollments/",
        {"sequence_id": sequence["id"], "recipient": {"contact_id": pid("ctc", contact.pk)}},
    )
    enrollment_advance_due()
    first = Draft.objects.get()
    review_services.draft_approve(draft=first, user=rep, expected_version=first.version)
    message = OutboundMessage.objects.get()
    OutboundMessage.objects.filter(pk=message.pk).update(state=OutboundMessage.State.SENT, sent_at=timezone.now())
    message.refresh_from_db()
    enrollment_on_message_finished(message=message)
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        enrollment_advance_due()
    follow_up = Draft.objects.exclude(pk=first.pk).get()
    assert follow_up.subject == "Re: Proposal for review"


def test_ids_from_outside_systems_are_stored_and_echoed_as_given(csm_api, rep):
    contact = RecipientFactory(owner=rep)
    response = csm_api.post_json(
        "/v1/sequences/enrollments/",
        {
            "inbox_id": pid("inb", rep.sender.pk),
            "recipient": {"contact_id": pid("ctc", contact.pk)},
            "source": {"type": "email", "message_id": "msg_123", "thread_id": "thr_123"},
            "emails": [{"delay_days": 2, "subject": "Following up", "body": "Checking whether this is still useful."}],
        },
    )
    assert response.status_code == 201
    source = response.json()["source"]
    assert (source["message_id"], source["thread_id"]) == ("msg_123", "thr_123")
    assert Enrollment.objects.get().source["thread_id"] == "thr_123"


def test_inboxes_lists_what_each_caller_may_send_from(csm, rep, other_rep, api_client_for):
    as_rep = api_client_for(rep, "email:send").get("/v1/inboxes/").json()["items"]
    assert [(i["id"], i["owner"], i["is_mine"]) for i in as_rep] == [(pid("inb", rep.sender.pk), rep.username, True)]
    as_csm = api_client_for(csm, "sequences:write").get("/v1/inboxes/").json()["items"]
    assert {i["owner"] for i in as_csm} >= {rep.username, other_rep.username, csm.username}
    assert [i["owner"] for i in as_csm if i["is_mine"]] == [csm.username]
