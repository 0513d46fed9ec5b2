"""A campaign's send window holds an approved email until business hours in the recipient's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from campaigns.models import Campaign
from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send, send_window_next_open
from tests.factories import ApprovedDraftFactory, RecipientFactory

pytestmark = pytest.mark.django_db

BUSINESS_HOURS = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}


def test_an_email_approved_at_night_waits_for_9am_in_the_recipients_time_zone(approve, mailoutbox):
    campaign = Campaign.objects.create(name="Check-ins", send_window=BUSINESS_HOURS)
    recipient = RecipientFactory(time_zone="America/New_York")
    # Tuesday 2026-03-03 03:00 in New York (08:00 UTC).
    with time_machine.travel(datetime(2026, 3, 3, 8, 0, tzinfo=UTC), tick=False):
        message = approve(ApprovedDraftFactory(recipient=recipient, campaign=campaign))
        assert outbound_message_send(message_id=message.pk) is None
    assert message.not_before == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)  # 09:00 EST
    with time_machine.travel(datetime(2026, 3, 3, 14, 0, 1, tzinfo=UTC), tick=False):
        outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT
    assert len(mailoutbox) == 1


def test_an_email_approved_on_friday_evening_waits_for_monday():
    friday_evening = datetime(2026, 3, 6, 18, 30, tzinfo=UTC)
    opens = send_window_next_open(window=BUSINESS_HOURS, time_zone="Europe/London", now=friday_evening)
    assert opens == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def test_inside_the_window_an_email_may_go_at_once():
    tuesday_noon = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    assert send_window_next_open(window=BUSINESS_HOURS, time_zone="UTC", now=tuesday_noon) is None


def test_a_campaign_without_a_window_sends_at_any_hour(approve):
    campaign = Campaign.objects.create(name="Anytime")
    with time_machine.travel(datetime(2026, 3, 3, 3, 0, tzinfo=UTC), tick=False):
        message = approve(ApprovedDraftFactory(campaign=campaign))
    assert message.not_before is None


def test_a_retry_that_lands_outside_the_window_waits_again(approve, mailoutbox):
    campaign = Campaign.objects.create(name="Check-ins", send_window=BUSINESS_HOURS)
    recipient = RecipientFactory(time_zone="UTC")
    with time_machine.travel(datetime(2026, 3, 3, 12, 0, tzinfo=UTC), tick=False):
        message = approve(ApprovedDraftFactory(recipient=recipient, campaign=campaign))
    OutboundMessage.objects.filter(pk=message.pk).update(not_before=datetime(2026, 3, 3, 20, 0, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 3, 3, 20, 0, 1, tzinfo=UTC), tick=False):
        outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert (message.state, message.not_before) == ("queued", datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    assert mailoutbox == []
