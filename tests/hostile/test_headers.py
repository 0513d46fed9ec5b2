"""No header is injected: hostile names, subjects and CC go through the real SMTP path and the
received message has exactly one To, no Bcc and no extra headers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from review.models import Draft
from tests.factories import AccountFactory, DraftFactory, RecipientFactory

from .conftest import CRLF_NAME, SCRIPTS

pytestmark = pytest.mark.django_db

# Headers any message of ours may carry; anything else was injected.
EXPECTED_HEADERS = {
    "content-type", "mime-version", "subject", "from", "to", "cc", "reply-to", "date", "message-id",
    "list-unsubscribe", "list-unsubscribe-post", "in-reply-to", "references", "content-transfer-encoding",
    "list-id", "x-peer", "x-mailfrom", "x-rcptto", "received",
}  # fmt: skip


def _hostile_draft(rep, **overrides) -> Draft:
    recipient = RecipientFactory(
        owner=rep,
        email="ann@customer.example",
        first_name=CRLF_NAME,
        last_name="O'Brien\nX-Evil: 1",
        account=AccountFactory(name="Acme\r\nBcc: evil@x.com", domain="customer.example"),
    )
    return DraftFactory(sender=rep, recipient=recipient, **overrides)


def _send(message: OutboundMessage, smtp_server):
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT, (message.state, message.code, message.error_message)
    [received] = smtp_server.received
    return received


def _assert_not_injected(received, *, cc: list[str]) -> None:
    msg = received.message
    assert msg.get_all("To") == ["ann@customer.example"]
    assert msg.get_all("Bcc") is None
    assert len(msg.get_all("Subject")) == 1 and len(msg.get_all("From")) == 1
    assert not {k.lower() for k in msg} - EXPECTED_HEADERS, msg.keys()
    assert "evil@x.com" not in str(msg.get("Cc", ""))
    assert sorted(received.rcpt_tos) == sorted(["ann@customer.example", *cc])


def test_a_hostile_recipient_name_and_company_inject_no_header(smtp_server, approve, rep):
    draft = _hostile_draft(rep, state="approved", subject=f"Hi {SCRIPTS}")
    received = _send(approve(draft), smtp_server)
    _assert_not_injected(received, cc=[])
    # (Django folds a long encoded subject onto the next line; the parser keeps the fold space.)
    assert received.message["Subject"].strip() == f"Hi {SCRIPTS}"


def test_a_reviewer_subject_with_crlf_becomes_one_line_in_the_sent_email(smtp_server, rep, rep_client):
    draft = _hostile_draft(rep)
    response = rep_client.post(
        reverse("draft_edit_approve", args=[draft.pk]),
        {"version": draft.version, "subject": "Hello\r\nBcc: evil@x.com\r\nX-Evil: 1", "body_text": draft.body_text},
    )
    assert response.status_code == 200, response.content
    received = _send(OutboundMessage.objects.get(draft_ref=draft.pk), smtp_server)
    _assert_not_injected(received, cc=[])
    assert "\n" not in received.message["Subject"] and "X-Evil" not in received.message


def test_a_cc_field_with_crlf_is_refused_as_a_whole(smtp_server, rep, rep_client):
    draft = _hostile_draft(rep)
    response = rep_client.post(
        reverse("draft_edit_approve", args=[draft.pk]),
        {"version": draft.version, "subject": "Hi", "body_text": draft.body_text, "cc": CRLF_NAME},
    )
    assert response.status_code in (400, 409, 422), response.status_code
    assert not OutboundMessage.objects.exists()
    draft.refresh_from_db()
    assert draft.state == Draft.State.READY and draft.cc == []


def test_a_sender_display_name_with_crlf_is_sent_on_one_line_without_a_header(smtp_server, approve, rep):
    rep.sender.display_name = "Rita\r\nBcc: evil@x.com"
    rep.sender.save()
    draft = _hostile_draft(rep, state="approved")
    message = approve(draft)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT, message.error_message
    [received] = smtp_server.received
    _assert_not_injected(received, cc=[])
    assert received.message["From"].addresses[0].addr_spec == "rep1@team.example"
    assert received.message["From"].addresses[0].display_name == "Rita Bcc: evil@x.com"
