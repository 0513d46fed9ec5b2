"""Milestone rules: who they enroll, once per occurrence, and why."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from campaigns import services
from campaigns.models import Campaign, Enrollment, MilestoneRule
from campaigns.services.milestones import milestone_rule_create, milestone_scan
from outreach.people.models import Fact
from outreach.suppression.models import Suppression
from outreach.suppression.services import suppression_add
from review.models import Draft
from tests.factories import AccountFactory, FactFactory, RecipientFactory

from .conftest import make_campaign

Kind = MilestoneRule.Kind


def at(day: str):
    return time_machine.travel(f"{day} 09:00:00+00:00", tick=False)


def milestone_campaign(kind: str, **parameters) -> Campaign:
    campaign = make_campaign(trigger=Campaign.Trigger.MILESTONE)
    milestone_rule_create(campaign=campaign, kind=kind, parameters=parameters)
    return campaign


def renewing(on: date, **kwargs):
    return RecipientFactory(account=AccountFactory(renewal_date=on), **kwargs)


# --- renewal -------------------------------------------------------------------------------


def test_renewal_within_n_days_enrolls_with_the_reason(rep):
    with at("2026-11-26"):
        soon = renewing(date(2026, 12, 20), owner=rep)
        renewing(date(2027, 3, 1), owner=rep)  # too far
        renewing(date(2026, 11, 1), owner=rep)  # already passed
        campaign = milestone_campaign(Kind.RENEWAL_WITHIN, days=30)

        milestone_scan()

    enrollment = Enrollment.objects.get()
    assert enrollment.recipient == soon and enrollment.kind == Enrollment.Kind.TRIGGERED
    assert enrollment.campaign == campaign and enrollment.occurrence_key == "renewal:2026-12-20"
    assert enrollment.source["why"] == "renewal on 2026-12-20 is within 30 days"
    assert enrollment.source["rule"] == Kind.RENEWAL_WITHIN


def test_a_rule_never_enrolls_twice_for_the_same_occurrence(rep):
    with at("2026-11-26"):
        recipient = renewing(date(2026, 12, 20), owner=rep)
        milestone_campaign(Kind.RENEWAL_WITHIN, days=30)
        milestone_scan()
        Enrollment.objects.update(state=Enrollment.State.COMPLETED)

        milestone_scan()
    assert Enrollment.objects.count() == 1

    # Next year's renewal is a new occurrence.
    recipient.account.renewal_date = date(2027, 12, 20)
    recipient.account.save()
    with at("2027-12-01"):
        milestone_scan()
    assert sorted(Enrollment.objects.values_list("occurrence_key", flat=True)) == [
        "renewal:2026-12-20",
        "renewal:2027-12-20",
    ]


def test_the_scan_respects_suppression_and_records_why(rep):
    with at("2026-11-26"):
        recipient = renewing(date(2026, 12, 20), owner=rep)
        suppression_add(kind=Suppression.Kind.ADDRESS, value=recipient.email, reason=Suppression.Reason.COMPLAINT)
        milestone_campaign(Kind.RENEWAL_WITHIN, days=30)

        milestone_scan()
        services.enrollment_advance_due()

    enrollment = Enrollment.objects.get()
    assert enrollment.state == Enrollment.State.SUPPRESSED and "Spam complaint" in enrollment.state_reason
    assert not Draft.objects.exists()


def test_a_triggered_enrollment_waits_for_the_recipients_open_email(rep):
    with at("2026-11-26"):
        recipient = renewing(date(2026, 12, 20), owner=rep)
        other = make_campaign(steps=1, delays=(0,))
        services.enrollment_create(campaign=other, recipient=recipient)
        services.enrollment_advance_due()
        milestone_campaign(Kind.RENEWAL_WITHIN, days=30)

        milestone_scan()
        result = services.enrollment_advance_due()

    assert result.drafted == 0 and result.busy == 1
    assert Draft.objects.filter(recipient=recipient).count() == 1


def test_rules_of_paused_campaigns_do_not_run(rep):
    with at("2026-11-26"):
        renewing(date(2026, 12, 20), owner=rep)
        campaign = milestone_campaign(Kind.RENEWAL_WITHIN, days=30)
        campaign.status = Campaign.Status.PAUSED
        campaign.save()
        milestone_scan()
    assert not Enrollment.objects.exists()


# --- onboarding ----------------------------------------------------------------------------


def signed_up(recipient, day: str):
    FactFactory(
        recipient=recipient,
        kind=Fact.Kind.MILESTONE_REACHED,
        text=f"Signed up {day}",
        observed_at=datetime.fromisoformat(f"{day}T00:00:00+00:00"),
    )


def test_onboarding_missed_enrolls_n_days_after_signup(rep):
    recipient = RecipientFactory(owner=rep)
    signed_up(recipient, "2026-11-10")
    FactFactory(recipient=recipient, kind=Fact.Kind.MILESTONE_MISSED, text="Has not connected a data source")
    milestone_campaign(Kind.ONBOARDING_MISSED, days=10)

    with at("2026-11-15"):
        milestone_scan()
    assert not Enrollment.objects.exists()

    with at("2026-11-21"):
        milestone_scan()
    enrollment = Enrollment.objects.get()
    assert enrollment.occurrence_key == "onboarding:missed:2026-11-10"
    assert "10+ days after signing up on 2026-11-10" in enrollment.source["why"]


def test_onboarding_missed_by_absence_of_the_milestone_fact(rep):
    stuck, done = RecipientFactory(owner=rep), RecipientFactory(owner=rep)
    signed_up(stuck, "2026-11-01")
    signed_up(done, "2026-11-01")
    FactFactory(
        recipient=done,
        kind=Fact.Kind.MILESTONE_REACHED,
        text="Connected a data source",
        observed_at=datetime.fromisoformat("2026-11-05T00:00:00+00:00"),
    )
    milestone_campaign(Kind.ONBOARDING_MISSED, days=10, milestone_text="Connected a data source")

    with at("2026-11-20"):
        milestone_scan()

    assert list(Enrollment.objects.values_list("recipient", flat=True)) == [stuck.pk]


# --- usage drop ----------------------------------------------------------------------------


def usage(recipient, value: str, day: str, text: str = "Weekly active users"):
    FactFactory(
        recipient=recipient,
        kind=Fact.Kind.USAGE,
        text=f"{text} {value} on {day}",
        value=value,
        observed_at=datetime.fromisoformat(f"{day}T00:00:00+00:00"),
    )


def test_usage_dropped_by_x_percent_over_n_days(rep):
    dropped, steady, wordy = RecipientFactory(owner=rep), RecipientFactory(owner=rep), RecipientFactory(owner=rep)
    usage(dropped, "100", "2026-11-01")
    usage(dropped, "55", "2026-11-20")
    usage(steady, "100", "2026-11-01")
    usage(steady, "90", "2026-11-20")
    usage(wordy, "lots", "2026-11-01")
    usage(wordy, "few", "2026-11-20")
    milestone_campaign(Kind.USAGE_DROP, percent=40, days=14)

    with at("2026-11-21"):
        milestone_scan()

    enrollment = Enrollment.objects.get()
    assert enrollment.recipient == dropped and enrollment.occurrence_key == "usage_drop:2026-11-20"
    assert "from 100 to 55 (45%)" in enrollment.source["why"]


# --- lifecycle stage -----------------------------------------------------------------------


def test_a_change_of_lifecycle_stage_to_customer_enrolls_once(rep):
    recipient = RecipientFactory(owner=rep, lifecycle_stage="trial")
    already = RecipientFactory(owner=rep, lifecycle_stage="customer")
    milestone_campaign(Kind.STAGE_CHANGED, stage="customer")
    milestone_scan()  # the first scan only learns the current stages
    assert not Enrollment.objects.exists()

    recipient.lifecycle_stage = "customer"
    recipient.save()
    milestone_scan()
    milestone_scan()

    enrollment = Enrollment.objects.get()
    assert enrollment.recipient == recipient and enrollment.recipient != already
    assert enrollment.source["why"] == "lifecycle stage changed from trial to customer"


# --- scheduling and on demand --------------------------------------------------------------


def test_the_campaign_scans_are_scheduled_once(db):
    from outreach.schedules import schedules_apply

    schedules_apply()
    schedules_apply()
    assert set(Schedule.objects.filter(name__startswith="campaigns:").values_list("func", "minutes")) == {
        ("campaigns.tasks.enrollment_advance_due_task", 5),
        ("campaigns.tasks.milestone_scan_task", 60),
        ("campaigns.tasks.exit_condition_checks_sweep", 2),
    }


def test_the_management_command_enrolls_and_requests_drafts(rep):
    with at("2026-11-26"):
        renewing(date(2026, 12, 20), owner=rep)
        milestone_campaign(Kind.RENEWAL_WITHIN, days=30)
        call_command("run_milestone_scan")
    assert Draft.objects.filter(sender=rep).count() == 1


def test_the_scan_evaluates_with_a_fixed_number_of_queries(rep, django_assert_max_num_queries):
    with at("2026-11-26"):
        for _ in range(30):
            renewing(date(2026, 12, 20), owner=rep)
        milestone_campaign(Kind.RENEWAL_WITHIN, days=30)
        milestone_scan()
        # Nothing new: matching costs a handful of queries however many recipients match.
        with django_assert_max_num_queries(12):
            milestone_scan()


@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_enroll_each_occurrence_once(rep):
    for _ in range(20):
        renewing(timezone.localdate() + timedelta(days=10), owner=rep)
    milestone_campaign(Kind.RENEWAL_WITHIN, days=30)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def scan():
        try:
            barrier.wait()
            milestone_scan()
            services.enrollment_advance_due()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert Enrollment.objects.count() == 20
    assert Draft.objects.count() == 20
