"""The enrollment state machine, end to end through the real services and the other apps' signals."""

from __future__ import annotations

import pytest
import time_machine
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, Enrollment, EnrollmentEvent, SequenceStep
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.suppression.models import Suppression
from outreach.suppression.services import suppression_add
from review.models import Draft, DraftSkip
from review.services import draft_request
from tests.campaigns.factories import CampaignFactory, SequenceStepFactory
from tests.factories import RecipientFactory, UserFactory, from_campaign

from .conftest import approve, days, finish, make_campaign, record_event, reject

State = Enrollment.State
T0 = "2026-11-02 09:00:00+00:00"


def enroll(campaign, recipient, **kwargs) -> Enrollment:
    return services.enrollment_create(campaign=campaign, recipient=recipient, **kwargs)


def refresh(obj):
    obj.refresh_from_db()
    return obj


def step_of(draft: Draft) -> SequenceStep:
    """The sequence step a draft was asked for (review keeps its id)."""
    return SequenceStep.objects.get(pk=draft.step_ref)


def test_a_due_step_becomes_a_draft_for_review_never_a_message(campaign, recipient, rep):
    enrollment = enroll(campaign, recipient)

    result = services.enrollment_advance_due()

    draft = Draft.objects.get(enrollment_ref=enrollment.pk)
    assert result.drafted == 1 and result.draft_ids == [draft.pk]
    assert draft.state == Draft.State.READY and draft.sender == rep and step_of(draft).position == 1
    assert not OutboundMessage.objects.exists()
    assert refresh(enrollment).state == State.WAITING_REVIEW


def test_a_fixed_step_is_rendered_with_variables_as_plain_text(campaign, rep):
    recipient = RecipientFactory(owner=rep, first_name="<b>Liu</b>")
    enroll(campaign, recipient)

    services.enrollment_advance_due()

    draft = Draft.objects.get(recipient=recipient)
    # Values are text, never markup: tags from recipient data do not reach the email.
    assert draft.subject == "Step 1 for Liu"
    assert "Liu" in draft.body_html and "<b>" not in draft.body_html
    assert draft.versions.count() == 1


def test_a_prompt_step_is_left_queued_for_the_drafting_task(rep):
    campaign = CampaignFactory()
    SequenceStepFactory(campaign=campaign, position=1, subject="", body="", prompt="Mention the renewal date.")
    enroll(campaign, RecipientFactory(owner=rep))

    services.enrollment_advance_due()

    draft = Draft.objects.get(origin__campaign_ref=campaign.pk)
    assert draft.state == Draft.State.QUEUED and step_of(draft).prompt == "Mention the renewal date."
    assert draft.subject == "" and not draft.versions.exists()


def test_approval_moves_the_enrollment_to_waiting_for_the_send(campaign, recipient, rep):
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()

    approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep)

    assert refresh(enrollment).state == State.WAITING_SEND


def test_the_next_step_is_due_delay_days_after_the_send(campaign, recipient, rep):
    with time_machine.travel(T0, tick=False):
        enrollment = enroll(campaign, recipient)
        services.enrollment_advance_due()
        message = approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep)
        finish(message)
    enrollment.refresh_from_db()
    assert enrollment.state == State.WAITING_DELAY and enrollment.current_step == 2
    assert enrollment.next_due_at == message.sent_at + days(3)

    with time_machine.travel(message.sent_at + days(3) - days(1) / 24, tick=False):
        assert services.enrollment_advance_due().drafted == 0
    with time_machine.travel(message.sent_at + days(3), tick=False):
        assert services.enrollment_advance_due().drafted == 1
    assert Draft.objects.filter(
        enrollment_ref=enrollment.pk, step_ref__in=SequenceStep.objects.filter(position=2).values("pk")
    ).exists()


def test_the_sequence_completes_after_the_last_step_is_sent(rep, recipient):
    campaign = make_campaign(steps=1, delays=(0,))
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()

    finish(approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep))

    enrollment.refresh_from_db()
    assert enrollment.state == State.COMPLETED and enrollment.next_due_at is None


