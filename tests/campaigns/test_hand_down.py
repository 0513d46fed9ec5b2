"""What campaigns hands down to review and the outbox: intent and rules travel as plain values, and an
email is sent under the rules it was approved with."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from campaigns import services
from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from outreach.suppression.models import Suppression, SuppressionList
from outreach.suppression.services import suppression_add
from review import services as review_services
from review.models import Draft
from tests.campaigns.factories import CampaignFactory
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db

BUSINESS_HOURS = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
# Tuesday 2026-03-03, 10:00 UTC: inside business hours in UTC.
TUESDAY_MORNING = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def _approved_message(campaign, rep) -> OutboundMessage:
    recipient = RecipientFactory(owner=rep, time_zone="UTC")
    draft = services.campaign_draft_request(campaign=campaign, recipient=recipient, sender=rep)
    draft = review_services.draft_ready_from_text(
        draft=draft, subject="Renewal", body_text="Hello", body_html="<p>Hello</p>", provider="template", model_name="t"
    )
    review_services.draft_approve(draft=draft, user=rep, expected_version=draft.version)
    return OutboundMessage.objects.get(draft_ref=draft.pk)


def test_the_message_carries_the_campaign_rules_it_was_approved_with(rep):
    lists = [SuppressionList.objects.create(name="Frozen")]
    campaign = CampaignFactory(send_window=BUSINESS_HOURS, open_tracking=True, complete_on_send_failure=True)
    campaign.suppression_lists.set(lists)

    message = _approved_message(campaign, rep)

    assert (message.campaign_ref, message.send_window, message.suppression_list_ids) == (
        campaign.pk,
        BUSINESS_HOURS,
        [lists[0].pk],
    )
    assert message.open_tracking and message.complete_on_send_failure


def test_a_later_change_of_send_window_does_not_change_an_approved_email(rep, mailoutbox):
    campaign = CampaignFactory(send_window={}, created_by=rep)
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        message = _approved_message(campaign, rep)
        services.campaign_update(campaign=campaign, send_window={"days": [5], "start": "09:00", "end": "10:00"})
        outbound_message_send(message_id=message.pk)

    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT and message.send_window == {}
    assert len(mailoutbox) == 1


def test_a_suppression_list_the_campaign_now_respects_still_stops_its_queued_emails(rep, mailoutbox):
    campaign = CampaignFactory(created_by=rep)
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        message = _approved_message(campaign, rep)
        frozen = SuppressionList.objects.create(name="Frozen accounts")
        suppression_add(
            kind=Suppression.Kind.ADDRESS, value=message.to_email, reason="customer_freeze", suppression_list=frozen
        )
        services.campaign_update(campaign=campaign, suppression_lists=[frozen])
        outbound_message_send(message_id=message.pk)

    message.refresh_from_db()
    assert (message.state, message.code) == (OutboundMessage.State.SKIPPED, OutboundMessage.Code.SUPPRESSED)
    assert mailoutbox == []


def test_editing_a_campaign_rebriefs_its_open_drafts_but_not_decided_ones(rep):
    campaign = CampaignFactory(name="Renewals", goal="Book calls", created_by=rep)
    sent = _approved_message(campaign, rep)
    open_draft = services.campaign_draft_request(campaign=campaign, recipient=RecipientFactory(owner=rep), sender=rep)

    services.campaign_update(campaign=campaign, name="Renewals 2027", goal="Book renewal calls in December")

    open_draft.refresh_from_db()
    assert open_draft.brief["goal"] == "Book renewal calls in December"
    assert open_draft.campaign_name == "Renewals 2027"
    decided = Draft.objects.get(pk=sent.draft_ref)
    assert decided.brief["goal"] == "Book calls"


def test_a_campaign_draft_is_written_from_the_brief_handed_down(rep):
    campaign = CampaignFactory(goal="Book calls", key_message="Forecasting is included", persona_tone="formal")
    draft = services.campaign_draft_request(campaign=campaign, recipient=RecipientFactory(owner=rep), sender=rep)

    request = review_services.draft_compose_request(draft=draft)

    assert (request.intent.goal, request.intent.key_message) == ("Book calls", "Forecasting is included")
    assert request.persona.tone == "formal"
