"""Reading the sender's own mailbox: a reply appended to their real Dovecot inbox exits the
enrollment; an out-of-office does not; a delivery status notification suppresses the address;
forged threading, bad input, duplicates, a dropped connection and a new UIDVALIDITY are each
handled without missing or double-counting a reply."""

from __future__ import annotations

import socket
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from django.test import TestCase
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Enrollment
from outreach.integrations.models import EmittedEvent
from outreach.mail.imap import PinnedIMAPClient
from outreach.mail.models import EngagementEvent, MailboxConnection, OutboundMessage
from outreach.mail.services import mailbox_sync as sync
from outreach.mail.services.sending import outbound_message_send
from outreach.suppression.models import Suppression
from review.models import Draft
from tests.campaigns.conftest import approve as approve_campaign_draft
from tests.campaigns.conftest import make_campaign
from tests.factories import ApprovedDraftFactory, RecipientFactory

pytestmark = pytest.mark.django_db

Kind = EngagementEvent.Kind


@pytest.fixture
def sent(rep, rep_mailbox, approve):
    """An email the rep sent through their mailbox."""
    message = approve(ApprovedDraftFactory(sender=rep))
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT
    return message


def reply_to(
    message: OutboundMessage, *, text="Thursday works for me.", sender=None, msgid="<r1@customer.example>", **headers
) -> bytes:
    reply = EmailMessage()
    reply["From"] = sender or message.to_email
    reply["To"] = message.from_email
    reply["Subject"] = headers.pop("subject", f"Re: {message.subject}")
    reply["Date"] = format_datetime(timezone.now())
    if msgid:
        reply["Message-ID"] = msgid
    reply["In-Reply-To"] = message.message_id
    reply["References"] = message.message_id
    for name, value in headers.items():
        reply[name.replace("_", "-")] = value
    reply.set_content(f"{text}\n\nOn Monday, Rita wrote:\n> {message.body_text[:40]}\n")
    return reply.as_bytes()


