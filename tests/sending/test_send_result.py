"""Every send answers in the one-to-one send shape: `status` (success, failure, skipped), `to_id`,
`from_id`, `email_id`, `sender_config_id`, `create_email_options`, `create_email_response`, `code`
and `error_message`, the same in `GET /v1/messages/{id}/`, on the message page and in the emitted
`email_send_result` event (once the outcome is final). Sent through the real anymail Resend
backend against a local stand-in of the Resend API."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from outreach.core.public_ids import encode as pid
from outreach.integrations.models import EmittedEvent
from outreach.integrations.services.tokens import api_token_create
from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from outreach.suppression.services import suppression_add
from tests.factories import ApprovedDraftFactory, RecipientFactory

pytestmark = pytest.mark.django_db


def _send(message, capture):
    with capture(execute=True):
        outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    return message


def _api_result(message) -> dict:
    secret = api_token_create(user=message.sender, name="t", scopes=["email:send"]).secret
    response = Client(headers={"Authorization": f"Bearer {secret}"}).get(f"/v1/messages/{pid('msg', message.pk)}/")
    assert response.status_code == 200, response.json()
    return response.json()


def _event_result(message) -> dict:
    events = [
        e
        for e in EmittedEvent.objects.filter(type="email_send_result")
        if e.payload["email_id"] == pid("msg", message.pk)
    ]
    assert len(events) == 1
    return events[0].payload


@pytest.fixture
def draft(rep):
    recipient = RecipientFactory(owner=rep, email="buyer@example.com")
    return ApprovedDraftFactory(
        sender=rep,
        recipient=recipient,
        cc=["boss@customer.example"],
        bcc=["crm@team.example"],
        preview_text="Two times that work next week",
    )


def test_a_success_answers_every_field(resend_api, approve, draft, rep, django_capture_on_commit_callbacks):
    message = _send(approve(draft), django_capture_on_commit_callbacks)
    result = message.as_send_result()
    assert result == {
        "status": "success",
        "to_id": pid("ctc", draft.recipient_id),
        "from_id": pid("inb", rep.sender.pk),
        "email_id": pid("msg", message.pk),
        "sender_config_id": None,
        "mailbox_id": None,
        "create_email_options": {
            "from": message.from_email,
            "to": ["buyer@example.com"],
            "subject": "Your October usage",
            "preview_text": "Two times that work next week",
            "text": draft.body_text,
            "html": draft.body_html,
            "cc": ["boss@customer.example"],
            "bcc": ["crm@team.example"],
            "headers": {"Message-ID": message.message_id, "Reply-To": message.reply_to},
        },
        "create_email_response": message.provider_response,
        "code": None,
        "error_message": None,
    }
    assert result["create_email_response"]["message_id"] == "resend-1"
    # The preview text went out as the HTML part's hidden preheader.
    assert "Two times that work next week" in resend_api.delivered[0]["html"]
    # The same answer through the API, in the event and on the message page.
    api = _api_result(message)
    assert api["send_result"] == result
    assert (api["status"], api["state"], api["code"]) == ("success", "sent", "")
    event = _event_result(message)
    assert {k: event[k] for k in result} == result
    assert event["sender"] == rep.username


def test_a_resend_error_is_a_failure_with_code_resend_error(
    resend_api, approve, draft, django_capture_on_commit_callbacks
):
    resend_api.fail_with = [(422, {"name": "validation_error", "message": "The domain is not verified"})]
    message = _send(approve(draft), django_capture_on_commit_callbacks)
    result = message.as_send_result()
    assert (result["status"], result["code"]) == ("failure", "resend_error")
    assert "not verified" in result["error_message"]
    assert result["create_email_response"]["status_code"] == 422
    assert result["create_email_options"]["subject"] == "Your October usage"
    assert _api_result(message)["send_result"] == result
    assert _api_result(message)["code"] == "resend_error"
    assert {k: _event_result(message)[k] for k in result} == result


def test_an_smtp_error_is_named_after_its_channel(smtp_server, approve, draft, django_capture_on_commit_callbacks):
    smtp_server.refuse_with = "550 5.1.1 No such user here"
    result = _send(approve(draft), django_capture_on_commit_callbacks).as_send_result()
    assert (result["status"], result["code"]) == ("failure", "smtp_error")


def test_a_transient_error_is_pending_and_emits_nothing_yet(
    resend_api, approve, draft, django_capture_on_commit_callbacks
):
    resend_api.fail_with = [(429, {"name": "rate_limit_exceeded", "message": "Too many requests"})]
    message = _send(approve(draft), django_capture_on_commit_callbacks)
    assert (message.as_send_result()["status"], message.as_send_result()["code"]) == ("pending", "resend_error")
    assert not EmittedEvent.objects.filter(type="email_send_result").exists()


def test_an_unsubscribed_recipient_is_skipped_as_opted_out(
    resend_api, approve, draft, django_capture_on_commit_callbacks
):
    message = approve(draft)
    suppression_add(kind="address", value="buyer@example.com", reason="unsubscribed")
    result = _send(message, django_capture_on_commit_callbacks).as_send_result()
    assert (result["status"], result["code"]) == ("skipped", "user_marketing_email_opt_out")
    assert "Suppressed at send time" in result["error_message"]
    assert result["create_email_response"] is None
    assert not resend_api.requests
    assert _event_result(message)["code"] == "user_marketing_email_opt_out"


def test_a_suppressed_recipient_is_skipped_as_suppressed(
    resend_api, approve, draft, django_capture_on_commit_callbacks
):
    message = approve(draft)
    suppression_add(kind="domain", value="example.com", reason="manual")
    result = _send(message, django_capture_on_commit_callbacks).as_send_result()
    assert (result["status"], result["code"]) == ("skipped", "suppressed")


def test_the_same_email_twice_is_skipped_as_duplicate_email(
    resend_api, approve, draft, rep, django_capture_on_commit_callbacks
):
    _send(approve(draft), django_capture_on_commit_callbacks)
    again = ApprovedDraftFactory(sender=rep, recipient=draft.recipient)
    message = _send(approve(again), django_capture_on_commit_callbacks)
    result = message.as_send_result()
    assert (result["status"], result["code"]) == ("skipped", "duplicate_email")
    assert len(resend_api.requests) == 1
    assert _api_result(message)["send_result"]["code"] == "duplicate_email"


def test_the_message_page_shows_the_send_result(resend_api, approve, draft, rep, django_capture_on_commit_callbacks):
    resend_api.fail_with = [(422, {"name": "validation_error", "message": "The domain is not verified"})]
    message = _send(approve(draft), django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(rep)
    page = client.get(reverse("message_timeline", args=[message.pk])).content.decode()
    section = page[page.index('id="send-result"') :]
    assert "failure" in section and "resend_error" in section and "not verified" in section
    assert pid("msg", message.pk) in section and pid("inb", rep.sender.pk) in section


def test_the_messages_api_filters_by_send_result_status(resend_api, approve, draft, django_capture_on_commit_callbacks):
    message = _send(approve(draft), django_capture_on_commit_callbacks)
    secret = api_token_create(user=message.sender, name="t", scopes=["drafts:read"]).secret
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    assert [m["id"] for m in client.get("/v1/messages/?status=success").json()["items"]] == [pid("msg", message.pk)]
    assert client.get("/v1/messages/?status=failure").json()["items"] == []
    assert [m["id"] for m in client.get("/v1/messages/?state=sent").json()["items"]] == [pid("msg", message.pk)]


def test_complete_on_send_failure_defaults_to_true(rep):
    from campaigns.models import Campaign

    assert Campaign._meta.get_field("complete_on_send_failure").default is True
    assert OutboundMessage._meta.get_field("complete_on_send_failure").default is True


def test_a_suppressed_cc_or_bcc_address_is_dropped_with_a_note(
    resend_api, approve, draft, django_capture_on_commit_callbacks
):
    message = approve(draft)
    suppression_add(kind="address", value="boss@customer.example", reason="unsubscribed")
    message = _send(message, django_capture_on_commit_callbacks)
    assert message.state == OutboundMessage.State.SENT  # the recipient still gets it
    assert (message.cc, message.bcc) == ([], ["crm@team.example"])
    assert "CC boss@customer.example dropped: Unsubscribed" in " ".join(row.note for row in message.log.all())
    assert "boss@customer.example" not in str(resend_api.requests[0]["body"])
    assert message.as_send_result()["create_email_options"]["cc"] == []
