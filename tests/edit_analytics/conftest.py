"""A hand-built set of decisions and edits whose analytics are worked out by hand in the tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.factories import CampaignFactory, DraftDecisionFactory, DraftEditFactory, DraftFactory, UserFactory


@dataclass
class SignalsWorld:
    renewals: object
    webinar: object
    rita: object
    sam: object
    earlier: datetime
    now: datetime
    edits: dict


@pytest.fixture
def world(db) -> SignalsWorld:
    """Two campaigns, two senders, two models, decisions in two weeks:

    Renewals (rita, anthropic):  approve, edit(sim .9), edit(sim .7), reject(wrong_facts)
    Webinar  (sam, offline):     approve, edit(sim .5), reject(tone), reject(wrong_facts), regenerate
    Two weeks earlier: rita's approve and first edit, sam's approve; everything else now.
    """
    now = timezone.now()
    earlier = now - timedelta(days=14)
    renewals = CampaignFactory(name="Renewals")
    webinar = CampaignFactory(name="Webinar")
    rita = UserFactory(username="rita", first_name="Rita", last_name="Rep", role="rep")
    sam = UserFactory(username="sam", first_name="Sam", last_name="Seller", role="rep")
    rita.sender.display_name = "Rita Rep"
    rita.sender.save()
    sam.sender.display_name = "Sam Seller"
    sam.sender.save()
    edits = {}

    def decide(campaign, sender, provider, model, action, *, at, reason="", similarity=None, name=None):
        state = {"reject": "rejected", "regenerate": "ready"}.get(action, "approved")
        draft = DraftFactory(campaign=campaign, sender=sender, provider=provider, model_name=model, state=state)
        if similarity is not None:
            edits[name] = DraftEditFactory(
                draft=draft, normalized_similarity=similarity, char_distance=int((1 - similarity) * 100), created_at=at
            )
        DraftDecisionFactory(draft=draft, action=action, reason=reason, created_at=at)
        return draft

    claude = ("anthropic", "claude-sonnet-4-5")
    offline = ("offline", "offline-template-1")
    decide(renewals, rita, *claude, "approve", at=earlier)
    decide(renewals, rita, *claude, "edit_approve", at=earlier, similarity=0.9, name="small")
    decide(renewals, rita, *claude, "edit_approve", at=now, similarity=0.7, name="medium")
    decide(renewals, rita, *claude, "reject", at=now, reason="wrong_facts")
    decide(webinar, sam, *offline, "approve", at=earlier)
    decide(webinar, sam, *offline, "edit_approve", at=now, similarity=0.5, name="large")
    decide(webinar, sam, *offline, "reject", at=now, reason="tone")
    decide(webinar, sam, *offline, "reject", at=now, reason="wrong_facts")
    decide(webinar, sam, *offline, "regenerate", at=now)
    return SignalsWorld(renewals, webinar, rita, sam, earlier, now, edits)
