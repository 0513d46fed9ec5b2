"""Helpers that play the other apps' part: approve a draft, finish a send, record a reply.

They create the rows review/sending/engagement would create and send those apps' signals, so the
campaigns receivers run exactly as they will in production.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, SequenceStep
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.mail.signals import engagement_recorded, outbound_message_finished
from review.models import Draft, DraftDecision
from review.services import outbound_message_from_draft
from review.signals import draft_decided
from tests.campaigns.factories import CampaignFactory, SequenceStepFactory
from tests.factories import RecipientFactory


def make_campaign(*, steps: int = 3, delays: tuple[int, ...] = (0, 3, 7), **fields) -> Campaign:
    campaign = CampaignFactory(**fields)
    for position in range(1, steps + 1):
        SequenceStepFactory(
            campaign=campaign,
            position=position,
            delay_days=delays[position - 1],
            subject=f"Step {position} for {{{{ first_name }}}}",
        )
    return campaign


def approve(draft: Draft, user, *, action: str = DraftDecision.Action.APPROVE) -> OutboundMessage:
    """What review.services.draft_approve does: approve, create the outbox row, signal on commit."""
    with transaction.atomic():
        if not draft.subject:  # a prompt step: the drafting task would have written it
            draft.subject, draft.body_text, draft.body_html = "Hello", "Hello there", "<p>Hello there</p>"
        draft.state = Draft.State.APPROVED
        draft.decided_by, draft.decided_at = user, timezone.now()
        draft.save()
        decision = DraftDecision.objects.create(draft=draft, action=action, user=user)
        message = outbound_message_from_draft(draft=draft, approved_by=user)
    draft_decided.send(sender=Draft, draft=draft, decision=decision, edit=None)
    return message


def reject(draft: Draft, user, *, reason: str = "wrong_person", note: str = "") -> None:
    draft.state = Draft.State.REJECTED
    draft.save()
    decision = DraftDecision.objects.create(
        draft=draft, action=DraftDecision.Action.REJECT, user=user, reason=reason, note=note
    )
    draft_decided.send(sender=Draft, draft=draft, decision=decision, edit=None)


def finish(
    message: OutboundMessage,
    *,
    state: str = OutboundMessage.State.SENT,
    code: str = "",
    at: datetime | None = None,
    error: str = "",
) -> OutboundMessage:
    """What the sending worker does when a message ends."""
    message.state, message.code, message.error_message = state, code, error
    if state == OutboundMessage.State.SENT:
        message.sent_at = at or timezone.now()
    message.save()
    outbound_message_finished.send(sender=OutboundMessage, message=message)
    return message


def record_event(message: OutboundMessage, kind: str, *, reply_text: str = "") -> EngagementEvent:
    """What the engagement tracking does for a reply, bounce, complaint or unsubscribe."""
    event = EngagementEvent.objects.create(
        message=message,
        recipient=message.recipient,
        kind=kind,
        occurred_at=timezone.now(),
        reply_text=reply_text,
    )
    engagement_recorded.send(sender=EngagementEvent, event=event)
    return event


@pytest.fixture
def campaign(csm) -> Campaign:
    return make_campaign(created_by=csm)


@pytest.fixture
def recipient(rep):
    return RecipientFactory(owner=rep, first_name="Liu")


def step(campaign: Campaign, position: int) -> SequenceStep:
    return campaign.steps.get(position=position)


def days(n: int) -> timedelta:
    return timedelta(days=n)
