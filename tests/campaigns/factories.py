"""Campaign builders (kept beside the campaign tests so the shared factories file stays small)."""

from __future__ import annotations

import factory

from campaigns.models import Campaign, SequenceStep


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    goal = "Book renewal conversations"
    key_message = "The forecasting module is included in your renewal"
    call_to_action = "Would a 20-minute call help?"
    status = Campaign.Status.ACTIVE


class SequenceStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SequenceStep

    campaign = factory.SubFactory(CampaignFactory)
    position = factory.Sequence(lambda n: n + 1)
    delay_days = 0
    subject = "About your renewal, {{ first_name }}"
    body = "Hi {{ first_name }},\n\nYour renewal is coming up.\n\nBest,"
