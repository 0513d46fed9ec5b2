"""Follow-ups thread under the earlier email of the same enrollment; only they may say "Re:"."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign, Enrollment
from outreach.core.errors import ApplicationError
from outreach.mail.services.sending import outbound_message_send
from tests.factories import ApprovedDraftFactory, RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrollment():
    return Enrollment.objects.create(campaign=Campaign.objects.create(name="Onboarding"), recipient=RecipientFactory())


def _draft(enrollment, **kwargs):
    return ApprovedDraftFactory(
        recipient=enrollment.recipient, campaign=enrollment.campaign, enrollment=enrollment, **kwargs
    )


def test_a_follow_up_threads_under_the_earlier_email(smtp_server, approve, enrollment):
    first = approve(_draft(enrollment, subject="Getting started"))
    outbound_message_send(message_id=first.pk)
    follow_up = approve(_draft(enrollment, subject="Re: Getting started", body_text="Any questions so far?"))
    outbound_message_send(message_id=follow_up.pk)
    received = smtp_server.received[1].message
    assert received["Subject"] == "Re: Getting started"
    assert received["In-Reply-To"].strip() == first.message_id
    assert received["References"].strip() == first.message_id


def test_a_third_email_references_the_whole_thread(approve, enrollment, mailoutbox):
    first = approve(_draft(enrollment, subject="Getting started"))
    second = approve(_draft(enrollment, subject="Re: Getting started", body_text="Second"))
    third = approve(_draft(enrollment, subject="Re: Getting started", body_text="Third"))
    assert third.in_reply_to == second.message_id
    assert third.references.split() == [first.message_id, second.message_id]


def test_a_first_email_may_not_pretend_to_be_a_reply(approve, enrollment):
    with pytest.raises(ApplicationError, match="Only a follow-up"):
        approve(_draft(enrollment, subject="RE: our call"))


def test_an_email_outside_any_enrollment_does_not_thread(approve):
    message = approve(ApprovedDraftFactory())
    assert (message.in_reply_to, message.references) == ("", "")
