"""Reads for campaign pages, the scan and the API: who is targeted, who is due, how a campaign is doing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Collate
from django.utils import timezone

from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.people.models import Fact, Recipient
from outreach.people.selectors import recipients_visible_to
from review.models import Draft, DraftSkip
from review.selectors import DraftingProgress, drafting_progress_of

from .display import skip_code_words
from .models import Campaign, Enrollment, EnrollmentEvent, ExitConditionCheck, LabelAutomation, SequenceStep

# Filter keys a saved target group may hold, and their labels (the form and the page share them).
TARGET_FILTER_KEYS = (
    "plan",
    "account_state",
    "title_contains",
    "label",
    "property_key",
    "property_value",
    "fact_kind",
    "fact_max_age_days",
    "country",
)


def campaigns_visible_to(user) -> QuerySet[Campaign]:
    """The one rule for campaigns (and their steps and rules): CSMs and admins see every campaign;
    a rep sees the campaigns they send in."""
    qs = Campaign.objects.select_related("created_by", "named_sender")
    if user.has_perm("campaigns.change_campaign"):
        return qs
    sends_in = (
        Q(named_sender=user)
        | Q(round_robin_senders=user)
        | Q(created_by=user)
        | Q(Exists(Enrollment.objects.filter(campaign=OuterRef("pk"), sender=user)))
        | Q(Exists(Draft.objects.filter(origin__campaign_ref=OuterRef("pk"), sender=user)))
    )
    return qs.filter(sends_in).distinct()


def recipients_matching(*, target_filter: dict, now: datetime | None = None) -> QuerySet[Recipient]:
    """The saved filter as one queryset. Empty values are ignored; an empty filter matches everyone."""
    f = {k: v for k, v in (target_filter or {}).items() if v not in (None, "", [])}
    qs = Recipient.objects.all()
    if f.get("plan"):
        qs = qs.filter(account__plan__iexact=f["plan"])
    if f.get("account_state"):
        qs = qs.filter(account__state=f["account_state"])
    if f.get("title_contains"):
        qs = qs.filter(title__icontains=f["title_contains"])
    if f.get("label"):
        qs = qs.filter(labels__name=f["label"])
    if f.get("country"):
        qs = qs.filter(country=str(f["country"]).upper())
    if f.get("property_key"):
        key = str(f["property_key"])
        if f.get("property_older_than_days") not in (None, ""):
            # Dates are stored as ISO 8601 text (YYYY-MM-DD…), which sorts like time in the C
            # collation: "before the cutoff day" or never set.
            cutoff = ((now or timezone.now()) - timedelta(days=int(f["property_older_than_days"]))).date()
            value = Collate(KeyTextTransform(key, "properties"), "C")
            qs = qs.alias(_property=value).filter(Q(_property__isnull=True) | Q(_property__lt=cutoff.isoformat()))
        elif f.get("property_value") not in (None, ""):
            qs = qs.filter(**{f"properties__{key}": f["property_value"]})
        else:
            qs = qs.filter(properties__has_key=key)
    if f.get("fact_kind"):
        facts = Fact.objects.filter(recipient=OuterRef("pk"), kind=f["fact_kind"])
        if f.get("fact_max_age_days") not in (None, ""):
            since = (now or timezone.now()) - timedelta(days=int(f["fact_max_age_days"]))
            facts = facts.filter(observed_at__gte=since)
        qs = qs.filter(Exists(facts))
    return qs.distinct() if f.get("label") else qs


def campaign_target_recipients(*, campaign: Campaign, now: datetime | None = None) -> QuerySet[Recipient]:
    if campaign.target_mode == Campaign.TargetMode.STATIC:
        return Recipient.objects.filter(pk__in=campaign.static_recipients.values("pk"))
    return recipients_matching(target_filter=campaign.target_filter, now=now)


def enrollment_steps(*, enrollment: Enrollment) -> list[SequenceStep]:
    """The steps this enrollment follows: its own (ad hoc) or its campaign's sequence."""
    if enrollment.kind == Enrollment.Kind.AD_HOC:
        return list(SequenceStep.objects.filter(enrollment=enrollment).order_by("position"))
    if enrollment.campaign_id is None:
        return []
    return list(SequenceStep.objects.filter(campaign_id=enrollment.campaign_id, enrollment__isnull=True))


def enrollment_exit_checks_pending(*, enrollment: Enrollment) -> list[ExitConditionCheck]:
    """Replies still waiting to be judged against the campaign's exit condition (queued or being judged)."""
    pending = (ExitConditionCheck.State.QUEUED, ExitConditionCheck.State.RUNNING)
    return list(enrollment.exit_checks.filter(state__in=pending).select_related("event"))


def recipient_busy_q(recipient_ref) -> Q:
    """True when another email for this recipient is open: a draft in review or a send on its way."""
    open_draft = Draft.objects.filter(recipient=recipient_ref, state__in=Draft.OPEN_STATES)
    in_outbox = OutboundMessage.objects.filter(
        recipient=recipient_ref,
        state__in=[OutboundMessage.State.QUEUED, OutboundMessage.State.SENDING, OutboundMessage.State.HELD],
    )
    return Q(Exists(open_draft)) | Q(Exists(in_outbox))


