"""A Microsoft 365 mailbox against the identity platform and Graph stubs: connect with PKCE
(refresh tokens rotate), send the MIME message through sendMail (our headers in Sent Items), read
the Inbox with a delta query, match by conversationId too, recover by internetMessageId; an
expired token is refreshed, a revoked grant holds the sends, 429s are waited out, a forgotten delta
token is re-read without counting a reply twice."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.mail.models import EngagementEvent, MailboxConnection, OutboundMessage
from outreach.mail.oauth_api import MICROSOFT_SCOPES
from outreach.mail.services.mailboxes import mailbox_disconnect
from outreach.mail.services.sending import outbound_message_recover, outbound_message_send
from outreach.suppression.models import Suppression
from tests.factories import RecipientFactory
from tests.mailboxes.test_sync import dsn

from .conftest import REP_ADDRESS, connect
from .test_google_mail import assert_tracked_by_us, reply_to, run, tracked_draft

pytestmark = pytest.mark.django_db

State = OutboundMessage.State


@pytest.fixture
def ms_sent(microsoft_mailbox, queued):
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.SENT, message.error_message
    return message


def test_connecting_microsoft_uses_pkce_and_offline_access_and_starts_a_delta_query(rep, rep_client, microsoft):
    response = connect(rep_client, "microsoft")
    assert response.status_code == 302
    [asked] = microsoft.authorize_requests
    assert asked["code_challenge_method"] == "S256"
    assert set(asked["scope"].split()) == set(MICROSOFT_SCOPES)  # offline_access among them
    assert len(microsoft.pkce_verified) == 1
    mailbox = MailboxConnection.objects.get(user=rep)
    assert (mailbox.kind, mailbox.email_address, mailbox.state) == ("microsoft", REP_ADDRESS, "connected")
    assert "$deltatoken=" in mailbox.sync_cursor or "%24deltatoken=" in mailbox.sync_cursor
    [refresh_token] = microsoft.live_refresh_tokens
    assert refresh_token not in mailbox.secret_encrypted
    assert "Connect Microsoft 365" in rep_client.get("/settings/mailboxes/").content.decode()


def test_an_approved_email_goes_out_as_mime_through_sendmail_and_lands_in_sent_items(ms_sent, microsoft):
    [call] = microsoft.requests_to("/me/sendMail")
    assert call.headers["content-type"].startswith("text/plain")
    assert f"Message-ID: {ms_sent.message_id}".encode() in base64.b64decode(call.body)
    [copy] = microsoft.sent()
    assert copy.header("Message-ID") == ms_sent.message_id and copy.header("List-Unsubscribe")
    assert ms_sent.provider_response["thread_id"] == copy.conversation_id
    assert ms_sent.provider_message_id == ms_sent.message_id


def test_with_tracking_and_consent_the_mime_to_graph_carries_our_pixel_and_redirect(
    rep, microsoft_mailbox, microsoft, queued
):
    message = queued(**tracked_draft(rep))
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert (message.state, message.tracking) == (State.SENT, "own")
    [copy] = microsoft.sent()
    assert_tracked_by_us(copy.raw)


def test_a_reply_is_read_with_the_delta_query_and_nothing_new_is_one_request(ms_sent, microsoft_mailbox, microsoft):
    microsoft.deliver(reply_to(ms_sent))
    assert run(microsoft_mailbox).outcomes == {"replied": 1}
    assert EngagementEvent.objects.get().message == ms_sent
    before = len(microsoft.requests)
    again = run(microsoft_mailbox)
    assert again.changed is False and again.error == ""
    assert [r.path for r in microsoft.requests[before:]] == ["/v1.0/me/mailFolders/inbox/messages/delta"]


def test_an_out_of_office_is_recorded_but_is_no_reply_and_a_report_suppresses(ms_sent, microsoft_mailbox, microsoft):
    microsoft.deliver(reply_to(ms_sent, msgid="<ooo@x>", subject="Automatic reply: hi", Auto_Submitted="auto-replied"))
    microsoft.deliver(dsn(ms_sent))
    assert run(microsoft_mailbox).outcomes == {"auto_replied": 1, "bounced": 1}
    assert not EngagementEvent.objects.filter(kind="replied").exists()
    assert Suppression.objects.filter(value=ms_sent.to_email).exists()


def test_a_reply_without_threading_headers_is_matched_by_its_conversation(rep, microsoft_mailbox, microsoft, queued):
    recipient = RecipientFactory(owner=rep)
    older = queued(recipient=recipient, subject="First note")
    outbound_message_send(message_id=older.pk)
    outbound_message_send(message_id=queued(recipient=recipient, subject="Second note").pk)
    older.refresh_from_db()
    microsoft.deliver(reply_to(older, threaded=False), conversation_id=older.provider_response["thread_id"])
    assert run(microsoft_mailbox).outcomes == {"replied": 1}
    event = EngagementEvent.objects.get()
    assert event.message == older and event.payload["matched_by"] == "provider thread"


def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_replaces_the_old_one(
    ms_sent, microsoft_mailbox, microsoft
):
    old_refresh = json.loads(MailboxConnection.objects.get(pk=microsoft_mailbox.pk).get_secret())["refresh_token"]
    microsoft.deliver(reply_to(ms_sent))
    microsoft.expire_access_tokens()
    assert run(microsoft_mailbox).outcomes == {"replied": 1}
    stored = json.loads(MailboxConnection.objects.get(pk=microsoft_mailbox.pk).get_secret())["refresh_token"]
    assert stored != old_refresh and microsoft.live_refresh_tokens == [stored]


def test_a_revoked_grant_needs_reauthorization_and_holds_the_sends(rep_client, microsoft_mailbox, microsoft, queued):
    microsoft.revoke_all()
    microsoft.expire_access_tokens()
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    microsoft_mailbox.refresh_from_db()
    assert microsoft_mailbox.state == MailboxConnection.State.NEEDS_REAUTH
    assert (message.state, message.code) == (State.HELD, "mailbox_disconnected")
    assert "Microsoft 365 no longer accepts" in rep_client.get("/settings/mailboxes/").content.decode()


def test_a_burst_of_429s_is_waited_out(ms_sent, microsoft_mailbox, microsoft):
    microsoft.deliver(reply_to(ms_sent))
    microsoft.fail("/messages/delta", status=429, headers={"Retry-After": "1"}, times=2)
    result = run(microsoft_mailbox)
    assert result.outcomes == {"replied": 1} and result.error == ""
    assert len(microsoft.requests_to("/messages/delta")) >= 3


def test_a_forgotten_delta_token_rereads_without_counting_a_reply_twice(ms_sent, microsoft_mailbox, microsoft):
    microsoft.deliver(reply_to(ms_sent, msgid="<before@c>"))
    run(microsoft_mailbox)
    microsoft.forget_delta_tokens()
    microsoft.deliver(reply_to(ms_sent, msgid="<after@c>"))
    assert run(microsoft_mailbox).outcomes == {"duplicate": 1, "replied": 1}
    assert EngagementEvent.objects.count() == 2
    assert run(microsoft_mailbox).outcomes == {}


def test_a_reply_reported_again_as_changed_is_neither_counted_twice_nor_downloaded_again(
    ms_sent, microsoft_mailbox, microsoft
):
    reply = microsoft.deliver(reply_to(ms_sent))
    assert run(microsoft_mailbox).outcomes == {"replied": 1}
    microsoft.mark_read(reply)  # the rep opens it: Graph's next delta round lists it as changed
    before = len(microsoft.requests)
    result = run(microsoft_mailbox)
    assert result.outcomes == {"duplicate": 1} and result.read == 0 and result.error == ""
    assert [r.path for r in microsoft.requests[before:]] == ["/v1.0/me/mailFolders/inbox/messages/delta"]
    assert EngagementEvent.objects.count() == 1
    assert MailboxConnection.objects.get(pk=microsoft_mailbox.pk).messages_matched == 1


def test_a_changed_email_that_was_never_recorded_is_read_again(ms_sent, microsoft_mailbox, microsoft):
    """Only what was recorded is known: an email that matched nothing is downloaded again when it
    changes (and still matches nothing), and a reply whose first reading failed is read now."""
    missed = microsoft.deliver(reply_to(ms_sent, msgid="<r2@customer.example>"))
    stranger = microsoft.deliver(reply_to(ms_sent, sender="someone@elsewhere.example", msgid="<n1@elsewhere>"))
    microsoft.fail("/$value", status=404, times=1)  # the reply cannot be read the first time
    assert run(microsoft_mailbox).outcomes == {"failed": 1, "ignored": 1}
    microsoft.mark_read(missed)
    microsoft.mark_read(stranger)
    assert run(microsoft_mailbox).outcomes == {"ignored": 1, "replied": 1}
    assert len(microsoft.requests_to("/$value")) == 4
    assert EngagementEvent.objects.get().payload["message_id"] == "<r2@customer.example>"


def test_recovery_settles_by_internet_message_id_in_sent_items(microsoft_mailbox, microsoft, queued):
    found, missing = queued(), queued()
    for message in (found, missing):
        OutboundMessage.objects.filter(pk=message.pk).update(
            state=State.SENDING, mailbox=microsoft_mailbox, lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
    microsoft._add(f"To: {found.to_email}\r\nMessage-ID: {found.message_id}\r\n\r\nx\r\n".encode(), "sentitems")
    assert outbound_message_recover()["settled_from_sent_folder"] == 2
    found.refresh_from_db()
    missing.refresh_from_db()
    assert (found.state, missing.state) == (State.SENT, State.QUEUED)


def test_disconnecting_deletes_the_tokens_and_says_microsoft_cannot_revoke_them(rep, microsoft_mailbox):
    mailbox_disconnect(mailbox=microsoft_mailbox, user=rep)
    microsoft_mailbox.refresh_from_db()
    assert microsoft_mailbox.secret_encrypted == "" and microsoft_mailbox.state == "disconnected"
    assert "remove the app in your account" in microsoft_mailbox.state_reason
