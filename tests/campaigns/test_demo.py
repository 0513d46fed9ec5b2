"""The demo campaigns: wired to the demo data, idempotent, and a scan puts drafts in the owners' queues."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from campaigns.demo import HANDOFF, ONBOARDING, RENEWAL, RISK
from campaigns.models import Campaign, Enrollment, MilestoneRule, SequenceStep
from review.models import Draft

pytestmark = pytest.mark.django_db


def test_demo_campaigns_load_twice_without_duplicating_anything():
    call_command("seed_demo")
    call_command("seed_demo_campaigns")
    call_command("seed_demo_campaigns")

    assert set(Campaign.objects.values_list("name", flat=True)) == {RENEWAL, ONBOARDING, RISK, HANDOFF}
    assert SequenceStep.objects.filter(campaign__name=RENEWAL).count() == 3
    assert MilestoneRule.objects.count() == 4
    assert Campaign.objects.get(name=RENEWAL).created_by.username == "carl"


def test_the_scan_on_demo_data_puts_drafts_in_the_owners_queues():
    call_command("seed_demo")
    call_command("seed_demo_campaigns")

    call_command("run_milestone_scan")

    renewal = Enrollment.objects.filter(campaign__name=RENEWAL)
    onboarding = Enrollment.objects.filter(campaign__name=ONBOARDING)
    assert renewal.exists() and onboarding.exists()
    drafts = Draft.objects.filter(origin__isnull=False)
    assert drafts.exists()
    assert {d.sender.username for d in drafts} <= {"rita", "carl"}
    # One email at a time: nobody has two open drafts.
    recipients = list(drafts.values_list("recipient", flat=True))
    assert len(recipients) == len(set(recipients))
    # Suppressed demo recipients (the churned, frozen domain) got no draft, and the reason is kept.
    assert not drafts.filter(recipient__email__endswith="granitelabs.example").exists()

    call_command("run_milestone_scan")
    assert Draft.objects.filter(origin__isnull=False).count() == drafts.count()


def test_the_demo_risk_and_handoff_campaigns_fire_on_a_crossing_and_a_qualified_csm_contact():
    from outreach.people.models import Account, Recipient

    call_command("seed_demo")
    call_command("seed_demo_campaigns")
    call_command("run_milestone_scan")  # the rules' first scan: a baseline
    assert not Enrollment.objects.filter(campaign__name__in=[RISK, HANDOFF]).exists()

    cobalt = Account.objects.get(name="Cobalt Retail")
    cobalt.properties = {"risk_score": 81}
    cobalt.save()
    qualified = Recipient.objects.filter(owner__username="carl").exclude(account=cobalt).first()
    qualified.lifecycle_stage = "qualified"
    qualified.save()
    call_command("run_milestone_scan")

    at_risk = Enrollment.objects.filter(campaign__name=RISK)
    assert set(at_risk.values_list("recipient__account__name", flat=True)) == {"Cobalt Retail"}
    handoff = Enrollment.objects.get(campaign__name=HANDOFF)
    assert (handoff.recipient, handoff.sender.username) == (qualified, "carl")