def recipient_is_busy(*, recipient_id: int) -> bool:
    return Recipient.objects.filter(recipient_busy_q(OuterRef("pk")), pk=recipient_id).exists()


def due_enrollments(*, now: datetime, recipient_free: bool = True) -> QuerySet[Enrollment]:
    """Enrollments whose next step is due, in running campaigns (or ad hoc), whose recipient is free
    (or, with recipient_free=False, those that wait because another email is open)."""
    due = Enrollment.objects.filter(state__in=Enrollment.DUE_STATES, next_due_at__lte=now).filter(
        Q(campaign__isnull=True) | Q(campaign__status=Campaign.Status.ACTIVE)
    )
    busy = recipient_busy_q(OuterRef("recipient_id"))
    due = due.exclude(busy) if recipient_free else due.filter(busy)
    return due.order_by("next_due_at", "id")


SKIP_WORDS = {"suppressed": "suppressed", "no_sender": "no sender", "already_open": "already had an open draft"}


@dataclass(frozen=True)
class Funnel:
    """Distinct recipients at each stage. A person suppressed before any draft was written is counted
    under `suppressed`, never as enrolled; other skips (no sender, ...) are counted by reason."""

    enrolled: int
    drafted: int
    approved: int
    sent: int
    replied: int
    suppressed: int = 0
    skipped: tuple[tuple[str, int], ...] = ()

    def as_steps(self) -> list[tuple[str, int]]:
        return [
            ("Enrolled", self.enrolled),
            ("Drafted", self.drafted),
            ("Approved", self.approved),
            ("Sent", self.sent),
            ("Replied", self.replied),
        ]

    def not_enrolled(self) -> list[str]:
        """["4 suppressed", "1 skipped (no sender)"]: who matched but got no email, in words."""
        words = [f"{self.suppressed} suppressed"] if self.suppressed else []
        words += [f"{n} skipped ({SKIP_WORDS.get(code, code)})" for code, n in self.skipped]
        return words


def campaign_funnel(*, campaign: Campaign) -> Funnel:
    """Distinct recipients at each stage, in five queries."""
    drafted_q = Exists(Draft.objects.filter(enrollment_ref=OuterRef("pk")))
    enrollments = (
        Enrollment.objects.filter(campaign=campaign)
        .annotate(drafted=drafted_q)
        .aggregate(
            enrolled=Count("recipient", distinct=True, filter=~Q(state=Enrollment.State.SUPPRESSED) | Q(drafted=True)),
            suppressed=Count("recipient", distinct=True, filter=Q(state=Enrollment.State.SUPPRESSED, drafted=False)),
        )
    )
    drafts = Draft.objects.filter(origin__campaign_ref=campaign.pk).aggregate(
        drafted=Count("recipient", distinct=True),
        approved=Count("recipient", distinct=True, filter=Q(state=Draft.State.APPROVED)),
    )
    sent = OutboundMessage.objects.filter(campaign_ref=campaign.pk, state=OutboundMessage.State.SENT).aggregate(
        n=Count("recipient", distinct=True)
    )["n"]
    replied = EngagementEvent.objects.filter(
        kind=EngagementEvent.Kind.REPLIED, message__campaign_ref=campaign.pk
    ).aggregate(n=Count("message__recipient", distinct=True))["n"]
    # Suppression skips are already counted by the enrollments above.
    skipped = (
        DraftSkip.objects.filter(origin__campaign_ref=campaign.pk)
        .exclude(code="suppressed")
        .values("code")
        .annotate(n=Count("recipient", distinct=True))
        .order_by("code")
    )
    return Funnel(
        enrollments["enrolled"],
        drafts["drafted"],
        drafts["approved"],
        sent,
        replied,
        suppressed=enrollments["suppressed"],
        skipped=tuple((row["code"], row["n"]) for row in skipped),
    )


def campaign_drafting_progress(*, campaign: Campaign) -> DraftingProgress:
    """Campaign-wide counts of its drafts by state (whoever sees the campaign sees its progress)."""
    return drafting_progress_of(Draft.objects.filter(origin__campaign_ref=campaign.pk))


def campaign_enrollment_counts(*, campaign: Campaign) -> list[tuple[str, int]]:
    """[("Waiting for review", 4), ...]: enrollments per state, in words, in the states' order."""
    rows = Enrollment.objects.filter(campaign=campaign).values("state").annotate(n=Count("id"))
    counts = {row["state"]: row["n"] for row in rows}
    return [(label, counts[value]) for value, label in Enrollment.State.choices if value in counts]


ENDED_WITH_REASON = (
    Enrollment.State.SUPPRESSED,
    Enrollment.State.FAILED,
    Enrollment.State.CANCELLED,
    Enrollment.State.EXITED_REPLY,
    Enrollment.State.EXITED_CONDITION,
)