def test_a_reply_during_the_delay_stops_the_next_step(campaign, recipient, rep):
    with time_machine.travel(T0, tick=False):
        enrollment = enroll(campaign, recipient)
        services.enrollment_advance_due()
        message = finish(approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep))
    with time_machine.travel(message.sent_at + days(1), tick=False):
        record_event(message, EngagementEvent.Kind.REPLIED, reply_text="Thanks, let's talk.")

    with time_machine.travel(message.sent_at + days(10), tick=False):
        result = services.enrollment_advance_due()

    assert result.drafted == 0
    enrollment.refresh_from_db()
    assert enrollment.state == State.EXITED_REPLY and enrollment.state_reason == "the recipient replied"
    assert Draft.objects.filter(enrollment_ref=enrollment.pk).count() == 1


def test_a_reply_supersedes_an_open_draft_so_it_cannot_be_approved(rep, recipient):
    campaign = make_campaign(steps=2, delays=(0, 0))
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()
    message = finish(approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep))
    services.enrollment_advance_due()  # step 2 is due at once
    open_draft = Draft.objects.get(
        enrollment_ref=enrollment.pk, step_ref__in=SequenceStep.objects.filter(position=2).values("pk")
    )

    record_event(message, EngagementEvent.Kind.REPLIED, reply_text="Not now.")

    open_draft.refresh_from_db()
    assert open_draft.state == Draft.State.SUPERSEDED and open_draft.version == 2
    assert refresh(enrollment).state == State.EXITED_REPLY


def test_no_draft_while_another_campaign_has_an_open_draft_for_the_recipient(campaign, recipient, rep):
    other = make_campaign(steps=1, delays=(0,))
    first = enroll(other, recipient)
    services.enrollment_advance_due()
    second = enroll(campaign, recipient)

    result = services.enrollment_advance_due()

    assert result.drafted == 0
    assert refresh(second).state == State.ACTIVE
    assert Draft.objects.filter(recipient=recipient).count() == 1
    # Once the first email is sent the second campaign's step follows.
    finish(approve(Draft.objects.get(enrollment_ref=first.pk), rep))
    assert services.enrollment_advance_due().drafted == 1
    assert refresh(second).state == State.WAITING_REVIEW


def test_no_draft_while_a_message_for_the_recipient_is_queued(campaign, recipient, rep):
    other = CampaignFactory()
    SequenceStepFactory(campaign=other, position=1)
    queued = draft_request(recipient=recipient, sender=rep, **from_campaign(other))
    approve(queued, rep)  # an approved draft waiting in the outbox
    enrollment = enroll(campaign, recipient)

    assert services.enrollment_advance_due().drafted == 0
    assert refresh(enrollment).state == State.ACTIVE


def test_a_suppressed_recipient_ends_as_suppressed_with_the_reason(campaign, recipient):
    enrollment = enroll(campaign, recipient)
    suppression_add(kind=Suppression.Kind.ADDRESS, value=recipient.email, reason=Suppression.Reason.UNSUBSCRIBED)

    result = services.enrollment_advance_due()

    enrollment.refresh_from_db()
    assert result.suppressed == 1 and enrollment.state == State.SUPPRESSED
    assert "Unsubscribed" in enrollment.state_reason
    assert DraftSkip.objects.filter(enrollment_ref=enrollment.pk, code="suppressed").exists()
    assert not Draft.objects.exists()


def test_a_new_suppression_ends_live_enrollments_at_once(campaign, recipient, django_capture_on_commit_callbacks):
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()

    with django_capture_on_commit_callbacks(execute=True):
        suppression_add(kind=Suppression.Kind.DOMAIN, value=recipient.domain, reason=Suppression.Reason.LEGAL_REQUEST)

    enrollment.refresh_from_db()
    assert enrollment.state == State.SUPPRESSED and "Legal request" in enrollment.state_reason
    assert Draft.objects.get(enrollment_ref=enrollment.pk).state == Draft.State.SUPERSEDED


