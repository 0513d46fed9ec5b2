"""The demo's simulate_event command goes through the real webhook path."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from outreach.mail.models import EngagementEvent
from outreach.suppression.models import Suppression
from tests.factories import OutboundMessageFactory

from .conftest import SVIX_SECRET, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def message():
    return OutboundMessageFactory()


def simulate(message, kind, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("simulate_event", message=message.pk, kind=kind)


def test_a_simulated_bounce_is_signed_and_suppresses_the_address(settings, message, django_capture_on_commit_callbacks):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET, "RESEND_SIGNING_SECRET": SVIX_SECRET}
    simulate(message, "bounced", django_capture_on_commit_callbacks)
    entry = Suppression.objects.get()
    assert (entry.value, entry.reason) == (message.to_email, "hard_bounce")
    assert entry.source.startswith("resend webhook event msg_")


def test_a_simulated_reply_is_matched_to_its_message(settings, message, django_capture_on_commit_callbacks):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    simulate(message, "replied", django_capture_on_commit_callbacks)
    event = EngagementEvent.objects.get()
    assert (event.kind, event.message) == ("replied", message)
    assert event.reply_text == "Thanks, that sounds useful. Could we talk on Thursday?"


def test_a_simulated_one_click_unsubscribe_suppresses(message, django_capture_on_commit_callbacks):
    simulate(message, "unsubscribed", django_capture_on_commit_callbacks)
    assert Suppression.objects.get().reason == "unsubscribed"


def test_simulating_a_missing_message_fails_plainly():
    with pytest.raises(CommandError, match="No outbound message #999"):
        call_command("simulate_event", message=999, kind="bounced")
