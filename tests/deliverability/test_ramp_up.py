"""Ramp-up: a new sender's daily limit starts small and grows each day; emails over it wait."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from outreach.mail.models import OutboundMessage
from outreach.mail.ramp_up import ramp_limit, ramp_schedule
from outreach.mail.services.sending import outbound_message_send
from tests.factories import ApprovedDraftFactory

pytestmark = pytest.mark.django_db

START = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def ramp_settings(settings):
    settings.RAMP_UP_START_PER_DAY = 20
    settings.RAMP_UP_GROWTH_PERCENT = 40.0


def test_the_limit_starts_small_and_grows_by_the_percentage_each_day_to_the_full_limit():
    limits = [ramp_limit(full_limit=200, started=START, today=START + timedelta(days=d)) for d in range(9)]
    assert limits == [20, 28, 39, 54, 76, 107, 150, 200, 200]
    assert ramp_limit(full_limit=200, started=None, today=START) == 200
    assert ramp_limit(full_limit=10, started=START, today=START) == 10  # never above the sender's own limit


def test_the_schedule_lists_each_day_until_the_full_limit_and_ends_with_the_ramp_up():
    schedule = ramp_schedule(full_limit=200, started=START, today=START + timedelta(days=2))
    assert [(d.day.day, d.limit) for d in schedule][:3] == [(1, 20), (2, 28), (3, 39)]
    assert schedule[-1].limit == 200 and [d.is_today for d in schedule].index(True) == 2
    assert ramp_schedule(full_limit=200, started=START, today=START + timedelta(days=30)) == []


def test_a_ramping_sender_sends_todays_limit_and_the_rest_wait(smtp_server, approve, rep, settings):
    settings.RAMP_UP_START_PER_DAY = 2
    rep.sender.ramp_up_from = timezone.now().date()
    rep.sender.save()
    messages = [approve(ApprovedDraftFactory(sender=rep)) for _ in range(3)]
    for message in messages:
        outbound_message_send(message_id=message.pk)
        message.refresh_from_db()
    assert [m.state for m in messages] == ["sent", "sent", "queued"]
    assert messages[2].code == OutboundMessage.Code.DAILY_LIMIT and "(ramping up)" in messages[2].error_message
    assert len(smtp_server.received) == 2


def test_my_sending_shows_the_ramp_up_schedule(rep, rep_client):
    rep.sender.ramp_up_from = timezone.now().date() - timedelta(days=1)
    rep.sender.save()
    page = rep_client.get(reverse("sender_config")).content.decode()
    assert "Ramp-up schedule" in page and "(today)" in page and "<td>28</td>" in page
    rep.sender.ramp_up_from = None
    rep.sender.save()
    page = rep_client.get(reverse("sender_config")).content.decode()
    assert "Ramp-up schedule" not in page and "Up to 200 emails a day" in page
