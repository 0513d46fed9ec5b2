"""The demo: each demo sender's own mailbox is the local development mailbox, so a simulated reply
travels the same sync path as a real one and stops the sequence; an out-of-office does not."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import TestCase

from campaigns import services as campaign_services
from campaigns.models import Enrollment
from outreach.mail.models import EngagementEvent, LocalMailboxMessage, MailboxConnection
from outreach.mail.services.sending import outbound_message_send
from review.models import Draft
from tests.campaigns.conftest import approve as approve_campaign_draft
from tests.campaigns.conftest import make_campaign
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "outreach.mail.local_mailbox.LocalMailboxBackend"
    call_command("seed_demo")
    return get_user_model().objects.get(username="rita")


def _sent_in_a_sequence(rita):
    campaign = make_campaign(steps=2, delays=(0, 3), created_by=get_user_model().objects.get(username="carl"))
    enrollment = campaign_services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rita))
    campaign_services.enrollment_advance_due()
    message = approve_campaign_draft(Draft.objects.get(enrollment_ref=enrollment.pk), rita)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    return enrollment, message


def test_every_demo_sender_has_one_local_mailbox_however_often_the_demo_is_seeded(demo):
    call_command("seed_demo")
    mailboxes = MailboxConnection.objects.filter(kind=MailboxConnection.Kind.LOCAL)
    assert sorted(m.email_address for m in mailboxes) == [
        "ada@outreach.example",
        "carl@outreach.example",
        "rita@outreach.example",
    ]
    assert all(m.is_default and m.state == "connected" for m in mailboxes)


def test_a_simulated_reply_goes_through_the_mailbox_sync_and_exits_the_enrollment(demo):
    enrollment, message = _sent_in_a_sequence(demo)
    assert message.state == "sent" and message.mailbox.kind == MailboxConnection.Kind.LOCAL
    assert LocalMailboxMessage.objects.filter(message_id=message.message_id).exists()

    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("simulate_reply", message=message.pk, text="Thursday works.")

    event = EngagementEvent.objects.get(kind=EngagementEvent.Kind.REPLIED)
    assert event.provider == "mailbox" and event.message == message
    assert event.reply_text == "Thursday works."
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.EXITED_REPLY


def test_a_simulated_out_of_office_is_recorded_and_the_sequence_goes_on(demo):
    enrollment, message = _sent_in_a_sequence(demo)
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("simulate_reply", message=message.pk, out_of_office=True)
    assert EngagementEvent.objects.get().kind == EngagementEvent.Kind.AUTO_REPLIED
    enrollment.refresh_from_db()
    assert enrollment.state != Enrollment.State.EXITED_REPLY


def test_a_reply_left_to_the_worker_is_read_by_the_periodic_sync(demo):
    from outreach.mail.tasks import mailboxes_sync_due

    enrollment, message = _sent_in_a_sequence(demo)
    call_command("simulate_reply", message=message.pk, no_sync=True)
    assert not EngagementEvent.objects.exists()
    MailboxConnection.objects.update(last_synced_at=None)
    with TestCase.captureOnCommitCallbacks(execute=True):
        mailboxes_sync_due()
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.EXITED_REPLY
