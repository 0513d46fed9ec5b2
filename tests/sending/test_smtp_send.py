"""An approved email reaches a real SMTP server exactly as approved, from the sender."""

from __future__ import annotations

from email.utils import parseaddr

import pytest

from outreach.core.public_ids import encode as pid
from outreach.mail.models import OutboundMessage, SenderConfig
from outreach.mail.services.sending import outbound_message_send
from outreach.mail.unsubscribe import unsubscribe_url
from tests.factories import ApprovedDraftFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(smtp_server, approve, rep, settings):
    settings.COMPANY_POSTAL_ADDRESS = "Team Co, 5 Harbour Road, Leith"
    rep.sender.display_name = "Rita Ramos"
    rep.sender.reply_to = "rita.replies@team.example"
    rep.sender.save()
    draft = ApprovedDraftFactory(sender=rep, cc=["boss@customer.example"], bcc=["crm@team.example"])
    message = approve(draft)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert len(smtp_server.received) == 1
    return message, smtp_server.received[0]


def test_it_sends_from_the_senders_name_and_address(sent):
    message, received = sent
    assert parseaddr(received.message["From"]) == ("Rita Ramos", "rep1@team.example")
    assert received.mail_from == "rep1@team.example"


def test_it_sets_reply_to_to_the_senders_mailbox(sent):
    _, received = sent
    assert received.message["Reply-To"] == "rita.replies@team.example"


def test_it_copies_cc_in_headers_and_bcc_only_in_the_envelope(sent):
    message, received = sent
    assert received.message["Cc"] == "boss@customer.example"
    assert received.message["Bcc"] is None
    assert sorted(received.rcpt_tos) == sorted([message.to_email, "boss@customer.example", "crm@team.example"])


def test_it_uses_the_fixed_message_id(sent):
    message, received = sent
    assert received.message["Message-ID"] == message.message_id
    assert message.provider_message_id == message.message_id


def test_it_carries_one_click_list_unsubscribe_headers(sent):
    message, received = sent
    url = unsubscribe_url(recipient_id=message.recipient_id, message_id=message.pk)
    assert received.message["List-Unsubscribe"].strip() == f"<{url}>"
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_both_bodies_end_with_an_unsubscribe_link_and_the_postal_address(sent):
    message, received = sent
    url = unsubscribe_url(recipient_id=message.recipient_id, message_id=message.pk)
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    html = received.message.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert url in body
        assert "Team Co, 5 Harbour Road, Leith" in body
    assert text.replace("\r\n", "\n").startswith(message.body_text)


def test_the_html_part_is_a_complete_document_saying_what_the_text_part_says(sent):
    message, received = sent
    html = received.message.get_body(preferencelist=("html",)).get_content()
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    assert html.lstrip().lower().startswith("<!doctype html>")
    for tag in ("<html", "<head>", '<meta charset="utf-8">', "<body>", "</body>", "</html>"):
        assert tag in html
    assert f"<title>{message.subject}</title>" in html
    assert html.index(message.body_html) > html.index("<body>")
    # The same words in both parts: every line of the approved text appears in the HTML.
    for line in message.body_text.splitlines():
        if line.strip():
            assert line.strip().replace("&", "&amp;") in html
    assert text.replace("\r\n", "\n").startswith(message.body_text)


def test_it_names_the_list_with_the_unsubscribe_headers(sent):
    _, received = sent
    assert received.message["List-Id"] == "<outreach.team.example>"


def test_it_records_a_successful_send_result(sent, rep):
    message, _ = sent
    result = message.as_send_result()
    assert message.state == OutboundMessage.State.SENT
    assert result["status"] == "success"
    assert result["code"] is None
    assert result["to_id"] == pid("ctc", message.recipient_id)
    assert result["from_id"] == pid("inb", rep.sender.pk)
    assert result["email_id"] == pid("msg", message.pk)
    assert result["create_email_options"]["cc"] == ["boss@customer.example"]
    assert result["create_email_response"]["status"] == ["sent"]


def test_it_marks_the_recipient_as_recently_contacted(sent):
    message, _ = sent
    message.recipient.refresh_from_db()
    assert message.recipient.properties["last_outreach_at"]
    assert message.recipient.properties["last_outreach_campaign"] is None


def test_it_logs_every_state_change(sent):
    message, _ = sent
    assert [(row.from_state, row.to_state) for row in message.log.all()] == [
        ("", "queued"),
        ("queued", "sending"),
        ("sending", "sent"),
    ]


def test_a_sender_with_their_own_mailbox_sends_through_their_smtp_server(smtp_server, approve, rep, settings):
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # the organization's server is unreachable: only the personal one works
    config = SenderConfig(user=rep, kind=SenderConfig.Kind.SMTP, smtp_host="127.0.0.1", smtp_port=port)
    config.smtp_use_tls = False
    config.set_smtp_password("")
    config.save()
    message = approve(ApprovedDraftFactory(sender=rep))
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT
    assert message.as_send_result()["sender_config_id"] == pid("scf", config.pk)
    assert len(smtp_server.received) == 1
