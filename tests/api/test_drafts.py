"""Drafts through the API: read them, and approve one with a person's own token."""

from __future__ import annotations

import pytest

from outreach.core.public_ids import encode as pid
from outreach.integrations.models import EmittedEvent
from outreach.mail.models import OutboundMessage
from review.models import Draft, DraftDecision
from review.services import draft_approve, draft_reject
from tests.factories import DraftFactory, RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_draft(rep):
    return DraftFactory(sender=rep, recipient=RecipientFactory(owner=rep))


def test_a_rep_lists_the_drafts_they_send(rep, other_rep, ready_draft, api_client_for):
    DraftFactory(sender=other_rep)
    items = api_client_for(rep, "drafts:read").get("/v1/drafts/").json()["items"]
    assert [d["id"] for d in items] == [pid("drf", ready_draft.pk)]
    item = items[0]
    assert (item["status"], item["version"], item["subject"]) == ("ready", 1, ready_draft.subject)
    assert item["preview_text"] == ready_draft.preview_text
    assert item["contact_id"] == pid("ctc", ready_draft.recipient_id)
    assert item["message"] is None


def test_drafts_filter_by_status(rep, ready_draft, api_client_for):
    DraftFactory(sender=rep, state="rejected")
    items = api_client_for(rep, "drafts:read").get("/v1/drafts/?status=ready").json()["items"]
    assert [d["id"] for d in items] == [pid("drf", ready_draft.pk)]


def test_a_reps_token_cannot_see_another_reps_draft(other_rep, ready_draft, api_client_for):
    response = api_client_for(other_rep, "drafts:read").get(f"/v1/drafts/{pid('drf', ready_draft.pk)}/")
    assert response.status_code == 404


def test_a_rep_approves_their_draft_with_their_token(rep, ready_draft, api_client_for):
    response = api_client_for(rep, "email:send").post_json(
        f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 1}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "approved"
    assert body["message"]["status"] == "queued"
    decision = DraftDecision.objects.get(draft=ready_draft)
    # Recorded as approved via the API by this person.
    assert (decision.action, decision.via, decision.user) == ("approve", "api", rep)
    message = OutboundMessage.objects.get(draft_ref=ready_draft.pk)
    assert (message.subject, message.body_text, message.approved_by) == (
        ready_draft.subject,
        ready_draft.body_text,
        rep,
    )


def test_a_reps_token_cannot_approve_another_reps_draft(other_rep, ready_draft, api_client_for):
    response = api_client_for(other_rep, "email:send").post_json(
        f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 1}
    )
    assert response.status_code == 404
    ready_draft.refresh_from_db()
    assert ready_draft.state == "ready"
    assert not OutboundMessage.objects.exists()


def test_approving_needs_the_email_send_scope(rep, ready_draft, api_client_for):
    response = api_client_for(rep, "drafts:read").post_json(
        f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 1}
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "This token lacks the scope 'email:send'."
    assert not OutboundMessage.objects.exists()


def test_approving_needs_the_version_the_person_saw(rep, ready_draft, api_client_for):
    response = api_client_for(rep, "email:send").post_json(f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {})
    assert response.status_code == 422
    assert response.json()["field"] == "expected_version"
    assert not OutboundMessage.objects.exists()


def test_a_stale_version_is_a_conflict_and_sends_nothing(rep, ready_draft, api_client_for):
    response = api_client_for(rep, "email:send").post_json(
        f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 2}
    )
    assert response.status_code == 409
    assert response.json()["field"] == "expected_version"
    assert not OutboundMessage.objects.exists()


@pytest.mark.parametrize("extra", [{"subject": "Changed"}, {"body_text": "Different words"}, {"cc": ["x@example.com"]}])
def test_the_approve_endpoint_never_changes_the_text(rep, ready_draft, api_client_for, extra):
    response = api_client_for(rep, "email:send").post_json(
        f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 1, **extra}
    )
    assert response.status_code == 422
    assert not OutboundMessage.objects.exists()


def test_approving_twice_is_a_conflict_and_one_message(rep, ready_draft, api_client_for):
    client = api_client_for(rep, "email:send")
    client.post_json(f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 1})
    second = client.post_json(f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 1})
    assert second.status_code == 409
    assert OutboundMessage.objects.count() == 1