def run(mailbox) -> sync.SyncResult:
    """One pass, with what the engagement path does on commit (engagement_recorded) run as in production."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return sync.mailbox_sync(mailbox_id=mailbox.pk)


def test_a_reply_in_the_senders_inbox_is_recorded_once_and_counted(sent, rep_mailbox, dovecot):
    dovecot.append(rep_mailbox.email_address, reply_to(sent))
    result = run(rep_mailbox)
    assert result.outcomes == {"replied": 1}
    event = EngagementEvent.objects.get(kind=Kind.REPLIED)
    assert event.message == sent and event.provider == "mailbox"
    assert event.reply_text == "Thursday works for me."
    assert event.processed_at is not None
    rep_mailbox.refresh_from_db()
    assert rep_mailbox.messages_matched == 1 and rep_mailbox.last_synced_at is not None


def test_a_reply_exits_the_enrollment_and_emits_the_engagement_signal(rep, csm, rep_mailbox, dovecot):
    campaign = make_campaign(steps=2, delays=(0, 3), created_by=csm)
    recipient = RecipientFactory(owner=rep)
    enrollment = campaign_services.enrollment_create(campaign=campaign, recipient=recipient)
    campaign_services.enrollment_advance_due()
    message = approve_campaign_draft(Draft.objects.get(enrollment_ref=enrollment.pk), rep)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.mailbox_id == rep_mailbox.pk

    dovecot.append(rep_mailbox.email_address, reply_to(message))
    run(rep_mailbox)

    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.EXITED_REPLY
    assert EmittedEvent.objects.filter(type="engagement_signal").exists()


def test_an_out_of_office_is_recorded_but_does_not_stop_the_sequence(rep, csm, rep_mailbox, dovecot):
    campaign = make_campaign(steps=2, delays=(0, 3), created_by=csm)
    enrollment = campaign_services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    campaign_services.enrollment_advance_due()
    message = approve_campaign_draft(Draft.objects.get(enrollment_ref=enrollment.pk), rep)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()

    dovecot.append(
        rep_mailbox.email_address,
        reply_to(
            message,
            text="I am away until Monday.",
            msgid="<ooo@x>",
            subject="Automatic reply: hello",
            Auto_Submitted="auto-replied",
        ),
    )
    dovecot.append(
        rep_mailbox.email_address, reply_to(message, text="Back soon", msgid="<ooo2@x>", subject="Out of Office")
    )
    assert run(rep_mailbox).outcomes == {"auto_replied": 2}

    enrollment.refresh_from_db()
    assert enrollment.state != Enrollment.State.EXITED_REPLY
    assert not EngagementEvent.objects.filter(kind=Kind.REPLIED).exists()


def dsn(message: OutboundMessage, *, status="5.1.1", action="failed") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@team.example>\r\n"
        f"To: {message.from_email}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@team.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.team.example\r\n\r\n"
        f"Final-Recipient: rfc822; {message.to_email}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {message.from_email}\r\nTo: {message.to_email}\r\nMessage-ID: {message.message_id}\r\n"
        "--B--\r\n"
    ).encode()


def test_a_hard_bounce_report_suppresses_the_address(sent, rep_mailbox, dovecot):
    dovecot.append(rep_mailbox.email_address, dsn(sent))
    assert run(rep_mailbox).outcomes == {"bounced": 1}
    event = EngagementEvent.objects.get()
    assert event.message == sent and event.payload["status"] == "5.1.1"
    assert event.payload["matched_by"] == "returned message-id"
    assert Suppression.objects.get(value=sent.to_email).reason == Suppression.Reason.HARD_BOUNCE


def test_a_delayed_delivery_report_is_a_soft_bounce_and_suppresses_nobody(sent, rep_mailbox, dovecot):
    dovecot.append(rep_mailbox.email_address, dsn(sent, status="4.4.1", action="delayed"))
    assert run(rep_mailbox).outcomes == {"soft_bounced": 1}
    assert not Suppression.objects.exists()


def test_a_forged_in_reply_to_from_a_stranger_matches_nothing(sent, rep_mailbox, dovecot):
    dovecot.append(rep_mailbox.email_address, reply_to(sent, sender="attacker@elsewhere.example"))
    assert run(rep_mailbox).outcomes == {"ignored": 1}
    assert not EngagementEvent.objects.exists()


def test_the_rest_of_the_inbox_is_not_stored(sent, rep_mailbox, dovecot):
    dovecot.append(rep_mailbox.email_address, b"From: friend@home.example\r\nSubject: dinner?\r\n\r\nSee you at 8\r\n")
    assert run(rep_mailbox).outcomes == {"ignored": 1}
    assert not EngagementEvent.objects.exists()


def test_only_the_headers_of_the_rest_of_the_inbox_are_read(sent, rep_mailbox, dovecot, monkeypatch):
    fetched: list[tuple[list[int], list[str]]] = []
    real_fetch = PinnedIMAPClient.fetch

    def recording(self, messages, data, *args, **kwargs):
        fetched.append((list(messages), list(data)))
        return real_fetch(self, messages, data, *args, **kwargs)

    monkeypatch.setattr(PinnedIMAPClient, "fetch", recording)
    dovecot.append(rep_mailbox.email_address, b"From: friend@home.example\r\nSubject: dinner?\r\n\r\nSee you at 8\r\n")
    dovecot.append(rep_mailbox.email_address, reply_to(sent))
    assert run(rep_mailbox).outcomes == {"ignored": 1, "replied": 1}
    [(both, headers), (replies, bodies)] = fetched
    assert len(both) == 2 and headers == ["RFC822.SIZE", "BODY.PEEK[HEADER]"]
    assert replies == [max(both)] and bodies == ["BODY.PEEK[]"]


def test_a_reply_without_threading_headers_is_matched_by_its_sender(sent, rep_mailbox, dovecot):
    raw = f"From: {sent.to_email}\r\nSubject: a question\r\nMessage-ID: <q@c>\r\n\r\nCan we talk?\r\n".encode()
    dovecot.append(rep_mailbox.email_address, raw)
    assert run(rep_mailbox).outcomes == {"replied": 1}
    assert EngagementEvent.objects.get().payload["matched_by"] == "participant"


def test_the_same_reply_delivered_twice_counts_once(sent, rep_mailbox, dovecot):
    dovecot.append(rep_mailbox.email_address, reply_to(sent))
    dovecot.append(rep_mailbox.email_address, reply_to(sent))
    assert run(rep_mailbox).outcomes == {"replied": 1, "duplicate": 1}
    assert EngagementEvent.objects.count() == 1


def test_nothing_new_is_one_status_round_trip_and_changes_nothing(sent, rep_mailbox, dovecot):
    dovecot.append(rep_mailbox.email_address, reply_to(sent))
    run(rep_mailbox)
    again = run(rep_mailbox)
    assert again.changed is False and again.read == 0 and again.error == ""
    assert EngagementEvent.objects.count() == 1


def test_bad_input_is_logged_and_does_not_stop_the_rest(sent, rep_mailbox, dovecot, settings, caplog):
    settings.MAILBOX_MAX_BODY_BYTES = 5_000
    mbox = rep_mailbox.email_address
    # Broken MIME: a multipart without its boundary.
    dovecot.append(
        mbox,
        f"From: {sent.to_email}\r\nMessage-ID: <m1@c>\r\nIn-Reply-To: {sent.message_id}\r\nContent-Type: multipart/mixed\r\n\r\nno boundary here\r\n",
    )
    # An unknown charset.
    dovecot.append(
        mbox,
        f"From: {sent.to_email}\r\nMessage-ID: <m2@c>\r\nIn-Reply-To: {sent.message_id}\r\nContent-Type: text/plain; charset=x-unheard-of\r\n\r\nYes please\r\n",
    )
    # HTML only.
    dovecot.append(
        mbox,
        f"From: {sent.to_email}\r\nMessage-ID: <m3@c>\r\nIn-Reply-To: {sent.message_id}\r\nContent-Type: text/html\r\n\r\n<p>Sounds <b>good</b></p><blockquote>old</blockquote>\r\n",
    )
    # Huge: the body is skipped, the headers still match it.
    dovecot.append(
        mbox,
        f"From: {sent.to_email}\r\nMessage-ID: <m4@c>\r\nIn-Reply-To: {sent.message_id}\r\n\r\n"
        + "x" * 20_000
        + "\r\n",
    )
    result = run(rep_mailbox)
    assert result.outcomes == {"replied": 4}
    texts = dict(EngagementEvent.objects.values_list("payload__message_id", "reply_text"))
    assert texts["<m2@c>"] == "Yes please"
    assert texts["<m3@c>"] == "Sounds good"
    assert texts["<m4@c>"] == ""
    assert EngagementEvent.objects.get(payload__message_id="<m4@c>").payload["body_skipped"]
    assert "body over the limit" in caplog.text


def test_a_connection_dropped_mid_fetch_resumes_without_missing_or_repeating(sent, rep_mailbox, dovecot, monkeypatch):
    for n in range(3):
        dovecot.append(rep_mailbox.email_address, reply_to(sent, msgid=f"<r{n}@c>"))
    monkeypatch.setattr(sync, "BATCH", 1)
    real_fetch = PinnedIMAPClient.fetch
    calls = {"n": 0}

    def fetch_then_drop(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the second message's size: the server goes away
            self.socket().shutdown(socket.SHUT_RDWR)
        return real_fetch(self, *args, **kwargs)

    monkeypatch.setattr(PinnedIMAPClient, "fetch", fetch_then_drop)
    first = run(rep_mailbox)
    assert "connection lost" in first.error
    assert first.outcomes == {"replied": 1}
    monkeypatch.setattr(PinnedIMAPClient, "fetch", real_fetch)
    second = run(rep_mailbox)
    assert second.outcomes == {"replied": 2}
    assert EngagementEvent.objects.filter(kind=Kind.REPLIED).count() == 3


def test_a_new_uidvalidity_rereads_without_counting_twice(sent, rep_mailbox, dovecot):
    dovecot.append(rep_mailbox.email_address, reply_to(sent, msgid="<before@c>"))
    run(rep_mailbox)
    dovecot.recreate_folder(rep_mailbox.email_address)
    dovecot.append(rep_mailbox.email_address, reply_to(sent, msgid="<after@c>"))
    result = run(rep_mailbox)
    assert result.outcomes == {"duplicate": 1, "replied": 1}
    rep_mailbox.refresh_from_db()
    assert rep_mailbox.sync_uidvalidity == dovecot.uidvalidity(rep_mailbox.email_address)
    assert EngagementEvent.objects.count() == 2


def test_after_a_new_uidvalidity_only_the_last_mailbox_resync_days_are_read_again(sent, rep_mailbox, dovecot, settings):
    settings.MAILBOX_RESYNC_DAYS = 3
    MailboxConnection.objects.filter(pk=rep_mailbox.pk).update(
        connected_at=timezone.now() - timezone.timedelta(days=30)
    )
    dovecot.recreate_folder(rep_mailbox.email_address)
    with dovecot.client(rep_mailbox.email_address) as client:
        for days, msgid in ((5, "<five-days-ago@c>"), (1, "<yesterday@c>")):
            arrived = timezone.now() - timezone.timedelta(days=days)
            client.append("INBOX", reply_to(sent, msgid=msgid), msg_time=arrived)
    assert run(rep_mailbox).outcomes == {"replied": 1}
    assert EngagementEvent.objects.get().payload["message_id"] == "<yesterday@c>"


def test_a_refused_login_marks_the_mailbox_for_reauthorization(sent, rep_mailbox, dovecot):
    dovecot.add_user(rep_mailbox.email_address, "changed")
    result = run(rep_mailbox)
    assert result.error == "login refused", (result, dovecot.log()[-800:])
    rep_mailbox.refresh_from_db()
    assert rep_mailbox.state == MailboxConnection.State.NEEDS_REAUTH


def test_two_workers_never_read_the_same_mailbox_at_once(rep_mailbox):
    MailboxConnection.objects.filter(pk=rep_mailbox.pk).update(
        sync_lease_until=timezone.now() + timezone.timedelta(minutes=1)
    )
    assert run(rep_mailbox).skipped


def test_only_due_mailboxes_are_synced(rep_mailbox, settings):
    settings.MAILBOX_SYNC_INTERVAL_SECONDS = 60
    assert [r.mailbox_id for r in sync.mailboxes_sync_due()] == [rep_mailbox.pk]
    assert sync.mailboxes_sync_due() == []


def test_a_mailbox_read_half_an_interval_ago_is_due_again(rep_mailbox, settings):
    """The schedule ticks once per interval: a mailbox read late in the last tick's pass (a long
    pass) is still due at this tick."""
    settings.MAILBOX_SYNC_INTERVAL_SECONDS = 60
    now = timezone.now()
    MailboxConnection.objects.filter(pk=rep_mailbox.pk).update(last_synced_at=now - timezone.timedelta(seconds=31))
    assert sync.mailboxes_due(now=now) == [rep_mailbox.pk]
    MailboxConnection.objects.filter(pk=rep_mailbox.pk).update(last_synced_at=now - timezone.timedelta(seconds=29))
    assert sync.mailboxes_due(now=now) == []


@pytest.fixture
def local_mailboxes(settings):
    settings.DEBUG = True
    from outreach.mail.services.mailboxes import mailbox_connect_local
    from tests.factories import UserFactory

    return [
        mailbox_connect_local(
            user=UserFactory(username=f"spread{n}", role="rep"), email_address=f"spread{n}@team.example"
        )
        for n in range(5)
    ]


@pytest.mark.broker
def test_the_schedule_reads_one_batch_and_hands_the_others_to_the_workers(local_mailboxes, monkeypatch):
    from outreach.mail import tasks
    from tests.broker import queued_tasks, run_queued_tasks

    monkeypatch.setattr(sync, "SPREAD_BATCH", 2)
    ids = [m.pk for m in local_mailboxes]
    said = tasks.mailboxes_sync_due()
    assert said == "2 mailboxes synced here (0 with new mail), 2 batches handed to the workers"
    assert [(t.func, t.args) for t in queued_tasks()] == [
        ("outreach.mail.tasks.mailboxes_sync", (ids[2:4],)),
        ("outreach.mail.tasks.mailboxes_sync", (ids[4:],)),
    ]
    synced = set(MailboxConnection.objects.exclude(last_synced_at=None).values_list("pk", flat=True))
    assert synced == set(ids[:2])
    run_queued_tasks()
    assert MailboxConnection.objects.filter(last_synced_at=None).count() == 0
    assert tasks.mailboxes_sync_due() == "0 mailboxes synced here (0 with new mail), 0 batches handed to the workers"


def test_with_the_broker_down_the_schedule_reads_every_due_mailbox_itself(local_mailboxes, monkeypatch):
    import outreach.core.tasks

    monkeypatch.setattr(sync, "SPREAD_BATCH", 2)
    monkeypatch.setattr(outreach.core.tasks, "task_enqueue", lambda *args, **kwargs: None)
    handed, results = sync.mailboxes_sync_due_spread()
    assert handed == 0 and len(results) == 5
    assert MailboxConnection.objects.filter(last_synced_at=None).count() == 0