def test_a_campaign_list_suppression_only_ends_that_campaigns_enrollments(recipient, rep):
    from tests.factories import SuppressionListFactory

    vip = SuppressionListFactory(name="VIP", is_global=False)
    respects = make_campaign(steps=1, delays=(0,))
    respects.suppression_lists.add(vip)
    ignores = make_campaign(steps=1, delays=(0,))
    a, b = enroll(respects, recipient), enroll(ignores, recipient)

    entry = suppression_add(
        kind=Suppression.Kind.ADDRESS, value=recipient.email, reason=Suppression.Reason.MANUAL, suppression_list=vip
    )
    services.enrollment_on_suppression(entry=entry)

    assert refresh(a).state == State.SUPPRESSED and refresh(b).state == State.ACTIVE


def test_a_bounce_ends_the_enrollment_as_suppressed(campaign, recipient, rep):
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()
    message = finish(approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep))

    record_event(message, EngagementEvent.Kind.BOUNCED)

    enrollment.refresh_from_db()
    assert enrollment.state == State.SUPPRESSED and enrollment.state_reason == "hard bounce"


def test_a_rejected_draft_cancels_the_sequence_with_the_reason(campaign, recipient, rep):
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()

    reject(Draft.objects.get(enrollment_ref=enrollment.pk), rep, note="She left the company")

    enrollment.refresh_from_db()
    assert enrollment.state == State.CANCELLED
    assert "rejected by" in enrollment.state_reason and "She left the company" in enrollment.state_reason
    assert services.enrollment_advance_due().drafted == 0


def test_a_failed_send_holds_the_enrollment_for_attention_when_the_campaign_says_so(recipient, rep):
    campaign = make_campaign(complete_on_send_failure=False)
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()

    finish(
        approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep),
        state=OutboundMessage.State.FAILED,
        code=OutboundMessage.Code.PROVIDER_ERROR,
        error="550 mailbox unavailable",
    )

    enrollment.refresh_from_db()
    assert enrollment.state == State.FAILED
    assert "provider_error" in enrollment.state_reason and "needs attention" in enrollment.state_reason


def test_a_failed_send_continues_by_default_as_one_to_one_send_tools_do(recipient, rep):
    campaign = make_campaign()
    assert campaign.complete_on_send_failure is True
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()

    finish(approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep), state=OutboundMessage.State.FAILED)

    enrollment.refresh_from_db()
    assert enrollment.state == State.WAITING_DELAY and enrollment.current_step == 2


def test_a_send_skipped_for_suppression_ends_as_suppressed(campaign, recipient, rep):
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()

    finish(
        approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep),
        state=OutboundMessage.State.SKIPPED,
        code=OutboundMessage.Code.SUPPRESSED,
    )

    assert refresh(enrollment).state == State.SUPPRESSED


def test_a_finished_message_is_handled_once(rep, recipient):
    campaign = make_campaign(steps=3, delays=(0, 0, 0))
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()
    message = finish(approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep))

    finish(message)  # the signal arrives twice

    assert refresh(enrollment).current_step == 2


def test_cancel_at_any_time_supersedes_the_open_draft(campaign, recipient, csm):
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()

    services.enrollment_cancel(enrollment=enrollment, user=csm, reason="Customer asked for a pause")

    enrollment.refresh_from_db()
    assert enrollment.state == State.CANCELLED and enrollment.state_reason == "Customer asked for a pause"
    assert Draft.objects.get(enrollment_ref=enrollment.pk).state == Draft.State.SUPERSEDED
    assert EnrollmentEvent.objects.filter(enrollment=enrollment, kind="cancelled", actor=csm).exists()


def test_an_ad_hoc_enrollment_follows_its_own_steps(recipient, rep):
    enrollment = services.enrollment_create(
        recipient=recipient,
        kind=Enrollment.Kind.AD_HOC,
        sender=rep,
        user=rep,
        steps=[{"delay_days": 0, "subject": "Just for you", "body": "Hi {{ first_name }}"}],
    )

    services.enrollment_advance_due()

    draft = Draft.objects.get(enrollment_ref=enrollment.pk)
    assert draft.subject == "Just for you" and draft.origin is None and draft.sender == rep