def enrollments_visible_to(user) -> QuerySet[Enrollment]:
    """The one rule for enrollments, in the browser and the API: those who may view enrollments
    (CSMs, admins) see all; a rep sees the sequences they send and those of the people they own."""
    qs = Enrollment.objects.select_related("campaign", "recipient", "sender")
    if user.has_perm("campaigns.view_enrollment"):
        return qs
    return qs.filter(Q(sender=user) | Q(recipient__in=recipients_visible_to(user).values("pk")))


def _visible_recipients(user) -> Q:
    """Rows about a recipient (skips, ended enrollments) follow `recipients_visible_to`."""
    return Q(recipient__in=recipients_visible_to(user).values("pk"))


def campaign_skips(*, campaign: Campaign, user, limit: int = 100) -> list[dict]:
    """Who did not get (or stopped getting) this campaign's emails, and why: skips and ended enrollments."""
    rows: list[dict] = []
    skips = DraftSkip.objects.filter(_visible_recipients(user), origin__campaign_ref=campaign.pk).select_related(
        "recipient"
    )
    for skip in skips[:limit]:
        rows.append(
            {
                "recipient": skip.recipient,
                "what": skip_code_words(skip.code),
                "reason": skip.reason,
                "at": skip.created_at,
            }
        )
    ended = (
        Enrollment.objects.filter(_visible_recipients(user), campaign=campaign, state__in=ENDED_WITH_REASON)
        .select_related("recipient")
        .order_by("-updated_at")[:limit]
    )
    for e in ended:
        rows.append(
            {"recipient": e.recipient, "what": e.get_state_display(), "reason": e.state_reason, "at": e.updated_at}
        )
    rows.sort(key=lambda r: r["at"], reverse=True)
    return rows[:limit]


def campaign_enrollments(*, campaign: Campaign, user) -> QuerySet[Enrollment]:
    return enrollments_visible_to(user).filter(campaign=campaign).order_by("-created_at")


TARGET_OCCURRENCE = "target-group"  # the occurrence key of an enrollment from the target group


@dataclass(frozen=True)
class TargetChanges:
    new: int  # match the target group now and were never enrolled from it
    gone: int  # still on their way through the sequence, but no longer match


def campaign_target_changes(*, campaign: Campaign, now: datetime | None = None) -> TargetChanges | None:
    """For an active manual campaign: who the target group gained and lost since they were enrolled,
    so nothing changes silently (two counting queries). None for other campaigns."""
    if campaign.trigger != Campaign.Trigger.MANUAL or campaign.status != Campaign.Status.ACTIVE:
        return None
    target = campaign_target_recipients(campaign=campaign, now=now)
    from_target = Enrollment.objects.filter(campaign=campaign, occurrence_key=TARGET_OCCURRENCE)
    new = target.exclude(pk__in=from_target.values("recipient_id")).count()
    gone = from_target.filter(state__in=Enrollment.LIVE_STATES).exclude(recipient_id__in=target.values("pk")).count()
    return TargetChanges(new=new, gone=gone)


SUMMARY_LIMIT = 500


def campaign_live_enrollments(*, campaign: Campaign, user) -> list[Enrollment]:
    """The live enrollments the summary line explains (the first 500: enough to say what holds them)."""
    qs = enrollments_visible_to(user).filter(campaign=campaign, state__in=Enrollment.LIVE_STATES)
    return list(qs.order_by("next_due_at", "pk")[:SUMMARY_LIMIT])


def recipient_enrollments(*, recipient: Recipient, user, limit: int = 20) -> list[Enrollment]:
    """This person's sequences that the user may see (`enrollments_visible_to`), newest first."""
    qs = enrollments_visible_to(user).filter(recipient=recipient)
    return list(qs.order_by("-created_at", "-pk")[:limit])


def enrollment_history(*, enrollment: Enrollment) -> QuerySet[EnrollmentEvent]:
    return EnrollmentEvent.objects.filter(enrollment=enrollment).select_related("actor")


def drafts_of_enrollments(*, enrollment_ids: list[int]) -> dict[int, list[Draft]]:
    """The drafts review holds for these enrollments (by the id handed down), oldest first: one query."""
    by_enrollment: dict[int, list[Draft]] = {pk: [] for pk in enrollment_ids}
    for draft in Draft.objects.filter(enrollment_ref__in=enrollment_ids).order_by("created_at", "pk"):
        by_enrollment[draft.enrollment_ref].append(draft)  # type: ignore[index]
    return by_enrollment


def campaign_automations(*, campaign: Campaign) -> list[LabelAutomation]:
    """The campaign's label automations, each with how many enrollments it made (`enrolled`)."""
    counts = dict(
        Enrollment.objects.filter(campaign=campaign, source__has_key="automation_id")
        .values_list("source__automation_id")
        .annotate(n=Count("pk"))
        .values_list("source__automation_id", "n")
    )
    rows = list(LabelAutomation.objects.filter(campaign=campaign).select_related("label", "sender", "created_by"))
    for row in rows:
        row.enrolled = counts.get(row.pk, 0)  # type: ignore[attr-defined]
    return rows
