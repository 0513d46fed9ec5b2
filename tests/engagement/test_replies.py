"""Replies: parsed, matched to the email they answer, stored without quoted history."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.utils import timezone

from outreach.mail.models import EngagementEvent
from outreach.mail.services import engagement as tracking
from outreach.mail.services.replies import poll_mailbox
from tests.factories import OutboundMessageFactory, RecipientFactory

from .conftest import basic_auth_header, post_json

# --- Quote stripping (pure) ---------------------------------------------------------------------


def test_lines_quoted_with_a_caret_are_dropped():
    assert tracking.strip_quoted_reply("Sounds good.\n> Earlier text\n>> older") == "Sounds good."


def test_an_on_date_wrote_block_is_cut_off():
    text = "Yes, Thursday works.\n\nOn Tue, Nov 17, 2026 at 9:02 AM Rita Lane <rita@team.example> wrote:\n> Hi\n> How is it going?"
    assert tracking.strip_quoted_reply(text) == "Yes, Thursday works."


def test_an_attribution_wrapped_over_two_lines_is_cut_off():
    text = "Yes.\n\nOn Tue, Nov 17, 2026 at 9:02 AM Rita Lane <rita@team.example>\nwrote:\n\nHi there"
    assert tracking.strip_quoted_reply(text) == "Yes."


def test_outlooks_original_message_block_is_cut_off():
    text = (
        "Call me.\r\n\r\n-----Original Message-----\r\nFrom: Rita Lane\r\nSent: Tuesday\r\nSubject: Hi\r\n\r\nHi there"
    )
    assert tracking.strip_quoted_reply(text) == "Call me."


def test_an_outlook_header_block_without_a_separator_is_cut_off():
    text = "Not now, thanks.\n\nFrom: Rita Lane <rita@team.example>\nSent: Tuesday, November 17, 2026 9:02 AM\nTo: Sam\nSubject: Hi\n\nHi Sam"
    assert tracking.strip_quoted_reply(text) == "Not now, thanks."


def test_a_line_merely_starting_with_from_is_kept():
    assert tracking.strip_quoted_reply("From: our side, all good.\nThanks") == "From: our side, all good.\nThanks"


def test_gmail_html_quotes_are_dropped_when_there_is_no_text_part():
    markup = (
        '<div dir="ltr">Happy to talk next week.<br></div><br>'
        '<div class="gmail_quote"><div class="gmail_attr">On Tue, Rita wrote:</div>'
        "<blockquote>Hi, how is the rollout?</blockquote></div>"
    )
    assert tracking.html_to_text(markup) == "Happy to talk next week."


# --- Parsing and matching -----------------------------------------------------------------------


def make_reply(
    *, from_email: str, text: str, in_reply_to: str = "", references: str = "", message_id: str = "<r1@mail.example>"
):
    reply = EmailMessage()
    reply["From"] = f"Sam Reed <{from_email}>"
    reply["To"] = "rita@team.example"
    reply["Subject"] = "Re: Quick question"
    reply["Date"] = "Wed, 18 Nov 2026 10:00:00 +0000"
    reply["Message-ID"] = message_id
    if in_reply_to:
        reply["In-Reply-To"] = in_reply_to
    if references:
        reply["References"] = references
    reply.set_content(text)
    return email.message_from_bytes(reply.as_bytes(), policy=email.policy.default)


def test_parse_reply_reads_the_headers_and_the_new_text():
    parsed = tracking.parse_reply(
        make_reply(
            from_email="Sam@Customer.example", text="Yes.\n\n> old", in_reply_to="<a@b>", references="<z@b> <a@b>"
        )
    )
    assert parsed.from_email == "sam@customer.example"
    assert (parsed.in_reply_to, parsed.references) == (["<a@b>"], ["<z@b>", "<a@b>"])
    assert parsed.text == "Yes."
    assert parsed.occurred_at.isoformat() == "2026-11-18T10:00:00+00:00"
    assert parsed.auto_reply is False


def test_an_out_of_office_is_flagged_as_an_auto_reply():
    message = make_reply(from_email="sam@customer.example", text="I am away.")
    message["Auto-Submitted"] = "auto-replied"
    assert tracking.parse_reply(message).auto_reply is True


@pytest.mark.django_db
def test_a_reply_is_matched_by_in_reply_to(recorded_signals, django_capture_on_commit_callbacks):
    message = OutboundMessageFactory()
    OutboundMessageFactory(draft__recipient=message.recipient)  # a later email to the same person
    reply = make_reply(
        from_email=message.to_email.upper(),
        text="Yes please.\n\nOn Tue, Rita wrote:\n> Hi",
        in_reply_to=message.message_id,
    )
    with django_capture_on_commit_callbacks(execute=True):
        event = tracking.reply_receive(message=reply, provider="imap", process_now=True)
    assert event is not None
    assert (event.kind, event.message, event.reply_text) == ("replied", message, "Yes please.")
    assert event.payload["matched_by"] == "thread"
    assert [e.pk for e in recorded_signals] == [event.pk]


@pytest.mark.django_db
def test_a_reply_is_matched_by_references_when_in_reply_to_is_missing():
    message = OutboundMessageFactory()
    reply = make_reply(from_email=message.to_email, text="Ok", references=f"<unrelated@x> {message.message_id}")
    assert tracking.reply_match(reply=tracking.parse_reply(reply)) == message


@pytest.mark.django_db
def test_a_copied_participant_answering_in_the_thread_is_matched():
    message = OutboundMessageFactory(cc=["Lee@Customer.example"])
    reply = make_reply(from_email="lee@customer.example", text="Adding my view", in_reply_to=message.message_id)
    assert tracking.reply_match(reply=tracking.parse_reply(reply)) == message


@pytest.mark.django_db
def test_a_stranger_forging_in_reply_to_or_references_matches_nothing(django_capture_on_commit_callbacks):
    message = OutboundMessageFactory()
    forged = make_reply(
        from_email="spam@nowhere.example",
        text="Unsubscribe me from nothing",
        in_reply_to=message.message_id,
        references=message.message_id,
    )
    assert tracking.reply_match(reply=tracking.parse_reply(forged)) is None
    with django_capture_on_commit_callbacks(execute=True):
        assert tracking.reply_receive(message=forged, provider="imap", process_now=True) is None
    assert not EngagementEvent.objects.exists()


@pytest.mark.django_db
def test_another_known_contact_forging_in_reply_to_is_not_an_answer_to_that_email(django_capture_on_commit_callbacks):
    message = OutboundMessageFactory()
    other = RecipientFactory(email="other@customer.example")
    forged = make_reply(from_email=other.email, text="Stop this sequence", in_reply_to=message.message_id)
    with django_capture_on_commit_callbacks(execute=True):
        event = tracking.reply_receive(message=forged, provider="imap", process_now=True)
    # Kept as the contact's own reply (they are known), never as the answer to someone else's email.
    assert event is not None and (event.message, event.recipient) == (None, other)
    assert event.payload["matched_by"] == "none"


@pytest.mark.django_db
def test_a_reply_without_thread_headers_is_matched_by_its_sender_to_the_latest_message():
    recipient = RecipientFactory(email="sam@customer.example")
    OutboundMessageFactory(draft__recipient=recipient, sent_at=timezone.now() - timedelta(days=5))
    latest = OutboundMessageFactory(draft__recipient=recipient, sent_at=timezone.now() - timedelta(days=1))
    event = tracking.reply_receive(message=make_reply(from_email="SAM@customer.example", text="Sure"), provider="imap")
    assert event is not None and event.message == latest
    assert event.payload["matched_by"] == "sender"


@pytest.mark.django_db
def test_a_sender_address_match_ignores_messages_older_than_the_window():
    recipient = RecipientFactory(email="sam@customer.example")
    OutboundMessageFactory(
        draft__recipient=recipient, sent_at=timezone.now() - timedelta(days=tracking.REPLY_MATCH_WINDOW_DAYS + 1)
    )
    event = tracking.reply_receive(message=make_reply(from_email="sam@customer.example", text="Hi"), provider="imap")
    assert event is not None and event.message is None and event.recipient == recipient


@pytest.mark.django_db
def test_mail_from_a_stranger_matching_nothing_is_dropped():
    assert (
        tracking.reply_receive(message=make_reply(from_email="spam@nowhere.example", text="Buy"), provider="imap")
        is None
    )
    assert not EngagementEvent.objects.exists()


@pytest.mark.django_db
def test_the_same_reply_arriving_twice_is_recorded_once():
    message = OutboundMessageFactory()
    reply = make_reply(from_email=message.to_email, text="Ok", in_reply_to=message.message_id)
    tracking.reply_receive(message=reply, provider="postmark", provider_event_id="a")
    tracking.reply_receive(message=reply, provider="imap")
    assert EngagementEvent.objects.count() == 1


# --- Inbound webhook and IMAP transport ---------------------------------------------------------


@pytest.mark.django_db
def test_an_inbound_webhook_records_the_reply_and_announces_it(
    client, basic_auth_webhooks, recorded_signals, django_capture_on_commit_callbacks
):
    message = OutboundMessageFactory()
    payload = {
        "FromFull": {"Email": message.to_email, "Name": "Sam Reed"},
        "ToFull": [{"Email": "rita@team.example", "Name": ""}],
        "Subject": "Re: Quick question",
        "MessageID": "pm-inbound-1",
        "Date": "Wed, 18 Nov 2026 10:00:00 +0000",
        "TextBody": "Let's talk Thursday.\n\nOn Tue, Rita wrote:\n> Hi",
        "Headers": [
            {"Name": "Message-ID", "Value": "<reply-1@customer.example>"},
            {"Name": "In-Reply-To", "Value": message.message_id},
        ],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(client, "/anymail/postmark/inbound/", payload, authorization=basic_auth_header())
    assert response.status_code == 200, response.content
    event = EngagementEvent.objects.get()
    assert (event.kind, event.message, event.reply_text, event.provider) == (
        "replied",
        message,
        "Let's talk Thursday.",
        "postmark",
    )
    assert [e.pk for e in recorded_signals] == [event.pk]


@pytest.mark.django_db
def test_an_inbound_webhook_from_a_stranger_forging_in_reply_to_records_nothing(
    client, basic_auth_webhooks, recorded_signals, django_capture_on_commit_callbacks
):
    message = OutboundMessageFactory()
    payload = {
        "FromFull": {"Email": "mallory@attacker.example", "Name": "Mallory"},
        "ToFull": [{"Email": "rita@team.example", "Name": ""}],
        "Subject": "Re: Quick question",
        "MessageID": "pm-inbound-forged",
        "TextBody": "Not interested, stop.",
        "Headers": [
            {"Name": "Message-ID", "Value": "<forged-1@attacker.example>"},
            {"Name": "In-Reply-To", "Value": message.message_id},
        ],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(client, "/anymail/postmark/inbound/", payload, authorization=basic_auth_header())
    assert response.status_code == 200, response.content
    assert not EngagementEvent.objects.exists()
    assert recorded_signals == []


@pytest.mark.django_db
def test_an_inbound_webhook_without_auth_is_rejected(client, basic_auth_webhooks):
    message = OutboundMessageFactory()
    payload = {"FromFull": {"Email": message.to_email}, "TextBody": "hi", "Headers": []}
    response = client.post("/anymail/postmark/inbound/", data=json.dumps(payload), content_type="application/json")
    assert response.status_code == 400
    assert not EngagementEvent.objects.exists()


class FakeIMAP:
    """Stands in for the IMAP server (outside our control): UIDs -> raw messages."""

    def __init__(self, messages: dict[bytes, bytes]):
        self.messages = messages
        self.seen: set[bytes] = set()

    def select(self, folder):
        return "OK", [str(len(self.messages)).encode()]

    def uid(self, command, *args):
        if command == "SEARCH":
            return "OK", [b" ".join(uid for uid in self.messages if uid not in self.seen)]
        if command == "FETCH":
            uid = args[0]
            return "OK", [(b"1 (UID " + uid + b" BODY[] {n}", self.messages[uid]), b")"]
        if command == "STORE":
            self.seen.add(args[0])
            return "OK", [b""]
        raise AssertionError(command)


@pytest.mark.django_db
def test_poll_replies_records_unseen_replies_and_marks_them_seen(django_capture_on_commit_callbacks):
    message = OutboundMessageFactory()
    reply = make_reply(from_email=message.to_email, text="Ok!", in_reply_to=message.message_id)
    # A stranger's email naming ours in In-Reply-To is not an answer to it.
    stranger = make_reply(
        from_email="spam@nowhere.example", text="Buy", message_id="<s@x>", in_reply_to=message.message_id
    )
    imap = FakeIMAP({b"7": reply.as_bytes(), b"8": stranger.as_bytes()})
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_mailbox(imap, folder="INBOX") == (2, 1)
    assert imap.seen == {b"7", b"8"}
    assert EngagementEvent.objects.get().message == message
    assert poll_mailbox(imap, folder="INBOX") == (0, 0)


@pytest.mark.django_db
def test_the_worker_polls_the_mailbox_only_when_one_is_configured(settings):
    from django_q.models import Schedule

    from outreach.schedules import schedules_apply

    name = "replies: poll the IMAP mailbox"
    settings.IMAP_HOST = "imap.example.com"
    schedules_apply()
    schedules_apply()
    schedule = Schedule.objects.get(name=name)
    assert (schedule.func, schedule.minutes, schedule.repeats) == ("outreach.mail.tasks.replies_poll", 5, -1)
    settings.IMAP_HOST = ""
    schedules_apply()
    assert not Schedule.objects.filter(name=name).exists()


def test_poll_replies_without_a_mailbox_says_what_to_set(settings):
    from django.core.management import CommandError, call_command

    settings.IMAP_HOST = ""
    with pytest.raises(CommandError, match="Set IMAP_HOST"):
        call_command("poll_replies")
