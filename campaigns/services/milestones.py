"""Milestone rules: find recipients whose data says "now is the moment" and enroll them once per occurrence.

Each kind is one queryset returning (recipient id, occurrence key, why). The occurrence key names the
event (`renewal:2027-01-15`, `stage:customer:20270115T100000`), so the unique constraint on
(campaign, recipient, occurrence_key) guarantees a rule never enrolls anyone twice for the same
occurrence, even when two scans run at once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import BigIntegerField, Exists, F, FloatField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.text import slugify

from campaigns.models import Campaign, Enrollment, MilestoneRule, RecipientStage, RuleSide
from campaigns.services import _enroll_many
from outreach.core.errors import ApplicationError
from outreach.people.models import Fact, Recipient
from outreach.people.roles import CSM

log = logging.getLogger(__name__)
Kind = MilestoneRule.Kind

NUMERIC = r"^-?[0-9]+(\.[0-9]+)?$"

# Parameters each kind takes, with defaults: the form and validation share them.
RULE_PARAMETERS: dict[str, dict[str, object]] = {
    Kind.ONBOARDING_MISSED: {"days": 10, "milestone_text": "", "signup_text": "Signed up"},
    Kind.RENEWAL_WITHIN: {"days": 30},
    Kind.USAGE_DROP: {"percent": 40, "days": 14, "fact_text": ""},
    Kind.STAGE_CHANGED: {"stage": "customer"},
    Kind.RISK_CROSSED: {"property": "risk_score", "of": "account", "threshold": 70.0, "direction": "above"},
    Kind.CSM_HANDOFF: {"stage": "qualified"},
}
PROPERTY_RE = r"^[A-Za-z0-9_]{1,64}$"


@dataclass(frozen=True)
class Candidate:
    recipient_id: int
    occurrence_key: str
    why: str
    details: dict


def rule_parameters_clean(*, kind: str, parameters: dict) -> dict:
    """Defaults filled in and types checked; raises ApplicationError with a readable message."""
    if kind not in RULE_PARAMETERS:
        raise ApplicationError(f"Unknown rule kind {kind!r}.")
    clean: dict[str, object] = {}
    for name, default in RULE_PARAMETERS[kind].items():
        value = parameters.get(name, default)
        if value in (None, ""):
            value = default
        if isinstance(default, float):
            try:
                value = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ApplicationError(f"{name} must be a number.") from None
            if value != value or abs(value) > 1e12:  # NaN or absurd
                raise ApplicationError(f"{name} must be a number.")
        elif isinstance(default, int):
            try:
                value = int(value)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                raise ApplicationError(f"{name} must be a whole number.") from None
            if value < 1 or value > 3650:
                raise ApplicationError(f"{name} must be between 1 and 3650.")
        else:
            value = str(value).strip()
        clean[name] = value
    if kind == Kind.USAGE_DROP and int(clean["percent"]) > 100:  # type: ignore[call-overload]
        raise ApplicationError("percent must be at most 100.")
    if kind in (Kind.STAGE_CHANGED, Kind.CSM_HANDOFF) and not clean["stage"]:
        raise ApplicationError("Name the lifecycle stage.")
    if kind == Kind.RISK_CROSSED:
        if not re.match(PROPERTY_RE, str(clean["property"])):
            raise ApplicationError("Name the property: letters, digits and underscores.")
        if clean["of"] not in ("contact", "account"):
            raise ApplicationError("A property of the contact or of their account.")
        if clean["direction"] not in ("above", "below"):
            raise ApplicationError("Fire when it rises above, or falls below, the threshold.")
    return clean


@transaction.atomic
def milestone_rule_create(*, campaign: Campaign, kind: str, parameters: dict, active: bool = True) -> MilestoneRule:
    rule = MilestoneRule(
        campaign=campaign, kind=kind, parameters=rule_parameters_clean(kind=kind, parameters=parameters), active=active
    )
    rule.full_clean()
    rule.save()
    if campaign.trigger != Campaign.Trigger.MILESTONE:
        campaign.trigger = Campaign.Trigger.MILESTONE
        campaign.save(update_fields=["trigger", "updated_at"])
    return rule


@transaction.atomic
def milestone_rule_set_active(*, rule: MilestoneRule, active: bool) -> MilestoneRule:
    rule.active = active
    rule.save(update_fields=["active"])
    return rule


# --- candidates, one queryset per kind --------------------------------------------------------


def _renewal_within(p: dict, now: datetime, rule: MilestoneRule) -> list[Candidate]:
    today = timezone.localtime(now).date()
    days = int(p["days"])
    rows = Recipient.objects.filter(
        account__renewal_date__gte=today, account__renewal_date__lte=today + timedelta(days=days)
    ).values_list("pk", "account__renewal_date")
    return [
        Candidate(
            pk,
            f"renewal:{d.isoformat()}",
            f"renewal on {d.isoformat()} is within {days} days",
            {"renewal_date": d.isoformat()},
        )
        for pk, d in rows
        if d is not None
    ]


def _onboarding_missed(p: dict, now: datetime, rule: MilestoneRule) -> list[Candidate]:
    days, milestone, signup_text = int(p["days"]), str(p["milestone_text"]), str(p["signup_text"])
    signup = (
        Fact.objects.filter(recipient=OuterRef("pk"), kind=Fact.Kind.MILESTONE_REACHED, text__istartswith=signup_text)
        .order_by("observed_at")
        .values("observed_at")[:1]
    )
    missed = Fact.objects.filter(recipient=OuterRef("pk"), kind=Fact.Kind.MILESTONE_MISSED)
    if milestone:
        missed = missed.filter(text__icontains=milestone)
    condition = Q(Exists(missed))
    if milestone:
        reached = Fact.objects.filter(
            recipient=OuterRef("pk"),
            kind=Fact.Kind.MILESTONE_REACHED,
            text__icontains=milestone,
            observed_at__gte=OuterRef("signup_at"),
        )
        condition |= ~Q(Exists(reached))
    rows = (
        Recipient.objects.annotate(signup_at=Subquery(signup))
        .filter(signup_at__lte=now - timedelta(days=days))
        .filter(condition)
        .values_list("pk", "signup_at")
    )
    what = milestone or "an onboarding milestone"
    key = slugify(milestone)[:60] or "missed"
    return [
        Candidate(
            pk,
            f"onboarding:{key}:{signed.date().isoformat()}",
            f"{what} not reached {days}+ days after signing up on {signed.date().isoformat()}",
            {"signup": signed.date().isoformat(), "milestone": milestone},
        )
        for pk, signed in rows
    ]


def _usage_drop(p: dict, now: datetime, rule: MilestoneRule) -> list[Candidate]:
    percent, days, text = int(p["percent"]), int(p["days"]), str(p["fact_text"])
    usage = Fact.objects.filter(recipient=OuterRef("pk"), kind=Fact.Kind.USAGE, value__regex=NUMERIC)
    if text:
        usage = usage.filter(text__icontains=text)
    latest = usage.filter(observed_at__lte=now).order_by("-observed_at")
    earlier = usage.filter(observed_at__lte=now - timedelta(days=days)).order_by("-observed_at")
    rows = (
        Recipient.objects.annotate(
            latest_value=Cast(Subquery(latest.values("value")[:1]), FloatField()),
            latest_at=Subquery(latest.values("observed_at")[:1]),
            earlier_value=Cast(Subquery(earlier.values("value")[:1]), FloatField()),
        )
        .filter(earlier_value__gt=0, latest_value__lte=F("earlier_value") * (1 - percent / 100))
        .values_list("pk", "latest_value", "earlier_value", "latest_at")
    )
    return [
        Candidate(
            pk,
            f"usage_drop:{at.date().isoformat()}",
            f"usage fell from {before:g} to {after:g} ({(before - after) / before:.0%}) over {days} days",
            {"from": before, "to": after, "observed": at.date().isoformat()},
        )
        for pk, after, before, at in rows
    ]


def recipient_stage_sync(*, now: datetime) -> int:
    """Remember each recipient's lifecycle stage and owner; a difference since the last scan is a
    change. Recipients seen for the first time only get a baseline (no change is assumed). An owner
    is remembered as its user id, 0 for "no owner", so being given one is a change too."""
    seen = RecipientStage.objects.filter(recipient_id=OuterRef("pk"))
    new = Recipient.objects.filter(~Q(Exists(seen))).values_list("pk", "lifecycle_stage", "owner_id")
    RecipientStage.objects.bulk_create(
        [RecipientStage(recipient_id=pk, stage=stage, owner_id_seen=owner or 0) for pk, stage, owner in new],
        ignore_conflicts=True,
        batch_size=1000,
    )
    current = Recipient.objects.filter(pk=OuterRef("recipient_id")).values("lifecycle_stage")[:1]
    owner = (
        Recipient.objects.filter(pk=OuterRef("recipient_id"))
        .annotate(seen=Coalesce("owner_id", Value(0), output_field=BigIntegerField()))
        .values("seen")[:1]
    )
    owner_now = Coalesce(F("recipient__owner_id"), Value(0), output_field=BigIntegerField())
    # Rows from before owners were remembered: a baseline, not a change.
    RecipientStage.objects.filter(owner_id_seen__isnull=True).update(owner_id_seen=Subquery(owner))
    RecipientStage.objects.annotate(owner_now=owner_now).exclude(owner_id_seen=F("owner_now")).update(
        owner_id_seen=Subquery(owner), owner_changed_at=now
    )
    return RecipientStage.objects.exclude(stage=F("recipient__lifecycle_stage")).update(
        previous_stage=F("stage"), stage=Subquery(current), changed_at=now
    )


def _stage_changed(p: dict, now: datetime, rule: MilestoneRule) -> list[Candidate]:
    stage = str(p["stage"])
    rows = (
        RecipientStage.objects.filter(stage=stage, changed_at__isnull=False)
        .exclude(previous_stage=stage)
        .values_list("recipient_id", "previous_stage", "changed_at")
    )
    return [
        Candidate(
            pk,
            f"stage:{stage}:{changed:%Y%m%dT%H%M%S}",
            f"lifecycle stage changed from {previous or '(none)'} to {stage}",
            {"from": previous, "to": stage, "seen_at": changed.isoformat()},
        )
        for pk, previous, changed in rows
        if changed is not None
    ]


def _numeric(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip().replace(",", "."))
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _risk_crossed(p: dict, now: datetime, rule: MilestoneRule) -> list[Candidate]:
    """A numeric contact or account property crossing the threshold the way the rule says. The side
    each recipient was last seen on is stored per rule (RuleSide), so the rule fires on the crossing,
    once per crossing, not on every scan while the value stays above. The rule's first scan only
    takes a baseline (making a rule does not enroll everyone already above); after that, a
    recipient whose value first appears on the far side counts as crossing."""
    prop, of, direction = str(p["property"]), str(p["of"]), str(p["direction"])
    threshold = float(p["threshold"])
    path = f"properties__{prop}" if of == "contact" else f"account__properties__{prop}"
    rows = Recipient.objects.filter(**{f"{path.rsplit('__', 1)[0]}__has_key": prop}).values_list("pk", path)
    fire_side = RuleSide.Side.ABOVE if direction == "above" else RuleSide.Side.BELOW
    seen = {s.recipient_id: s for s in RuleSide.objects.filter(rule=rule)}
    baseline = rule.last_run_at is None
    to_create: list[RuleSide] = []
    to_update: list[RuleSide] = []
    out: list[Candidate] = []
    whose = "their account's" if of == "account" else "their"
    for pk, raw in rows:
        value = _numeric(raw)
        if value is None:
            continue
        side = RuleSide.Side.ABOVE if value >= threshold else RuleSide.Side.BELOW
        known = seen.get(pk)
        crossed = side == fire_side and not baseline and (known is None or known.side != side)
        if known is None:
            known = RuleSide(rule=rule, recipient_id=pk, side=side, value=value, changed_at=now)
            to_create.append(known)
        elif known.side != side or known.value != value:
            if known.side != side:
                known.changed_at = now
            known.side, known.value = side, value
            to_update.append(known)
        if crossed:
            known.crossings += 1
            words = "rose to" if direction == "above" else "fell to"
            out.append(
                Candidate(
                    pk,
                    f"crossed:{prop}:{direction}:{known.crossings}",
                    f"{whose} {prop} {words} {value:g} ({'at or above' if direction == 'above' else 'below'} {threshold:g})",
                    {"property": prop, "of": of, "value": value, "threshold": threshold, "direction": direction},
                )
            )
    RuleSide.objects.bulk_create(to_create, batch_size=1000, ignore_conflicts=True)
    RuleSide.objects.bulk_update(to_update, ["side", "value", "crossings", "changed_at"], batch_size=1000)
    return out


def _csm_handoff(p: dict, now: datetime, rule: MilestoneRule) -> list[Candidate]:
    """Lifecycle stage reached `stage` and the owner is a CSM: the owner sends the handoff. Fires
    when the later of the two (the stage change, the new owner) happened after the rule was made,
    once per stage and owner."""
    stage = str(p["stage"])
    rows = (
        RecipientStage.objects.filter(stage=stage, recipient__lifecycle_stage=stage, recipient__owner__groups__name=CSM)
        .filter(Q(changed_at__gte=rule.created_at) | Q(owner_changed_at__gte=rule.created_at))
        .values_list("recipient_id", "recipient__owner_id", "recipient__owner__username")
        .distinct()
    )
    return [
        Candidate(
            pk,
            f"handoff:{stage}:{owner_id}",
            f"lifecycle stage reached {stage} and their owner {username} is a CSM: {username} sends the handoff",
            {"stage": stage, "owner_id": owner_id, "sender_id": owner_id},
        )
        for pk, owner_id, username in rows
    ]


FINDERS = {
    Kind.RENEWAL_WITHIN: _renewal_within,
    Kind.ONBOARDING_MISSED: _onboarding_missed,
    Kind.USAGE_DROP: _usage_drop,
    Kind.STAGE_CHANGED: _stage_changed,
    Kind.RISK_CROSSED: _risk_crossed,
    Kind.CSM_HANDOFF: _csm_handoff,
}


def milestone_rule_candidates(*, rule: MilestoneRule, now: datetime | None = None) -> list[Candidate]:
    now = now or timezone.now()
    params = {**RULE_PARAMETERS[rule.kind], **rule.parameters}
    return FINDERS[MilestoneRule.Kind(rule.kind)](params, now, rule)


def milestone_rule_run(*, rule: MilestoneRule, now: datetime | None = None, user=None) -> int:
    """Enroll this rule's new occurrences. Returns how many enrollments were created."""
    now = now or timezone.now()
    with transaction.atomic():
        candidates = milestone_rule_candidates(rule=rule, now=now)
        return _enroll_candidates(rule=rule, candidates=candidates, now=now, user=user)


