"""An approved email goes out through the sender's own mailbox: SMTP submission with its login,
our copy in its Sent folder, the channel recorded; a refused login holds the email instead of
dropping or rerouting it; after a crash, the Sent folder settles what happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.mail.models import MailboxConnection, OutboundMessage
from outreach.mail.services.mailboxes import PENDING_FLAG, mailbox_connect_imap
from outreach.mail.services.sending import outbound_message_recover, outbound_message_send
from tests.factories import ApprovedDraftFactory

from .conftest import connect_fields

pytestmark = pytest.mark.django_db

State = OutboundMessage.State


@pytest.fixture
def queued(rep, approve):
    def _queued():
        return approve(ApprovedDraftFactory(sender=rep))

    return _queued


def test_it_goes_out_through_the_senders_mailbox_and_appears_in_sent(rep_mailbox, submission, dovecot, queued):
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.SENT
    assert message.mailbox_id == rep_mailbox.pk
    assert message.provider == f"mailbox:{rep_mailbox.pk}"
    [received] = submission.received
    assert received.login == rep_mailbox.username
    assert received.message["Message-ID"] == message.message_id
    assert received.message["List-Unsubscribe"]
    [copy] = dovecot.messages(rep_mailbox.email_address, folder="Sent")
    assert copy["Message-ID"] == message.message_id
    with dovecot.client(rep_mailbox.email_address) as client:
        client.select_folder("Sent")
        flags = client.get_flags(client.search("ALL"))
    assert all(PENDING_FLAG.encode() not in f for f in flags.values())


def test_without_a_mailbox_it_goes_through_the_organizations_provider(rep, queued, smtp_server):
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.SENT
    assert message.mailbox_id is None
    assert len(smtp_server.received) == 1


def test_a_refused_recipient_fails_the_email_and_takes_our_copy_back(rep_mailbox, submission, dovecot, queued):
    submission.handler.refuse_with = "550 5.1.1 No such user"
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.FAILED
    assert dovecot.messages(rep_mailbox.email_address, folder="Sent") == []


def test_a_refused_login_holds_the_senders_emails_and_reconnecting_sends_them(
    rep, rep_mailbox, submission, dovecot, queued, django_capture_on_commit_callbacks
):
    first, second = queued(), queued()
    submission.accounts[rep_mailbox.email_address] = "changed-by-the-user"
    outbound_message_send(message_id=first.pk)
    rep_mailbox.refresh_from_db()
    assert rep_mailbox.state == MailboxConnection.State.NEEDS_REAUTH
    for message in (first, second):
        message.refresh_from_db()
        assert message.state == State.HELD
        assert message.code == OutboundMessage.Code.MAILBOX_DISCONNECTED
        assert "Reconnect it" in message.error_message
    assert submission.received == []
    # Nothing goes out through another channel meanwhile.
    assert outbound_message_send(message_id=second.pk) is None

    dovecot.add_user(rep_mailbox.email_address, "changed-by-the-user")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        mailbox_connect_imap(user=rep, **connect_fields(dovecot, submission, password="changed-by-the-user"))
    assert len(callbacks) == 2  # both released and nudged
    for message in (first, second):
        message.refresh_from_db()
        assert message.state == State.QUEUED
        outbound_message_send(message_id=message.pk)
        message.refresh_from_db()
        assert message.state == State.SENT
    assert len(submission.received) == 2


def test_an_email_queued_while_the_mailbox_needs_reauthorization_is_held(rep, rep_mailbox, queued):
    MailboxConnection.objects.filter(pk=rep_mailbox.pk).update(state="needs_reauth", state_reason="Grant revoked")
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.HELD
    assert "Grant revoked" in message.error_message
    assert message.attempts == 0


# --- Crash recovery from the Sent folder -------------------------------------------------------


def _left_sending(message: OutboundMessage, mailbox: MailboxConnection) -> None:
    OutboundMessage.objects.filter(pk=message.pk).update(
        state=State.SENDING, mailbox=mailbox, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def _raw(message: OutboundMessage) -> bytes:
    return (
        f"From: {message.from_email}\r\nTo: {message.to_email}\r\nSubject: {message.subject}\r\n"
        f"Message-ID: {message.message_id}\r\n\r\n{message.body_text}\r\n"
    ).encode()


def test_recovery_marks_sent_an_email_found_in_sent(rep_mailbox, dovecot, queued):
    message = queued()
    _left_sending(message, rep_mailbox)
    dovecot.append(rep_mailbox.email_address, _raw(message), folder="Sent")
    assert outbound_message_recover()["settled_from_sent_folder"] == 1
    message.refresh_from_db()
    assert message.state == State.SENT
    assert "Sent folder" in message.log.last().note


def test_recovery_sends_again_an_email_missing_from_sent(rep_mailbox, dovecot, queued):
    message = queued()
    _left_sending(message, rep_mailbox)
    assert outbound_message_recover()["settled_from_sent_folder"] == 1
    message.refresh_from_db()
    assert message.state == State.QUEUED


def test_recovery_leaves_a_copy_still_marked_pending_to_a_person(rep_mailbox, dovecot, queued):
    message = queued()
    _left_sending(message, rep_mailbox)
    with dovecot.client(rep_mailbox.email_address) as client:
        client.append("Sent", _raw(message), flags=(PENDING_FLAG,))
    outcome = outbound_message_recover()
    message.refresh_from_db()
    assert outcome["unknown"] == 1
    assert message.state == State.UNKNOWN


def test_recovery_leaves_it_to_a_person_when_the_mailbox_cannot_be_read(rep_mailbox, dovecot, queued):
    message = queued()
    _left_sending(message, rep_mailbox)
    dovecot.stop()
    outbound_message_recover()
    message.refresh_from_db()
    assert message.state == State.UNKNOWN
