"""A worker killed mid-send never causes a second email; lost tasks are found again."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import (
    Resolution,
    _claim,
    outbound_message_recover,
    outbound_message_resolve,
    outbound_message_send,
    outbound_message_sweep,
)
from tests.broker import queued_tasks
from tests.factories import ApprovedDraftFactory

pytestmark = pytest.mark.django_db

State = OutboundMessage.State


def _killed_mid_send(message):
    """The worker claimed the row (and may have reached the provider), then died."""
    claimed, go = _claim(message.pk)
    assert go
    return claimed


def test_a_row_left_sending_with_an_expired_lease_becomes_unknown_and_is_not_resent(smtp_server, approve, settings):
    message = _killed_mid_send(approve(ApprovedDraftFactory()))
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SEND_LEASE_SECONDS + 1)):
        assert outbound_message_recover() == {"requeued": 0, "unknown": 1, "settled_from_sent_folder": 0}
        assert outbound_message_sweep() == 0
        assert outbound_message_send(message_id=message.pk) is None
    message.refresh_from_db()
    assert message.state == State.UNKNOWN
    assert "may or may not have gone out" in message.error_message
    assert "cannot deduplicate" in message.log.last().note
    assert smtp_server.received == []


def test_a_row_whose_lease_has_not_expired_is_left_alone(approve):
    message = _killed_mid_send(approve(ApprovedDraftFactory()))
    assert outbound_message_recover() == {"requeued": 0, "unknown": 0, "settled_from_sent_folder": 0}
    message.refresh_from_db()
    assert message.state == State.SENDING


def test_with_resend_a_crashed_send_is_retried_with_the_same_idempotency_key_and_delivered_once(
    resend_api, approve, settings, django_capture_on_commit_callbacks
):
    message = _killed_mid_send(approve(ApprovedDraftFactory()))
    # The worker got as far as the provider before it died.
    from outreach.mail.services.sending import _deliver

    _deliver(message)
    later = timezone.now() + timedelta(seconds=settings.SEND_LEASE_SECONDS + 1)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=False):
        assert outbound_message_recover() == {"requeued": 1, "unknown": 0, "settled_from_sent_folder": 0}
        message.refresh_from_db()
        assert message.state == State.QUEUED
        outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.SENT
    assert [r["idempotency_key"] for r in resend_api.requests] == [message.idempotency_key] * 2
    assert len(resend_api.delivered) == 1
    assert message.provider_message_id == "resend-1"
    assert "honours the idempotency key" in message.log.filter(to_state="queued").last().note


def test_an_admin_can_mark_an_unknown_message_as_sent(approve, admin_user, settings):
    message = _killed_mid_send(approve(ApprovedDraftFactory()))
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SEND_LEASE_SECONDS + 1)):
        outbound_message_recover()
    message.refresh_from_db()
    outbound_message_resolve(message=message, user=admin_user, action=Resolution.MARK_SENT, note="In her Sent folder")
    message.refresh_from_db()
    assert message.state == State.SENT
    entry = message.log.order_by("id").last()
    assert (entry.actor, entry.note) == (admin_user, "In her Sent folder")


def test_an_admin_can_send_an_unknown_message_again(approve, admin_user, settings, mailoutbox):
    message = _killed_mid_send(approve(ApprovedDraftFactory()))
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SEND_LEASE_SECONDS + 1)):
        outbound_message_recover()
    message.refresh_from_db()
    outbound_message_resolve(message=message, user=admin_user, action=Resolution.SEND_AGAIN)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.SENT
    assert len(mailoutbox) == 1


@pytest.mark.broker
def test_approval_enqueues_the_send_task_on_commit(approve, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = approve(ApprovedDraftFactory())
    assert [(t.func, t.args) for t in queued_tasks()] == [("outreach.mail.tasks.outbound_message_send", (message.pk,))]


@pytest.mark.broker
def test_the_sweeper_re_enqueues_a_due_row_whose_task_was_lost(approve):
    message = approve(ApprovedDraftFactory())
    assert outbound_message_sweep() == 0  # its own task may still be on the way
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert outbound_message_sweep() == 1
        assert outbound_message_sweep() == 0  # not again at once
    assert [(t.func, t.args) for t in queued_tasks()] == [("outreach.mail.tasks.outbound_message_send", (message.pk,))]
    message.refresh_from_db()
    assert message.state == State.QUEUED


def test_the_recovery_and_sweeper_schedules_are_registered_once():
    call_command("migrate", verbosity=0)
    names = list(Schedule.objects.filter(func__startswith="outreach.mail.tasks.").values_list("func", flat=True))
    assert sorted(names) == [
        "outreach.mail.tasks.engagement_sweep",
        "outreach.mail.tasks.mailboxes_sync_due",
        "outreach.mail.tasks.outbound_message_recover",
        "outreach.mail.tasks.outbound_message_sweep",
        "outreach.mail.tasks.sending_domains_check",
    ]
