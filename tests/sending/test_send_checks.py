"""What the sender checks at send time, after approval: each refusal ends with its code and reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, SequenceStep
from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from outreach.suppression.models import Suppression
from outreach.suppression.services import suppression_add
from tests.factories import ApprovedDraftFactory, RecipientFactory, SuppressionListFactory

pytestmark = pytest.mark.django_db

State, Code = OutboundMessage.State, OutboundMessage.Code


def _send(message):
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    return message


def test_a_suppression_added_between_approval_and_send_skips_the_email(approve, mailoutbox):
    message = approve(ApprovedDraftFactory())
    suppression_add(kind=Suppression.Kind.DOMAIN, value=message.recipient.domain, reason=Suppression.Reason.MANUAL)
    message = _send(message)
    assert (message.state, message.code) == (State.SKIPPED, Code.SUPPRESSED)
    assert "Manual" in message.error_message
    assert message.as_send_result()["status"] == "skipped"
    assert mailoutbox == []


def test_an_unsubscribed_recipient_is_skipped_as_opted_out(approve, mailoutbox):
    message = approve(ApprovedDraftFactory())
    suppression_add(kind=Suppression.Kind.ADDRESS, value=message.to_email, reason=Suppression.Reason.UNSUBSCRIBED)
    message = _send(message)
    assert (message.state, message.code) == (State.SKIPPED, "user_marketing_email_opt_out")
    assert mailoutbox == []


def test_a_campaigns_own_suppression_list_applies_at_send_time(approve, mailoutbox):
    recipient = RecipientFactory()
    campaign = Campaign.objects.create(name="Renewals")
    own_list = SuppressionListFactory(name="Renewals do-not-contact", is_global=False)
    campaign.suppression_lists.add(own_list)
    message = approve(ApprovedDraftFactory(recipient=recipient, campaign=campaign))
    suppression_add(
        kind=Suppression.Kind.ADDRESS,
        value=recipient.email,
        reason=Suppression.Reason.MANUAL,
        suppression_list=own_list,
    )
    assert _send(message).code == Code.SUPPRESSED


def test_the_same_content_to_the_same_recipient_is_sent_once(approve, mailoutbox, rep):
    recipient = RecipientFactory()
    first = _send(approve(ApprovedDraftFactory(recipient=recipient, sender=rep)))
    second = _send(approve(ApprovedDraftFactory(recipient=recipient, sender=rep)))
    assert first.state == State.SENT
    assert (second.state, second.code) == (State.SKIPPED, Code.DUPLICATE_EMAIL)
    assert f"#{first.pk}" in second.error_message
    assert len(mailoutbox) == 1


def test_a_second_message_for_the_same_campaign_step_is_a_duplicate_even_with_other_text(approve, mailoutbox):
    recipient = RecipientFactory()
    campaign = Campaign.objects.create(name="Onboarding")
    step = SequenceStep.objects.create(campaign=campaign, position=1)
    _send(approve(ApprovedDraftFactory(recipient=recipient, campaign=campaign, step=step)))
    second = approve(ApprovedDraftFactory(recipient=recipient, campaign=campaign, step=step, subject="Another angle"))
    assert _send(second).code == Code.DUPLICATE_EMAIL


def test_the_same_content_may_go_again_after_the_duplicate_window(approve, mailoutbox, settings):
    settings.DUPLICATE_WINDOW_DAYS = 7
    recipient = RecipientFactory()
    first = _send(approve(ApprovedDraftFactory(recipient=recipient)))
    OutboundMessage.objects.filter(pk=first.pk).update(sent_at=timezone.now() - timedelta(days=8))
    assert _send(approve(ApprovedDraftFactory(recipient=recipient))).state == State.SENT


def test_the_daily_limit_defers_the_email_to_when_a_slot_frees(approve, mailoutbox, rep):
    rep.sender.daily_send_limit = 2
    rep.sender.save()
    sent = [_send(approve(ApprovedDraftFactory(sender=rep))) for _ in range(2)]
    third = _send(approve(ApprovedDraftFactory(sender=rep)))
    assert [m.state for m in sent] == [State.SENT, State.SENT]
    assert (third.state, third.code) == (State.QUEUED, Code.DAILY_LIMIT)
    assert third.not_before == sent[0].sent_at + timedelta(hours=24, seconds=1)
    assert third.attempts == 0
    assert len(mailoutbox) == 2


def test_the_daily_limit_counts_only_the_last_24_hours(approve, mailoutbox, rep):
    rep.sender.daily_send_limit = 1
    rep.sender.save()
    old = _send(approve(ApprovedDraftFactory(sender=rep)))
    OutboundMessage.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(hours=25))
    assert _send(approve(ApprovedDraftFactory(sender=rep))).state == State.SENT


def test_a_body_changed_after_approval_is_not_sent(approve, mailoutbox):
    message = approve(ApprovedDraftFactory())
    OutboundMessage.objects.filter(pk=message.pk).update(body_text=message.body_text + "\nP.S. Buy now!")
    message = _send(message)
    assert (message.state, message.code) == (State.FAILED, Code.CONTENT_CHANGED)
    assert mailoutbox == []


def test_an_invalid_address_fails_without_calling_the_provider(approve, mailoutbox):
    message = approve(ApprovedDraftFactory(cc=["not an address"]))
    message = _send(message)
    assert (message.state, message.code) == (State.FAILED, Code.INVALID_ADDRESS)
    assert "not an address" in message.error_message
    assert message.attempts == 0
    assert mailoutbox == []


def test_sending_twice_sends_once(approve, mailoutbox):
    message = approve(ApprovedDraftFactory())
    _send(message)
    assert outbound_message_send(message_id=message.pk) is None
    assert len(mailoutbox) == 1


def test_a_finished_send_emits_the_signal_on_commit(approve, mailoutbox, django_capture_on_commit_callbacks):
    from outreach.mail.signals import outbound_message_finished

    seen = []

    def listener(sender, message, **kwargs):
        seen.append((message.pk, message.state))

    outbound_message_finished.connect(listener)
    try:
        message = approve(ApprovedDraftFactory())
        with django_capture_on_commit_callbacks(execute=True):
            outbound_message_send(message_id=message.pk)
    finally:
        outbound_message_finished.disconnect(listener)
    assert seen == [(message.pk, State.SENT)]


def test_a_sent_campaign_email_records_the_campaign_on_the_recipient(approve, mailoutbox):
    campaign = Campaign.objects.create(name="Q4 check-in")
    message = _send(approve(ApprovedDraftFactory(campaign=campaign)))
    message.recipient.refresh_from_db()
    assert message.recipient.properties["last_outreach_campaign"] == campaign.pk
