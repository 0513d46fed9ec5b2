"""The campaign rules users asked for: "risk score crosses a threshold" (fires on the crossing, once
per crossing) and "qualified and assigned a CSM" (the owner sends the handoff)."""

from __future__ import annotations

import pytest

from campaigns.display import rule_words
from campaigns.models import Campaign, Enrollment, MilestoneRule, RuleSide
from campaigns.services.milestones import milestone_rule_create, milestone_scan
from outreach.core.errors import ApplicationError
from tests.campaigns.conftest import make_campaign
from tests.factories import AccountFactory, RecipientFactory

pytestmark = pytest.mark.django_db
Kind = MilestoneRule.Kind
RISK = {"property": "risk_score", "of": "account", "threshold": 70, "direction": "above"}


def rule_campaign(kind: str, **parameters) -> Campaign:
    campaign = make_campaign(trigger=Campaign.Trigger.MILESTONE)
    milestone_rule_create(campaign=campaign, kind=kind, parameters=parameters)
    return campaign


def at_risk(score, **kwargs):
    return RecipientFactory(account=AccountFactory(properties={"risk_score": score}), **kwargs)


def set_score(recipient, score) -> None:
    recipient.account.properties = {"risk_score": score}
    recipient.account.save()


# --- risk score crosses a threshold -------------------------------------------------------------


def test_it_fires_when_an_account_risk_score_crosses_the_threshold(db):
    person = at_risk(60)
    campaign = rule_campaign(Kind.RISK_CROSSED, **RISK)
    milestone_scan()  # the rule's first scan: a baseline
    set_score(person, 75)
    milestone_scan()
    enrollment = Enrollment.objects.get(campaign=campaign, recipient=person)
    assert enrollment.source["why"] == "their account's risk_score rose to 75 (at or above 70)"


def test_it_fires_once_per_crossing_not_on_every_scan_while_above(db):
    person = at_risk(60)
    rule_campaign(Kind.RISK_CROSSED, **RISK)
    milestone_scan()
    set_score(person, 75)
    milestone_scan()
    set_score(person, 82)
    milestone_scan()
    milestone_scan()
    assert Enrollment.objects.filter(recipient=person).count() == 1


def test_falling_back_and_crossing_again_is_a_new_occurrence(db):
    person = at_risk(60)
    rule_campaign(Kind.RISK_CROSSED, **RISK)
    milestone_scan()
    set_score(person, 75)
    milestone_scan()
    Enrollment.objects.update(state=Enrollment.State.COMPLETED)
    set_score(person, 50)
    milestone_scan()
    set_score(person, 90)
    milestone_scan()
    keys = sorted(Enrollment.objects.filter(recipient=person).values_list("occurrence_key", flat=True))
    assert keys == ["crossed:risk_score:above:1", "crossed:risk_score:above:2"]


def test_the_rules_first_scan_only_remembers_the_side_of_everyone(db):
    person = at_risk(90)
    rule_campaign(Kind.RISK_CROSSED, **RISK)
    milestone_scan()
    assert not Enrollment.objects.exists()
    assert RuleSide.objects.get(recipient=person).side == RuleSide.Side.ABOVE


def test_a_contact_property_falling_below_fires_a_below_rule(db):
    person = RecipientFactory(properties={"health": "55"})
    rule_campaign(Kind.RISK_CROSSED, property="health", of="contact", threshold=50, direction="below")
    milestone_scan()
    person.properties = {"health": "42.5"}
    person.save()
    milestone_scan()
    assert Enrollment.objects.get(recipient=person).source["value"] == 42.5


def test_a_value_that_is_not_a_number_is_ignored(db):
    person = at_risk("high")
    rule_campaign(Kind.RISK_CROSSED, **RISK)
    milestone_scan()
    milestone_scan()
    assert not RuleSide.objects.filter(recipient=person).exists()


def test_a_risk_rule_needs_a_number_and_a_direction(db):
    campaign = make_campaign()
    with pytest.raises(ApplicationError, match="must be a number"):
        milestone_rule_create(campaign=campaign, kind=Kind.RISK_CROSSED, parameters={**RISK, "threshold": "lots"})
    with pytest.raises(ApplicationError, match="rises above, or falls below"):
        milestone_rule_create(campaign=campaign, kind=Kind.RISK_CROSSED, parameters={**RISK, "direction": "up"})


# --- qualified and assigned a CSM ------------------------------------------------------------------


def test_the_handoff_fires_when_qualified_with_a_csm_owner_and_the_owner_sends(csm):
    person = RecipientFactory(owner=csm, lifecycle_stage="lead")
    campaign = rule_campaign(Kind.CSM_HANDOFF, stage="qualified")
    milestone_scan()
    person.lifecycle_stage = "qualified"
    person.save()
    milestone_scan()
    enrollment = Enrollment.objects.get(campaign=campaign, recipient=person)
    assert (enrollment.sender, enrollment.occurrence_key) == (csm, f"handoff:qualified:{csm.pk}")


def test_the_handoff_waits_until_a_csm_owns_the_contact(rep, csm):
    person = RecipientFactory(owner=rep, lifecycle_stage="lead")
    rule_campaign(Kind.CSM_HANDOFF, stage="qualified")
    milestone_scan()
    person.lifecycle_stage = "qualified"
    person.save()
    milestone_scan()
    assert not Enrollment.objects.exists()
    person.owner = csm
    person.save()
    milestone_scan()
    assert Enrollment.objects.get(recipient=person).sender == csm


def test_the_handoff_does_not_fire_for_those_qualified_before_the_rule(csm):
    person = RecipientFactory(owner=csm, lifecycle_stage="lead")
    milestone_scan()
    person.lifecycle_stage = "qualified"
    person.save()
    milestone_scan()
    rule_campaign(Kind.CSM_HANDOFF, stage="qualified")
    milestone_scan()
    assert not Enrollment.objects.exists()


# --- words, page and API ---------------------------------------------------------------------------


def test_each_rule_reads_in_plain_words():
    assert rule_words("risk_crossed", RISK) == "When the account's risk_score rises to or above 70 (once per crossing)"
    assert rule_words("csm_handoff", {"stage": "qualified"}) == (
        "When the lifecycle stage reaches “qualified” and the owner is a CSM: the owner sends the handoff"
    )


def test_the_campaign_page_adds_a_risk_rule_and_shows_it_in_words(csm_client, csm):
    campaign = make_campaign(created_by=csm)
    csm_client.post(
        f"/campaigns/{campaign.pk}/rules/add/",
        {"kind": "risk_crossed", "property": "risk_score", "of": "account", "threshold": "70", "direction": "above"},
    )
    page = csm_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "When the account&#x27;s risk_score rises to or above 70 (once per crossing)" in page