def _enroll_candidates(*, rule: MilestoneRule, candidates: list[Candidate], now: datetime, user) -> int:
    campaign = rule.campaign
    done = set(
        Enrollment.objects.filter(
            campaign=campaign, occurrence_key__in={c.occurrence_key for c in candidates}
        ).values_list("recipient_id", "occurrence_key")
    )
    fresh = {c.recipient_id: c for c in candidates if (c.recipient_id, c.occurrence_key) not in done}
    recipients = list(Recipient.objects.filter(pk__in=list(fresh)).select_related("owner"))
    created = _enroll_many(
        campaign=campaign,
        recipients=recipients,
        kind=Enrollment.Kind.TRIGGERED,
        occurrence=lambda r: fresh[r.pk].occurrence_key,
        source=lambda r: {
            "rule_id": rule.pk,
            "rule": rule.kind,
            "why": fresh[r.pk].why,
            **fresh[r.pk].details,
        },
        user=user,
        now=now,
        sender=lambda r: r.owner if fresh[r.pk].details.get("sender_id") == r.owner_id else None,
    )
    MilestoneRule.objects.filter(pk=rule.pk).update(last_run_at=now, last_matched=len(candidates))
    return len(created)


def milestone_scan(*, now: datetime | None = None, campaign: Campaign | None = None, user=None) -> dict[str, int]:
    """Run every active rule of every active campaign (or of one campaign). Returns {rule id: enrolled}."""
    now = now or timezone.now()
    rules = MilestoneRule.objects.filter(active=True, campaign__status=Campaign.Status.ACTIVE).select_related(
        "campaign"
    )
    if campaign is not None:
        rules = rules.filter(campaign=campaign)
    # Always keep the stage snapshot current, so a stage rule added later sees changes from now on.
    recipient_stage_sync(now=now)
    results: dict[str, int] = {}
    for rule in rules:
        try:
            results[str(rule.pk)] = milestone_rule_run(rule=rule, now=now, user=user)
        except ApplicationError as exc:
            log.warning("milestone rule %s skipped: %s", rule.pk, exc.message)
            results[str(rule.pk)] = 0
    return results