def test_a_triggered_enrollment_is_refused_twice_for_the_same_occurrence(campaign, recipient):
    from outreach.core.errors import ApplicationError

    services.enrollment_create(
        campaign=campaign, recipient=recipient, kind=Enrollment.Kind.TRIGGERED, occurrence_key="renewal:2027-01-15"
    )
    enrollment = Enrollment.objects.get()
    enrollment.state = State.COMPLETED
    enrollment.save()

    with pytest.raises(ApplicationError, match="already enrolled for renewal:2027-01-15"):
        services.enrollment_create(
            campaign=campaign, recipient=recipient, kind=Enrollment.Kind.TRIGGERED, occurrence_key="renewal:2027-01-15"
        )
    assert Enrollment.objects.count() == 1


def test_a_paused_campaign_requests_no_drafts(campaign, recipient, csm):
    enroll(campaign, recipient)
    services.campaign_pause(campaign=campaign, user=csm)

    assert services.enrollment_advance_due().drafted == 0
    services.campaign_resume(campaign=campaign, user=csm)
    assert services.enrollment_advance_due().drafted == 1


def test_running_the_scan_twice_requests_one_draft(campaign, recipient):
    enroll(campaign, recipient)

    services.enrollment_advance_due()
    services.enrollment_advance_due()

    assert Draft.objects.count() == 1


def test_history_records_every_state_change(campaign, recipient, rep):
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()
    finish(approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep))

    kinds = list(EnrollmentEvent.objects.filter(enrollment=enrollment).values_list("kind", "to_state"))
    assert kinds == [
        ("enrolled", "active"),
        ("draft_requested", "waiting_review"),
        ("approved", "waiting_send"),
        ("sent", "waiting_delay"),
    ]


# --- who sends -------------------------------------------------------------------------------


def test_the_owner_sends_by_default(campaign, recipient, rep):
    enrollment = enroll(campaign, recipient)
    services.enrollment_advance_due()
    assert refresh(enrollment).sender == rep


def test_a_named_sender_sends_for_everyone(rep, other_rep):
    campaign = make_campaign(sender_mode=Campaign.SenderMode.NAMED, named_sender=other_rep)
    enroll(campaign, RecipientFactory(owner=rep))
    services.enrollment_advance_due()
    assert Draft.objects.get().sender == other_rep


def test_round_robin_is_fair_and_stable(rep, other_rep):
    campaign = make_campaign(steps=2, delays=(0, 0), sender_mode=Campaign.SenderMode.ROUND_ROBIN)
    campaign.round_robin_senders.set([rep, other_rep])
    enrollments = [enroll(campaign, RecipientFactory()) for _ in range(4)]

    services.enrollment_advance_due()

    senders = [refresh(e).sender for e in enrollments]
    assert senders.count(rep) == 2 and senders.count(other_rep) == 2
    # The second step comes from the same person as the first.
    first = enrollments[0]
    finish(approve(Draft.objects.get(enrollment_ref=first.pk), first.sender))
    services.enrollment_advance_due()
    assert (
        Draft.objects.get(
            enrollment_ref=first.pk, step_ref__in=SequenceStep.objects.filter(position=2).values("pk")
        ).sender
        == first.sender
    )


def test_a_recipient_without_owner_fails_with_a_reason(campaign):
    enrollment = enroll(campaign, RecipientFactory(owner=None))
    services.enrollment_advance_due()
    enrollment.refresh_from_db()
    assert enrollment.state == State.FAILED and "no sender" in enrollment.state_reason


def test_archiving_cancels_live_enrollments(campaign, recipient, csm):
    enrollment = enroll(campaign, recipient)
    services.campaign_archive(campaign=campaign, user=csm)
    assert refresh(enrollment).state == State.CANCELLED


def test_a_user_with_no_sender_profile_is_never_picked(campaign):
    owner = UserFactory(username="nosender", role="rep", sender=False)
    enroll(campaign, RecipientFactory(owner=owner))
    services.enrollment_advance_due()
    # The draft is requested (review decides); the outbox refuses to send without a profile.
    assert Draft.objects.get().sender == owner


def test_enrollment_time_is_recorded(campaign, recipient):
    with time_machine.travel(T0, tick=False):
        enrollment = enroll(campaign, recipient)
    assert enrollment.next_due_at == timezone.datetime.fromisoformat(T0)
