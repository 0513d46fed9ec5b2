"""Provider errors: transient ones retry with backoff, permanent ones fail at once, none is swallowed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from tests.factories import ApprovedDraftFactory

pytestmark = pytest.mark.django_db

State, Code = OutboundMessage.State, OutboundMessage.Code


def _send(message):
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    return message


def test_a_451_from_the_smtp_server_is_retried_later_and_then_sent(smtp_server, approve, settings):
    settings.SEND_RETRY_BASE_SECONDS = 60
    smtp_server.temporary_failures = 1
    message = _send(approve(ApprovedDraftFactory()))
    assert (message.state, message.code, message.attempts) == (State.QUEUED, Code.PROVIDER_ERROR, 1)
    assert "451" in message.error_message
    assert message.not_before > timezone.now() + timedelta(seconds=50)
    assert outbound_message_send(message_id=message.pk) is None  # not due yet
    with time_machine.travel(message.not_before + timedelta(seconds=1)):
        message = _send(message)
    assert (message.state, message.attempts) == (State.SENT, 2)
    assert len(smtp_server.received) == 1


def test_the_backoff_doubles_with_each_attempt(smtp_server, approve, settings):
    settings.SEND_RETRY_BASE_SECONDS = 60
    smtp_server.temporary_failures = 2
    message = _send(approve(ApprovedDraftFactory()))
    first_wait = message.not_before - message.updated_at
    with time_machine.travel(message.not_before + timedelta(seconds=1)):
        message = _send(message)
        second_wait = message.not_before - message.updated_at
    assert round(first_wait.total_seconds()) == 60
    assert round(second_wait.total_seconds()) == 120


def test_a_transient_error_fails_the_send_after_the_last_attempt(smtp_server, approve, settings):
    settings.SEND_MAX_ATTEMPTS = 1
    smtp_server.temporary_failures = 5
    message = _send(approve(ApprovedDraftFactory()))
    assert (message.state, message.code) == (State.FAILED, Code.PROVIDER_ERROR)
    assert "451" in message.error_message


def test_a_refused_recipient_fails_at_once_with_the_servers_answer(smtp_server, approve):
    smtp_server.refuse_with = "550 5.1.1 No such user here"
    message = _send(approve(ApprovedDraftFactory()))
    assert (message.state, message.code, message.attempts) == (State.FAILED, Code.PROVIDER_ERROR, 1)
    assert "550" in message.error_message and "No such user" in message.error_message
    assert message.as_send_result()["status"] == "failure"


def test_an_unreachable_smtp_server_is_a_transient_error(approve, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1
    message = _send(approve(ApprovedDraftFactory()))
    assert (message.state, message.code) == (State.QUEUED, Code.PROVIDER_ERROR)
    assert "Connection refused" in message.error_message


def test_a_provider_rate_limit_is_retried(resend_api, approve):
    resend_api.fail_with = [(429, {"name": "rate_limit_exceeded", "message": "Too many requests"})]
    message = _send(approve(ApprovedDraftFactory()))
    assert (message.state, message.code) == (State.QUEUED, Code.PROVIDER_ERROR)
    assert message.provider_response["status_code"] == 429


def test_a_provider_validation_error_fails_at_once(resend_api, approve):
    resend_api.fail_with = [(422, {"name": "validation_error", "message": "The domain is not verified"})]
    message = _send(approve(ApprovedDraftFactory()))
    assert (message.state, message.code) == (State.FAILED, Code.PROVIDER_ERROR)
    assert "not verified" in message.error_message


def test_a_provider_send_records_its_message_id_and_response(resend_api, approve):
    message = _send(approve(ApprovedDraftFactory()))
    assert message.state == State.SENT
    assert message.provider_message_id == "resend-1"
    assert message.as_send_result()["create_email_response"]["status"] == ["queued"]
    assert resend_api.requests[0]["idempotency_key"] == message.idempotency_key
    assert resend_api.delivered[0]["headers"]["Message-ID"] == message.message_id
