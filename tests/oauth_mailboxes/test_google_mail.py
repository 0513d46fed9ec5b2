"""Sending through and reading a Google mailbox against the Gmail API stub: the raw message with our
headers lands in Sent; history.list reads what is new (one request when nothing is); replies exit
the enrollment, out-of-office notes do not, delivery reports suppress; an expired token is
refreshed mid-sync, a revoked grant holds the sends behind a banner, 429 and 500 are waited out,
a forgotten history id is re-read, and no reply is ever counted twice."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from django.test import TestCase
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Enrollment
from outreach.mail.models import EngagementEvent, MailboxConnection, OutboundMessage
from outreach.mail.services import mailbox_sync
from outreach.mail.services.sending import outbound_message_recover, outbound_message_send
from outreach.suppression.models import Suppression
from review.models import Draft
from tests.campaigns.conftest import approve as approve_campaign_draft
from tests.campaigns.conftest import make_campaign
from tests.factories import CampaignFactory, RecipientFactory
from tests.mailboxes.test_sync import dsn

from .conftest import connect

pytestmark = pytest.mark.django_db

State = OutboundMessage.State
Kind = EngagementEvent.Kind


def reply_to(message: OutboundMessage, *, text="Thursday works for me.", msgid="<r1@customer.example>", **headers):
    reply = EmailMessage()
    reply["From"] = headers.pop("sender", message.to_email)
    reply["To"] = message.from_email
    reply["Subject"] = headers.pop("subject", f"Re: {message.subject}")
    reply["Date"] = format_datetime(timezone.now())
    reply["Message-ID"] = msgid
    if headers.pop("threaded", True):
        reply["In-Reply-To"] = message.message_id
        reply["References"] = message.message_id
    for name, value in headers.items():
        reply[name.replace("_", "-")] = value
    reply.set_content(f"{text}\n\nOn Monday, Rita wrote:\n> {message.body_text[:40]}\n")
    return reply.as_bytes()


def run(mailbox) -> mailbox_sync.SyncResult:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return mailbox_sync.mailbox_sync(mailbox_id=mailbox.pk)


# --- Sending -------------------------------------------------------------------------------------


def test_an_approved_email_goes_out_through_gmail_with_our_headers_and_lands_in_sent(sent, google_mailbox, google):
    [copy] = google.sent()
    assert copy.header("Message-ID") == sent.message_id
    assert copy.header("List-Unsubscribe") and copy.header("List-Unsubscribe-Post")
    assert copy.header("From").endswith(f"<{google_mailbox.email_address}>") or copy.header("From") == (
        google_mailbox.email_address
    )
    assert sent.mailbox_id == google_mailbox.pk and sent.provider == f"mailbox:{google_mailbox.pk}"
    assert sent.provider_message_id == sent.message_id  # read back from Gmail
    assert sent.provider_response["thread_id"] == copy.thread_id
    [send_call] = google.requests_to("/messages/send")
    assert "raw" in send_call.json


TRACKED_LINK = "https://help.example.com/reports"


def tracked_draft(rep) -> dict:
    """A draft with a link, in a campaign that tracks opens, to a recipient who consented."""
    return {
        "campaign": CampaignFactory(open_tracking=True),
        "recipient": RecipientFactory(owner=rep, consent_open_tracking=True),
        "body_html": f'<p>Here is <a href="{TRACKED_LINK}">the guide</a>.</p>',
        "body_text": f"Here is the guide: {TRACKED_LINK}",
    }


def assert_tracked_by_us(raw: bytes) -> None:
    """Our pixel and redirect in the HTML part; the plain-text part as approved."""
    parsed = message_from_bytes(raw, policy=policy.default)
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    assert "/t/o/" in html and "/t/c/" in html and f'href="{TRACKED_LINK}"' not in html
    assert TRACKED_LINK in text and "/t/" not in text


def test_with_tracking_and_consent_the_raw_message_to_gmail_carries_our_pixel_and_redirect(
    rep, google_mailbox, google, queued
):
    message = queued(**tracked_draft(rep))
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert (message.state, message.tracking, message.tracked_links) == (State.SENT, "own", [TRACKED_LINK])
    [copy] = google.sent()
    assert_tracked_by_us(copy.raw)


def test_a_revoked_grant_needs_reauthorization_holds_the_sends_and_shows_the_banner(
    rep, rep_client, google_mailbox, google, queued, django_capture_on_commit_callbacks
):
    first, second = queued(), queued()
    google.revoke_all()  # the rep removed the app's access in their Google account
    google.expire_access_tokens()
    outbound_message_send(message_id=first.pk)
    google_mailbox.refresh_from_db()
    assert google_mailbox.state == MailboxConnection.State.NEEDS_REAUTH
    assert "Google no longer accepts the saved authorization" in google_mailbox.state_reason
    for message in (first, second):
        message.refresh_from_db()
        assert (message.state, message.code) == (State.HELD, "mailbox_disconnected")
        assert message.attempts == 0
    assert google.sent() == []
    page = rep_client.get("/settings/mailboxes/").content.decode()
    assert 'id="mailbox-banner"' in page and "Reconnect" in page
    assert rep_client.get("/review/").content.decode().count('id="mailbox-banner"') == 1

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        connect(rep_client, login_hint=google_mailbox.email_address)
    assert len(callbacks) == 2  # both released and nudged
    google_mailbox.refresh_from_db()
    assert google_mailbox.state == MailboxConnection.State.CONNECTED
    assert MailboxConnection.objects.count() == 1
    for message in (first, second):
        message.refresh_from_db()
        assert message.state == State.QUEUED
        outbound_message_send(message_id=message.pk)
        message.refresh_from_db()
        assert message.state == State.SENT
    assert len(google.sent()) == 2


def test_a_rate_limited_send_waits_the_retry_after_and_is_not_sent_twice(google_mailbox, google, queued, settings):
    settings.MAILBOX_API_RETRY_AFTER_MAX_SECONDS = 5
    google.fail("/messages/send", status=429, headers={"Retry-After": "120"})
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.QUEUED
    assert message.not_before >= timezone.now() + timedelta(seconds=100)
    OutboundMessage.objects.filter(pk=message.pk).update(not_before=None)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.SENT
    assert len(google.sent()) == 1
    # The retry first asked Sent whether the first attempt went out after all.
    assert google.requests_to("/messages")[-3].query["q"] == [f"rfc822msgid:{message.message_id.strip('<>')}"]


def test_a_server_error_is_retried_once_in_place(google_mailbox, google, queued):
    google.fail("/messages/send", status=500)
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.SENT
    assert len(google.requests_to("/messages/send")) == 2 and len(google.sent()) == 1


def _left_sending(message, mailbox):
    OutboundMessage.objects.filter(pk=message.pk).update(
        state=State.SENDING, mailbox=mailbox, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_recovery_marks_sent_an_email_gmail_has_in_sent(google_mailbox, google, queued):
    message = queued()
    _left_sending(message, google_mailbox)
    google._add(
        f"From: {google_mailbox.email_address}\r\nTo: {message.to_email}\r\nMessage-ID: {message.message_id}\r\n\r\nx\r\n".encode(),
        ["SENT"],
    )
    assert outbound_message_recover()["settled_from_sent_folder"] == 1
    message.refresh_from_db()
    assert message.state == State.SENT


def test_recovery_queues_again_an_email_gmail_never_got(google_mailbox, google, queued):
    message = queued()
    _left_sending(message, google_mailbox)
    assert outbound_message_recover()["settled_from_sent_folder"] == 1
    message.refresh_from_db()
    assert message.state == State.QUEUED
    assert google.requests_to("/messages")[-1].query["labelIds"] == ["SENT"]


# --- Reading -------------------------------------------------------------------------------------


def test_a_reply_in_the_gmail_inbox_is_recorded_once_and_counted(sent, google_mailbox, google):
    google.deliver(reply_to(sent))
    result = run(google_mailbox)
    assert result.outcomes == {"replied": 1}, result
    event = EngagementEvent.objects.get(kind=Kind.REPLIED)
    assert event.message == sent and event.reply_text == "Thursday works for me."
    google_mailbox.refresh_from_db()
    assert google_mailbox.messages_matched == 1 and google_mailbox.sync_cursor == str(google.history_id)


def test_a_reply_exits_the_enrollment_and_an_out_of_office_does_not(rep, csm, google_mailbox, google):
    campaign = make_campaign(steps=2, delays=(0, 3), created_by=csm)
    ooo_enrollment = campaign_services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    reply_enrollment = campaign_services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    campaign_services.enrollment_advance_due()
    messages = {}
    for enrollment in (ooo_enrollment, reply_enrollment):
        message = approve_campaign_draft(Draft.objects.get(enrollment_ref=enrollment.pk), rep)
        outbound_message_send(message_id=message.pk)
        message.refresh_from_db()
        assert message.mailbox_id == google_mailbox.pk
        messages[enrollment.pk] = message

    google.deliver(
        reply_to(
            messages[ooo_enrollment.pk],
            text="I am away until Monday.",
            msgid="<ooo@x>",
            subject="Automatic reply: hello",
            Auto_Submitted="auto-replied",
        )
    )
    google.deliver(reply_to(messages[reply_enrollment.pk]))
    assert run(google_mailbox).outcomes == {"auto_replied": 1, "replied": 1}
    ooo_enrollment.refresh_from_db()
    reply_enrollment.refresh_from_db()
    assert reply_enrollment.state == Enrollment.State.EXITED_REPLY
    assert ooo_enrollment.state != Enrollment.State.EXITED_REPLY


def test_a_delivery_report_in_the_gmail_inbox_suppresses_the_address(sent, google_mailbox, google):
    google.deliver(dsn(sent))
    assert run(google_mailbox).outcomes == {"bounced": 1}
    assert Suppression.objects.get(value=sent.to_email).reason == Suppression.Reason.HARD_BOUNCE


def test_a_reply_without_threading_headers_is_matched_by_its_gmail_thread(rep, google_mailbox, google, queued):
    recipient = RecipientFactory(owner=rep)
    older = queued(recipient=recipient, subject="First note")
    outbound_message_send(message_id=older.pk)
    newer = queued(recipient=recipient, subject="Second note")
    outbound_message_send(message_id=newer.pk)
    older.refresh_from_db()
    # Same person, no In-Reply-To: the participants alone would pick the newer email.
    google.deliver(reply_to(older, threaded=False), thread_id=older.provider_response["thread_id"])
    assert run(google_mailbox).outcomes == {"replied": 1}
    event = EngagementEvent.objects.get()
    assert event.message == older and event.payload["matched_by"] == "provider thread"


def test_nothing_new_is_one_request(sent, google_mailbox, google):
    google.deliver(reply_to(sent))
    run(google_mailbox)
    before = len(google.requests)
    again = run(google_mailbox)
    assert again.changed is False and again.error == ""
    assert [r.path for r in google.requests[before:]] == ["/gmail/v1/users/me/history"]


def test_an_access_token_expired_mid_sync_is_refreshed_and_the_call_retried(sent, google_mailbox, google):
    google.deliver(reply_to(sent))
    google.expire_access_tokens()
    result = run(google_mailbox)
    assert result.outcomes == {"replied": 1} and result.error == ""
    assert [r.form["grant_type"] for r in google.requests_to("/token")] == ["authorization_code", "refresh_token"]
    google_mailbox.refresh_from_db()
    assert google_mailbox.state == MailboxConnection.State.CONNECTED


def test_a_revoked_grant_found_while_reading_needs_reauthorization(sent, google_mailbox, google, queued):
    waiting = queued()
    google.revoke_all()
    google.expire_access_tokens()
    result = run(google_mailbox)
    assert "needs re-authorization" in result.error
    google_mailbox.refresh_from_db()
    waiting.refresh_from_db()
    assert google_mailbox.state == MailboxConnection.State.NEEDS_REAUTH
    assert (waiting.state, waiting.code) == (State.HELD, "mailbox_disconnected")


def test_a_burst_of_429s_is_waited_out_then_the_reply_is_read(sent, google_mailbox, google):
    google.deliver(reply_to(sent))
    google.fail("/history", status=429, headers={"Retry-After": "1"}, times=2)
    started = timezone.now()
    result = run(google_mailbox)
    assert result.outcomes == {"replied": 1} and result.error == ""
    assert len(google.requests_to("/history")) == 3
    assert timezone.now() - started >= timedelta(seconds=2)


def test_a_long_retry_after_ends_the_pass_and_leaves_the_mailbox_alone_until_then(sent, google_mailbox, google):
    google.deliver(reply_to(sent))
    google.fail("/history", status=429, headers={"Retry-After": "300"})
    result = run(google_mailbox)
    assert "rate limited" in result.error
    assert run(google_mailbox).skipped  # leased until the Retry-After has passed
    MailboxConnection.objects.filter(pk=google_mailbox.pk).update(sync_lease_until=None)
    assert run(google_mailbox).outcomes == {"replied": 1}


def test_a_server_error_while_reading_moves_no_cursor_and_the_next_pass_reads_it(sent, google_mailbox, google):
    google.deliver(reply_to(sent))
    cursor = MailboxConnection.objects.get(pk=google_mailbox.pk).sync_cursor
    google.fail("/messages/", status=500, times=2)
    failed = run(google_mailbox)
    assert "500" in failed.error
    assert MailboxConnection.objects.get(pk=google_mailbox.pk).sync_cursor == cursor
    assert run(google_mailbox).outcomes == {"replied": 1}
    assert EngagementEvent.objects.count() == 1


def test_an_expired_history_id_rereads_recent_mail_without_counting_a_reply_twice(sent, google_mailbox, google):
    google.deliver(reply_to(sent, msgid="<before@c>"))
    assert run(google_mailbox).outcomes == {"replied": 1}
    google.forget_history()
    google.deliver(reply_to(sent, msgid="<after@c>"))
    result = run(google_mailbox)
    assert result.outcomes == {"duplicate": 1, "replied": 1}
    assert any("after:" in (r.query.get("q") or [""])[0] for r in google.requests_to("/messages"))
    assert EngagementEvent.objects.count() == 2
    google_mailbox.refresh_from_db()
    assert google_mailbox.messages_matched == 2
    assert run(google_mailbox).outcomes == {}  # and the new history id works again


def test_mail_that_answers_nothing_we_sent_is_not_stored(sent, google_mailbox, google):
    google.deliver(b"From: friend@home.example\r\nSubject: dinner?\r\nMessage-ID: <d@h>\r\n\r\nSee you at 8\r\n")
    google.deliver(reply_to(sent, sender="attacker@elsewhere.example"))
    assert run(google_mailbox).outcomes == {"ignored": 2}
    assert not EngagementEvent.objects.exists()


def test_connected_google_mailboxes_are_synced_on_schedule(google_mailbox, settings):
    settings.MAILBOX_SYNC_INTERVAL_SECONDS = 60
    assert [r.mailbox_id for r in mailbox_sync.mailboxes_sync_due()] == [google_mailbox.pk]
    assert mailbox_sync.mailboxes_sync_due() == []
