"""Two demo campaigns wired to the demo data, so a CSM sees drafts appear after running the scan.
Idempotent: running it twice changes nothing."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Campaign, MilestoneRule, SequenceStep
from .services.milestones import milestone_rule_create

RENEWAL = "Renewal within 30 days"
ONBOARDING = "Onboarding step missed 10 days"
RISK = "Risk score rises above 70"
HANDOFF = "Qualified: CSM handoff"

CAMPAIGNS: list[dict[str, Any]] = [
    {
        "name": RENEWAL,
        "goal": "Book a renewal conversation before the contract renews",
        "trigger_description": "The account's renewal date is within 30 days",
        "target_description": "Contacts at accounts renewing in the next 30 days",
        "key_message": "We would like to review how the last year went and what you need next year",
        "call_to_action": "Would a 20-minute call next week work?",
        "rule": (MilestoneRule.Kind.RENEWAL_WITHIN, {"days": 30}),
        "steps": [
            {"delay_days": 0, "prompt": "First renewal note: mention the renewal date and one usage fact."},
            {
                "delay_days": 4,
                "subject": "Re: your renewal",
                "body": "Hi {{ first_name }},\n\nA quick follow-up on my note about the renewal for {{ company }}."
                " Is there a good time for a short call?\n\nBest,",
            },
            {
                "delay_days": 7,
                "subject": "Last note about your renewal",
                "body": "Hi {{ first_name }},\n\nI will stop following up after this one. If it helps to talk"
                " through the renewal, just reply and I will find a time.\n\nBest,",
            },
        ],
    },
    {
        "name": ONBOARDING,
        "goal": "Help new customers finish onboarding",
        "trigger_description": "An onboarding milestone was not reached 10 days after signing up",
        "target_description": "New customers who are stuck in onboarding",
        "key_message": "Connecting a data source takes about ten minutes and unlocks the dashboards",
        "call_to_action": "Want me to walk you through it on a short call?",
        "rule": (MilestoneRule.Kind.ONBOARDING_MISSED, {"days": 10}),
        "steps": [
            {"delay_days": 0, "prompt": "Friendly nudge about the onboarding step they missed; offer help."},
            {
                "delay_days": 5,
                "subject": "Still stuck on the data source?",
                "body": "Hi {{ first_name }},\n\nChecking in on connecting your first data source. I am happy to"
                " help on a quick call.\n\nBest,",
            },
        ],
    },
    {
        "name": RISK,
        "goal": "Reach at-risk accounts before they churn",
        "trigger_description": "The account's risk score rose to 70 or above",
        "target_description": "Contacts at accounts whose risk score just crossed 70",
        "key_message": "We noticed things changed recently and want to help you get value again",
        "call_to_action": "Could we find 20 minutes this week to look at it together?",
        "rule": (
            MilestoneRule.Kind.RISK_CROSSED,
            {"property": "risk_score", "of": "account", "threshold": 70, "direction": "above"},
        ),
        "steps": [{"delay_days": 0, "prompt": "A short, caring check-in; offer a call, no pressure."}],
    },
    {
        "name": HANDOFF,
        "goal": "Introduce the customer success manager once a lead is qualified",
        "trigger_description": "The lifecycle stage reached qualified and a CSM owns the contact",
        "target_description": "Qualified contacts just assigned to a CSM",
        "key_message": "I will be your point of contact from here on",
        "call_to_action": "Would a short kickoff call next week suit you?",
        "rule": (MilestoneRule.Kind.CSM_HANDOFF, {"stage": "qualified"}),
        "steps": [
            {
                "delay_days": 0,
                "subject": "Your customer success manager, {{ sender_first_name }}",
                "body": "Hi {{ first_name }},\n\nI am {{ sender_name }} and I will look after {{ company }} from here"
                " on. Would a short kickoff call next week suit you?\n\nBest,",
            }
        ],
    },
]


@transaction.atomic
def load_demo_campaigns() -> dict[str, int]:
    carl = get_user_model().objects.filter(username="carl").first()
    if carl is None:
        raise RuntimeError("Load the demo data first: python manage.py seed_demo")
    created = 0
    for spec in CAMPAIGNS:
        campaign, was_created = Campaign.objects.get_or_create(
            name=spec["name"],
            defaults={
                "goal": spec["goal"],
                "trigger": Campaign.Trigger.MILESTONE,
                "trigger_description": spec["trigger_description"],
                "target_description": spec["target_description"],
                "key_message": spec["key_message"],
                "call_to_action": spec["call_to_action"],
                "sender_mode": Campaign.SenderMode.OWNER,
                "exit_on_reply": True,
                "send_window": {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"},
                "status": Campaign.Status.ACTIVE,
                "created_by": carl,
            },
        )
        if not was_created:
            continue
        created += 1
        for position, step in enumerate(spec["steps"], start=1):
            SequenceStep.objects.create(campaign=campaign, position=position, **step)
        kind, parameters = spec["rule"]
        milestone_rule_create(campaign=campaign, kind=kind, parameters=parameters)
    return {"campaigns": len(CAMPAIGNS), "created": created}
