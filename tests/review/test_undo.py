"""Undo after approve: the email is held for APPROVE_UNDO_SECONDS; within that time the approver can
take it back, nothing is sent, the draft returns to the queue and the decision is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Enrollment
from outreach.core.errors import ApplicationError
from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from review import services
from review.models import Draft, DraftDecision
from tests.campaigns.conftest import make_campaign
from tests.factories import DraftFactory, RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(rep):
    return DraftFactory(sender=rep)


def test_an_approved_email_is_held_for_the_undo_time_and_not_sent_before(draft, rep, undo_hold):
    services.draft_approve(draft=draft, user=rep, expected_version=1)
    message = OutboundMessage.objects.get(draft_ref=draft.pk)

    assert timezone.now() + timedelta(seconds=8) < message.not_before <= timezone.now() + timedelta(seconds=10)
    assert outbound_message_send(message_id=message.pk) is None  # nothing to claim while held
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.QUEUED and message.attempts == 0


def test_undo_within_the_hold_sends_nothing_and_brings_the_draft_back(draft, rep, undo_hold):
    services.draft_approve(draft=draft, user=rep, expected_version=1)
    message = OutboundMessage.objects.get(draft_ref=draft.pk)

    services.draft_undo_approve(draft=draft, user=rep, expected_version=2)

    draft.refresh_from_db()
    message.refresh_from_db()
    assert draft.state == Draft.State.READY and draft.outbound_message is None and draft.version == 3
    assert (message.state, message.code, message.draft_ref) == ("skipped", "undone", None)
    assert message.log.last().actor == rep
    actions = list(DraftDecision.objects.filter(draft=draft).order_by("pk").values_list("action", flat=True))
    assert actions == ["approve", "undo_approve"]
    # It can be approved again, once.
    services.draft_approve(draft=draft, user=rep, expected_version=3)
    assert OutboundMessage.objects.filter(draft_ref=draft.pk, state="queued").count() == 1


def test_undo_after_the_hold_is_refused_and_the_email_goes_out(draft, rep, undo_hold):
    services.draft_approve(draft=draft, user=rep, expected_version=1)
    Draft.objects.filter(pk=draft.pk).update(decided_at=timezone.now() - timedelta(seconds=30))

    with pytest.raises(ApplicationError, match="Too late to undo"):
        services.draft_undo_approve(draft=draft, user=rep, expected_version=2)
    assert OutboundMessage.objects.get(draft_ref=draft.pk).state == "queued"


def test_a_message_a_worker_has_claimed_cannot_be_undone(draft, rep, undo_hold):
    services.draft_approve(draft=draft, user=rep, expected_version=1)
    OutboundMessage.objects.filter(draft_ref=draft.pk).update(state=OutboundMessage.State.SENDING, attempts=1)

    with pytest.raises(ApplicationError, match="already being sent"):
        services.draft_undo_approve(draft=draft, user=rep, expected_version=2)
    assert Draft.objects.get(pk=draft.pk).state == Draft.State.APPROVED


def test_only_the_approver_can_undo(draft, rep, other_rep, undo_hold):
    services.draft_approve(draft=draft, user=rep, expected_version=1)
    with pytest.raises(ApplicationError, match="Only the person who approved"):
        services.draft_undo_approve(draft=draft, user=other_rep, expected_version=2)


def test_undo_is_refused_when_turned_off(draft, rep, settings):
    settings.APPROVE_UNDO_SECONDS = 0
    services.draft_approve(draft=draft, user=rep, expected_version=1)
    assert OutboundMessage.objects.get(draft_ref=draft.pk).not_before is None
    with pytest.raises(ApplicationError, match="turned off"):
        services.draft_undo_approve(draft=draft, user=rep, expected_version=2)


@pytest.mark.broker
def test_undo_returns_a_sequence_to_waiting_for_review(csm, rep, undo_hold, django_capture_on_commit_callbacks):
    campaign = make_campaign(created_by=csm)
    enrollment = campaign_services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    campaign_services.enrollment_advance_due()
    draft = Draft.objects.get(enrollment_ref=enrollment.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.draft_approve(draft=draft, user=rep, expected_version=draft.version)
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.WAITING_SEND

    with django_capture_on_commit_callbacks(execute=True):
        services.draft_undo_approve(draft=draft, user=rep, expected_version=draft.version + 1)

    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.WAITING_REVIEW
    assert enrollment.events.last().kind == "approval_undone"


def test_the_approve_notice_offers_undo_and_the_undo_view_brings_the_draft_back(rep, rep_client, undo_hold):
    draft = DraftFactory(sender=rep)
    response = rep_client.post(reverse("draft_approve", args=[draft.pk]), {"version": 1}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "it is held for 10 s so you can undo, then sent." in html
    assert f'hx-post="{reverse("draft_undo", args=[draft.pk])}"' in html and 'data-undo-seconds="10"' in html

    response = rep_client.post(reverse("draft_undo", args=[draft.pk]), {"version": 2}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert "Approval undone: nothing was sent" in html and f'data-draft-id="{draft.pk}"' in html
    assert Draft.objects.get(pk=draft.pk).state == Draft.State.READY