def test_an_idempotent_retry_of_an_approval_replays_it(rep, ready_draft, api_client_for):
    client = api_client_for(rep, "email:send")
    url = f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve"
    first = client.post_json(url, {"expected_version": 1}, headers={"Idempotency-Key": "approve-1"})
    second = client.post_json(url, {"expected_version": 1}, headers={"Idempotency-Key": "approve-1"})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert OutboundMessage.objects.count() == 1


def test_a_draft_that_is_not_ready_cannot_be_approved(rep, api_client_for):
    draft = DraftFactory(sender=rep, state=Draft.State.QUEUED, subject="", body_text="")
    response = api_client_for(rep, "email:send").post_json(
        f"/v1/drafts/{pid('drf', draft.pk)}/approve", {"expected_version": 1}
    )
    assert response.status_code == 409
    assert not OutboundMessage.objects.exists()


def test_an_admin_may_approve_any_draft_as_in_the_browser(admin_user, ready_draft, api_client_for):
    response = api_client_for(admin_user, "email:send").post_json(
        f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 1}
    )
    assert response.status_code == 200
    assert OutboundMessage.objects.get().approved_by == admin_user


# --- draft_edit_signal -----------------------------------------------------------------------------


@pytest.mark.broker
def test_an_edited_approval_emits_a_draft_edit_signal_with_its_distance(
    rep, ready_draft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        draft_approve(draft=ready_draft, user=rep, expected_version=1, body_text=ready_draft.body_text + " Thanks!")
    event = EmittedEvent.objects.get(type="draft_edit_signal")
    assert event.payload["decision"] == "edit_approve"
    assert event.payload["edit"]["char_distance"] > 0
    assert event.payload["edit"]["changed_parts"] == ["body"]
    assert event.payload["recipient"]["id"] == pid("ctc", ready_draft.recipient_id)
    assert (event.sender, event.recipient) == (rep, ready_draft.recipient)


def test_the_signal_is_stored_with_the_decision_not_after_its_commit(
    rep, ready_draft, django_capture_on_commit_callbacks
):
    # A process that dies between the commit and the after-commit hooks loses no event.
    with django_capture_on_commit_callbacks(execute=False):
        draft_approve(draft=ready_draft, user=rep, expected_version=1)
    assert EmittedEvent.objects.filter(type="draft_edit_signal", payload__draft_id=pid("drf", ready_draft.pk)).exists()


def test_a_refused_decision_stores_no_signal(rep, ready_draft):
    draft_approve(draft=ready_draft, user=rep, expected_version=1)
    with pytest.raises(Exception, match="already approved"):
        draft_reject(draft=ready_draft, user=rep, expected_version=1, reason="tone")
    assert list(EmittedEvent.objects.values_list("payload__decision", flat=True)) == ["approve"]


@pytest.mark.broker
def test_an_api_approval_emits_a_signal_saying_so(rep, ready_draft, api_client_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(rep, "email:send").post_json(
            f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 1}
        )
    event = EmittedEvent.objects.get(type="draft_edit_signal")
    assert (event.payload["decision"], event.payload["via"], event.payload["decided_by"], event.payload["edit"]) == (
        "approve",
        "api",
        rep.username,
        None,
    )


def test_a_rejection_emits_a_signal_with_its_reason(rep, ready_draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        draft_reject(draft=ready_draft, user=rep, expected_version=1, reason="tone", note="too pushy")
    event = EmittedEvent.objects.get(type="draft_edit_signal")
    assert (event.payload["decision"], event.payload["reason"], event.payload["note"]) == (
        "reject",
        "tone",
        "too pushy",
    )


def test_a_csms_token_cannot_approve_a_reps_draft_it_cannot_see_in_the_browser(csm, ready_draft, api_client_for):
    response = api_client_for(csm, "email:send").post_json(
        f"/v1/drafts/{pid('drf', ready_draft.pk)}/approve", {"expected_version": 1}
    )
    assert response.status_code == 404
    assert not OutboundMessage.objects.exists()
