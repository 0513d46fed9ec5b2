"""From an approved draft to engagement: the sent email's own links and ids lead back to it."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client

from outreach.mail.models import EngagementEvent
from outreach.mail.services.sending import outbound_message_send
from outreach.suppression.models import Suppression
from review.services import outbound_message_from_draft
from tests.factories import ApprovedDraftFactory

from .conftest import basic_auth_header, hard_bounce, post_json, resend_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    draft = ApprovedDraftFactory()
    with transaction.atomic():
        message = outbound_message_from_draft(draft=draft, approved_by=draft.sender)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == "sent"
    return message, mail.outbox[0].message()


def test_the_list_unsubscribe_header_of_a_sent_email_unsubscribes_with_one_post(sent, settings):
    message, email = sent
    url = re.fullmatch(r"<(.+)>", email["List-Unsubscribe"]).group(1)
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = url.removeprefix(settings.SITE_URL)
    response = Client(enforce_csrf_checks=True).post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    entry = Suppression.objects.get()
    assert (entry.value, entry.reason, entry.source) == (
        message.to_email,
        "unsubscribed",
        f"one-click unsubscribe, message #{message.pk}",
    )


def test_a_bounce_naming_the_sent_emails_provider_id_is_matched_and_suppresses(
    sent, client, basic_auth_webhooks, django_capture_on_commit_callbacks
):
    message, _ = sent
    payload = resend_event(
        "email.bounced", email_id=message.provider_message_id, to=message.to_email, bounce=hard_bounce()
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_json(client, "/anymail/resend/tracking/", payload, authorization=basic_auth_header(), **{"svix-id": "e1"})
    assert EngagementEvent.objects.get().message == message
    assert Suppression.objects.get().reason == "hard_bounce"


def test_a_reply_quoting_the_sent_emails_message_id_is_matched_to_it(sent):
    from email.message import EmailMessage

    from outreach.mail.services import engagement as tracking

    message, email = sent
    reply = EmailMessage()
    # From the person it was sent to (someone else naming it is not its answer: test_replies.py).
    reply["From"] = email["To"]
    reply["Subject"] = "Re: " + email["Subject"]
    reply["Message-ID"] = "<reply-e2e@customer.example>"
    reply["In-Reply-To"] = email["Message-ID"]
    reply.set_content("Happy to.\n\n> " + message.body_text.replace("\n", "\n> "))
    event = tracking.reply_receive(message=reply, provider="imap", process_now=True)
    assert event is not None and event.message == message and event.reply_text == "Happy to."
