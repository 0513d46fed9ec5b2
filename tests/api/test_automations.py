"""Label automations through the API: created with public ids, the count before enrolling those who
already carry the label, and the documented automation-triggered body."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign, Enrollment, LabelAutomation
from campaigns.services.automations import label_automation_create
from outreach.core.public_ids import encode
from outreach.people.models import LabelEvent
from outreach.people.services.labels import recipient_labels_add
from tests.campaigns.conftest import make_campaign
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(csm) -> Campaign:
    return make_campaign(created_by=csm, trigger=Campaign.Trigger.MANUAL)


@pytest.fixture
def automation(sequence, csm) -> LabelAutomation:
    return label_automation_create(campaign=sequence, label_name="proposal-open", user=csm).automation


def label(recipient, name: str = "proposal-open", capture=None):
    with capture(execute=True):
        return recipient_labels_add(pairs=[(recipient.pk, name)], via=LabelEvent.Via.API)


def test_an_automation_created_through_the_api_fires_on_api_labels(
    sequence, csm, rep, api_client_for, django_capture_on_commit_callbacks
):
    client = api_client_for(csm, "contacts:write", "sequences:write")
    created = client.post_json(
        "/v1/automations/", {"label": "proposal-open", "sequence_id": encode("seq", sequence.pk)}
    )
    assert created.status_code == 201, created.json()
    assert created.json()["id"].startswith("aut_")
    with django_capture_on_commit_callbacks(execute=True):
        client.post_json(
            "/v1/contacts/",
            {"emails": [{"address": "avery@example.com"}], "labels": ["lead", "proposal-open"]},
        )
    enrollment = Enrollment.objects.get(recipient__email="avery@example.com")
    shown = client.get(f"/v1/sequences/enrollments/{encode('enr', enrollment.pk)}/").json()
    assert (shown["kind"], shown["source"]["automation_id"]) == ("triggered", created.json()["id"])
    assert shown["source"]["label_event_id"].startswith("lbe_")


def test_the_api_tells_the_count_and_refuses_enroll_existing_without_it(
    sequence, csm, rep, api_client_for, django_capture_on_commit_callbacks
):
    label(RecipientFactory(owner=rep), capture=django_capture_on_commit_callbacks)
    client = api_client_for(csm, "sequences:write")
    seq = encode("seq", sequence.pk)
    preview = client.get("/v1/automations/preview/", {"sequence_id": seq, "label": "proposal-open"})
    assert preview.json()["existing_count"] == 1
    refused = client.post_json(
        "/v1/automations/", {"label": "proposal-open", "sequence_id": seq, "enroll_existing": True}
    )
    assert (refused.status_code, refused.json()["field"]) == (409, "existing_count")
    done = client.post_json(
        "/v1/automations/",
        {"label": "proposal-open", "sequence_id": seq, "enroll_existing": True, "existing_count": 1},
    )
    assert (done.status_code, done.json()["existing_enrolled"]) == (201, 1)


def test_the_automation_triggered_body_answers_with_the_automations_enrollment(
    automation, sequence, csm, rep, api_client_for, django_capture_on_commit_callbacks
):
    person = RecipientFactory(owner=rep)
    label(person, capture=django_capture_on_commit_callbacks)
    client = api_client_for(csm, "sequences:write")
    body = {
        "recipient": {"contact_id": encode("ctc", person.pk)},
        "sequence_id": encode("seq", sequence.pk),
        "exit_on_reply": True,
        "source": {"type": "email", "message_id": "msg_123", "thread_id": "thr_123", "subject": "Proposal follow-up"},
    }
    response = client.post_json("/v1/sequences/enrollments/", body)
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == encode("enr", Enrollment.objects.get(recipient=person).pk)
    assert (response.json()["kind"], response.json()["source"]["message_id"]) == ("triggered", "msg_123")
    assert Enrollment.objects.filter(recipient=person).count() == 1


def test_the_automation_triggered_body_for_a_labelled_contact_starts_from_the_label(
    sequence, csm, rep, api_client_for, django_capture_on_commit_callbacks
):
    person = RecipientFactory(owner=rep)
    label(person, capture=django_capture_on_commit_callbacks)  # before the automation: not enrolled by it
    automation = label_automation_create(campaign=sequence, label_name="proposal-open", user=csm).automation
    client = api_client_for(csm, "sequences:write")
    body = {"recipient": {"contact_id": encode("ctc", person.pk)}, "sequence_id": encode("seq", sequence.pk)}
    response = client.post_json("/v1/sequences/enrollments/", body)
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "triggered"
    assert response.json()["source"]["automation_id"] == encode("aut", automation.pk)
