"""Every write of campaigns: the lifecycle of a campaign and the enrollment state machine here; the
milestone rules and their scan in `milestones.py`; sequences as the API shapes them in `sequences.py`.

An enrollment moves like this (every move is an EnrollmentEvent with who, when and why):

    active ──(step due, recipient free)──► waiting_review ──(draft approved)──► waiting_send
      ▲                                        │ rejected: cancelled           │ sent: next step due
      └──────── waiting_delay ◄────────────────┴───────────────────────────────┘ (or completed)

    any live state ──► exited_reply | exited_condition | suppressed | cancelled | failed

Sequences create drafts, never messages: every step goes through the review queue.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from campaigns import selectors
from campaigns.models import Campaign, CampaignEvent, Enrollment, EnrollmentEvent, ExitConditionCheck, SequenceStep
from outreach.core.errors import ApplicationError
from outreach.core.tasks import task_enqueue
from outreach.drafting import sanitize
from outreach.drafting.errors import DraftingError
from outreach.drafting.exit_condition import ExitDecision, evaluate_exit_condition
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.mail.out_of_office import ooo_return_date
from outreach.mail.services.outbox import SendRules, outbound_messages_add_suppression_lists
from outreach.people.models import Recipient
from outreach.suppression.models import Suppression
from outreach.suppression.selectors import suppression_check, suppression_check_bulk
from review import services as review_services
from review.briefs import Brief, Origin, SourceMessage
from review.models import Draft, DraftSkip
from review.providers import configured_provider

log = logging.getLogger(__name__)
State = Enrollment.State

# --- fixed templates -------------------------------------------------------------------------

VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TEMPLATE_VARIABLES = (
    "first_name",
    "last_name",
    "full_name",
    "title",
    "company",
    "sender_name",
    "sender_first_name",
)


def template_unknown_variables(text: str) -> list[str]:
    return sorted({name for name in VARIABLE_RE.findall(text) if name not in TEMPLATE_VARIABLES})


def template_variables(*, recipient: Recipient, sender) -> dict[str, str]:
    profile = getattr(sender, "sender", None) if sender is not None else None
    sender_name = profile.display_name if profile else (sender.get_full_name() if sender else "")
    return {
        "first_name": recipient.first_name or "there",
        "last_name": recipient.last_name,
        "full_name": recipient.full_name or recipient.email,
        "title": recipient.title,
        "company": recipient.account.name if recipient.account_id and recipient.account else "",
        "sender_name": sender_name,
        "sender_first_name": sender_name.split(" ")[0] if sender_name else "",
    }


def template_render(text: str, variables: dict[str, str]) -> str:
    """Substitute {{ name }} with plain values. No template engine runs: the text cannot execute
    anything and values are inserted as text (the HTML body escapes them)."""
    return VARIABLE_RE.sub(lambda m: variables.get(m.group(1), ""), text)


def step_render(*, step: SequenceStep, recipient: Recipient, sender) -> tuple[str, str, str]:
    """(subject, body_text, body_html) of a fixed step for one recipient, with the sender's signature."""
    variables = template_variables(recipient=recipient, sender=sender)
    subject = sanitize.clean_subject(template_render(step.subject, variables))
    body = sanitize.clean_body_text(template_render(step.body, variables)).strip()
    profile = getattr(sender, "sender", None)
    signature = (profile.signature or profile.display_name).strip() if profile else ""
    if signature and not body.endswith(signature):
        body = f"{body}\n\n{signature}"
    return subject, body, sanitize.text_to_html(body)


# --- what campaigns hands down to review with a draft request ------------------------------------


def campaign_brief(campaign: Campaign) -> Brief:
    """The campaign's intent, as the drafting engine and the reviewer see it."""
    return Brief(
        campaign=campaign.name,
        goal=campaign.goal,
        key_message=campaign.key_message,
        call_to_action=campaign.call_to_action,
        why_now=campaign.trigger_description,
        audience=campaign.target_description,
        persona_tone=campaign.persona_tone,
        persona_role=campaign.persona_role,
    )


def campaign_send_rules(campaign: Campaign | None) -> SendRules:
    if campaign is None:
        return SendRules()
    return SendRules(
        send_window=dict(campaign.send_window or {}),
        suppression_list_ids=sorted(campaign.suppression_lists.values_list("pk", flat=True)),
        open_tracking=campaign.open_tracking,
        complete_on_send_failure=campaign.complete_on_send_failure,
        set_properties=dict(campaign.set_properties or {}),
    )


def _source_message(source: dict | None) -> SourceMessage | None:
    """The email or event an enrollment started from (the API's `source`), when it has text."""
    if not isinstance(source, dict):
        return None
    text = source.get("body_text") or source.get("text") or source.get("body") or ""
    if not (text or source.get("subject")):
        return None
    return SourceMessage(
        direction="outbound" if source.get("direction") == "outbound" else "inbound",
        subject=str(source.get("subject") or ""),
        body_text=str(text),
        sent_at=str(source.get("sent_at") or source.get("occurred_at") or ""),
    )


def _thread_subject(enrollment: Enrollment) -> str:
    """The subject of the thread a follow-up continues: the first email this enrollment sent (the
    outbox threads a follow-up under it; only a real follow-up may say "Re:")."""
    if not enrollment.pk:
        return ""
    first = (
        OutboundMessage.objects.filter(enrollment_ref=enrollment.pk)
        .order_by("created_at", "pk")
        .values_list("subject", flat=True)
        .first()
    )
    return (first or "").strip()


def step_subject(*, enrollment: Enrollment, step: SequenceStep, sender) -> str:
    """A step's own subject (its {{ variables }} filled in), whether its body is fixed or a prompt;
    a follow-up without one continues the thread: "Re: <thread subject>". Empty for a first email
    without a subject (a prompt step's subject is then the drafting engine's)."""
    own = sanitize.clean_subject(
        template_render(step.subject or "", template_variables(recipient=enrollment.recipient, sender=sender))
    )
    if own.strip():
        return own.strip()
    thread = _thread_subject(enrollment)
    if not thread:
        return ""
    return sanitize.clean_subject(thread if thread.lower().startswith("re:") else f"Re: {thread}")


def step_brief(*, enrollment: Enrollment, step: SequenceStep, sender=None) -> Brief:
    base = campaign_brief(enrollment.campaign) if enrollment.campaign is not None else Brief()
    return replace(
        base,
        step_prompt=(step.prompt or "").strip(),
        step_subject=step_subject(enrollment=enrollment, step=step, sender=sender) if sender is not None else "",
        source_message=_source_message(enrollment.source),
    )


def step_origin(*, enrollment: Enrollment, step: SequenceStep | None) -> Origin:
    campaign = enrollment.campaign
    return Origin(
        campaign_ref=campaign.pk if campaign else None,
        campaign_name=campaign.name if campaign else "",
        enrollment_ref=enrollment.pk,
        step_ref=step.pk if step else None,
    )


def step_copies(*, campaign: Campaign | None, step: SequenceStep | None, recipient: Recipient) -> dict[str, list[str]]:
    """The CC and BCC of one email: the campaign's, then the step's own, each address once (CC wins
    over BCC) and never the recipient's own address. Suppressed ones are dropped at send time."""
    cc: list[str] = []
    bcc: list[str] = []
    for source in (campaign, step):
        if source is None:
            continue
        cc += [a for a in source.cc or [] if a not in cc]
        bcc += [a for a in source.bcc or [] if a not in bcc]
    own = recipient.email.lower()
    cc = [a for a in cc if a.lower() != own]
    return {"cc": cc, "bcc": [a for a in bcc if a not in cc and a.lower() != own]}


def campaign_draft_request(*, campaign: Campaign, recipient: Recipient, sender, reviewer=None) -> Draft | None:
    """A draft for one recipient in this campaign, outside any sequence (the review demo, one-off
    requests): the campaign's intent and rules handed down like a step's."""
    return review_services.draft_request(
        recipient=recipient,
        sender=sender,
        reviewer=reviewer,
        origin=Origin(campaign_ref=campaign.pk, campaign_name=campaign.name),
        brief=campaign_brief(campaign),
        rules=campaign_send_rules(campaign),
        **step_copies(campaign=campaign, step=None, recipient=recipient),
    )


# --- history ---------------------------------------------------------------------------------


def _record(
    enrollment: Enrollment, *, kind: str, from_state: str = "", reason: str = "", data: dict | None = None, actor=None
) -> EnrollmentEvent:
    return EnrollmentEvent.objects.create(
        enrollment=enrollment,
        kind=kind,
        from_state=from_state,
        to_state=enrollment.state,
        reason=reason,
        data=data or {},
        actor=actor,
    )


def record_event(enrollment: Enrollment, *, kind: str, reason: str = "", data: dict | None = None, actor=None):
    """A line in the enrollment's history that does not change its state."""
    return _record(enrollment, kind=kind, from_state=enrollment.state, reason=reason, data=data, actor=actor)


def _transition(
    enrollment: Enrollment,
    *,
    to: str,
    kind: str,
    reason: str = "",
    data: dict | None = None,
    actor=None,
    fields: tuple[str, ...] = (),
) -> None:
    from_state = enrollment.state
    enrollment.state = to
    enrollment.state_reason = reason
    if to not in Enrollment.LIVE_STATES:
        enrollment.next_due_at = None
        fields = (*fields, "next_due_at")
    enrollment.save(update_fields=["state", "state_reason", "updated_at", *fields])
    _record(enrollment, kind=kind, from_state=from_state, reason=reason, data=data, actor=actor)


def _end(enrollment: Enrollment, *, to: str, kind: str, reason: str, data: dict | None = None, actor=None) -> None:
    """End the sequence; review supersedes its open drafts, so none of them can be approved."""
    _transition(enrollment, to=to, kind=kind, reason=reason, data=data, actor=actor)
    superseded = review_services.drafts_supersede(enrollment_ref=enrollment.pk, reason=f"sequence ended: {reason}")
    if superseded:
        _record(enrollment, kind="drafts_superseded", from_state=enrollment.state, data={"count": superseded})


def _lock(enrollment_id: int) -> Enrollment | None:
    return (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("campaign", "recipient")
        .filter(pk=enrollment_id)
        .first()
    )


# --- campaigns -------------------------------------------------------------------------------

M2M_FIELDS = ("round_robin_senders", "suppression_lists", "static_recipients")


@transaction.atomic
def campaign_create(*, created_by, **fields: Any) -> Campaign:
    m2m = {k: fields.pop(k) for k in M2M_FIELDS if k in fields}
    campaign = Campaign(created_by=created_by, **fields)
    campaign.full_clean()
    campaign.save()
    for name, values in m2m.items():
        getattr(campaign, name).set(values)
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, **fields: Any) -> Campaign:
    if campaign.status == Campaign.Status.ARCHIVED:
        raise ApplicationError("An archived campaign cannot be changed.")
    m2m = {k: fields.pop(k) for k in M2M_FIELDS if k in fields}
    for name, value in fields.items():
        setattr(campaign, name, value)
    campaign.full_clean()
    campaign.save()
    for name, values in m2m.items():
        getattr(campaign, name).set(values)
    # Open drafts follow the campaign: a regeneration writes from its current intent, an approval
    # sends under its current rules. Approved emails keep the rules they were approved with, except
    # that a suppression list the campaign now respects is checked for them too (only stricter).
    rules = campaign_send_rules(campaign)
    review_services.drafts_rebrief(
        origin=Origin(campaign_ref=campaign.pk, campaign_name=campaign.name),
        brief=campaign_brief(campaign),
        rules=rules,
    )
    if rules.suppression_list_ids:
        outbound_messages_add_suppression_lists(campaign_ref=campaign.pk, list_ids=rules.suppression_list_ids)
    return campaign


def _campaign_steps(campaign: Campaign) -> list[SequenceStep]:
    return list(SequenceStep.objects.filter(campaign=campaign, enrollment__isnull=True).order_by("position"))


STEP_FIELDS = ("delay_days", "subject", "body", "prompt")


@transaction.atomic
def step_add(*, campaign: Campaign, **fields: Any) -> SequenceStep:
    """Append a step to the campaign's sequence (positions stay 1..n)."""
    steps = SequenceStep.objects.select_for_update().filter(campaign=campaign, enrollment__isnull=True)
    last = max((step.position for step in steps), default=0)
    step = SequenceStep(campaign=campaign, position=last + 1, **{k: v for k, v in fields.items() if k in STEP_FIELDS})
    step.full_clean(exclude=["enrollment"])
    step.save()
    return step


@transaction.atomic
def step_update(*, step: SequenceStep, **fields: Any) -> SequenceStep:
    for name, value in fields.items():
        if name in STEP_FIELDS:
            setattr(step, name, value)
    step.full_clean(exclude=["enrollment"])
    step.save()
    return step


def _steps_only_before_launch(campaign: Campaign | None, what: str) -> None:
    if campaign is None or campaign.status != Campaign.Status.DRAFT:
        raise ApplicationError(f"Steps can be {what} only before launch: live enrollments point at positions.")


def _renumber(steps: list[SequenceStep]) -> None:
    for position, step in enumerate(steps, 1):
        if step.position != position:
            step.position = position
            step.save(update_fields=["position"])


@transaction.atomic
def step_delete(*, step: SequenceStep) -> None:
    """Delete a step of a campaign not yet launched; the others keep positions 1..n."""
    campaign = step.campaign
    _steps_only_before_launch(campaign, "deleted")
    step.delete()
    _renumber(list(SequenceStep.objects.select_for_update().filter(campaign=campaign, enrollment__isnull=True)))


@transaction.atomic
def step_move(*, step: SequenceStep, up: bool) -> None:
    """Swap a step with its neighbour (before launch)."""
    campaign = step.campaign
    _steps_only_before_launch(campaign, "reordered")
    steps = list(SequenceStep.objects.select_for_update().filter(campaign=campaign, enrollment__isnull=True))
    index = next((i for i, s in enumerate(steps) if s.pk == step.pk), None)
    if index is None:
        return
    other = index + (-1 if up else 1)
    if 0 <= other < len(steps):
        steps[index], steps[other] = steps[other], steps[index]
        _renumber(steps)


@dataclass
class EnrollResult:
    """What enrolling a target group did, counted honestly: a suppressed person is not "enrolled"."""

    matched: int = 0
    enrolled: int = 0
    suppressed: int = 0
    already: int = 0
    drafted: int = 0
    waiting: int = 0

    def describe(self) -> str:
        """ "6 matched: 2 enrolled, 4 skipped (suppressed)" and what happens next, in words."""
        parts = [f"{self.enrolled} enrolled"]
        if self.suppressed:
            parts.append(f"{self.suppressed} skipped (suppressed)")
        if self.already:
            parts.append(f"{self.already} already enrolled")
        text = f"{self.matched} matched: {', '.join(parts)}."
        if self.drafted:
            text += f" {self.drafted} first draft{'s are' if self.drafted != 1 else ' is'} being written now."
        if self.waiting:
            text += (
                f" {self.waiting} wait{'s' if self.waiting == 1 else ''} for another email to the same person"
                " to finish first."
            )
        return text


def _campaign_event(campaign: Campaign, *, kind: str, user, summary: str = "") -> CampaignEvent:
    return CampaignEvent.objects.create(
        campaign=campaign, kind=kind, actor=user if getattr(user, "pk", None) else None, summary=summary
    )


@transaction.atomic
def campaign_launch(*, campaign: Campaign, user, now: datetime | None = None) -> EnrollResult:
    """Start the campaign: a manual campaign enrolls its target group now and requests every first
    draft that is due at once (no scan needed); a milestone campaign waits for its rules."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.Status.DRAFT:
        raise ApplicationError(f"Only a draft campaign can be launched; this one is {campaign.get_status_display()}.")
    if not _campaign_steps(campaign):
        raise ApplicationError("Add at least one sequence step before launching.")
    if (
        campaign.trigger == Campaign.Trigger.MILESTONE
        and not campaign.rules.filter(active=True).exists()
        and not campaign.automations.filter(active=True).exists()
    ):
        raise ApplicationError(
            "A milestone campaign needs an active milestone rule or label automation before launching."
        )
    if campaign.trigger == Campaign.Trigger.MANUAL and not _has_target(campaign):
        raise ApplicationError("Set a target group first: an empty filter would enroll every recipient.")
    campaign.status = Campaign.Status.ACTIVE
    campaign.save(update_fields=["status", "updated_at"])
    result = EnrollResult()
    if campaign.trigger == Campaign.Trigger.MANUAL:
        result = _enroll_target(campaign=campaign, user=user, now=now)
    _campaign_event(campaign, kind=CampaignEvent.Kind.LAUNCHED, user=user, summary=result.describe())
    return result


def _has_target(campaign: Campaign) -> bool:
    if campaign.target_mode == Campaign.TargetMode.STATIC:
        return campaign.static_recipients.exists()
    return any(v not in (None, "", []) for v in (campaign.target_filter or {}).values())


@transaction.atomic
def campaign_pause(*, campaign: Campaign, user) -> Campaign:
    if campaign.status != Campaign.Status.ACTIVE:
        raise ApplicationError("Only an active campaign can be paused.")
    campaign.status = Campaign.Status.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    _campaign_event(campaign, kind=CampaignEvent.Kind.PAUSED, user=user)
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, user, now: datetime | None = None) -> EnrollResult:
    """Run again; a manual campaign also enrolls anyone who joined its target group meanwhile."""
    if campaign.status != Campaign.Status.PAUSED:
        raise ApplicationError("Only a paused campaign can be resumed.")
    campaign.status = Campaign.Status.ACTIVE
    campaign.save(update_fields=["status", "updated_at"])
    result = EnrollResult()
    if campaign.trigger == Campaign.Trigger.MANUAL:
        result = _enroll_target(campaign=campaign, user=user, now=now)
    _campaign_event(campaign, kind=CampaignEvent.Kind.RESUMED, user=user, summary=result.describe())
    return result


@transaction.atomic
def campaign_archive(*, campaign: Campaign, user) -> int:
    """Stop for good: live enrollments are cancelled and their open drafts superseded."""
    if campaign.status == Campaign.Status.ARCHIVED:
        raise ApplicationError("This campaign is already archived.")
    campaign.status = Campaign.Status.ARCHIVED
    campaign.save(update_fields=["status", "updated_at"])
    live = Enrollment.objects.select_for_update().filter(campaign=campaign, state__in=Enrollment.LIVE_STATES)
    count = 0
    for enrollment in live:
        _end(enrollment, to=State.CANCELLED, kind="cancelled", reason=f"campaign archived by {user}", actor=user)
        count += 1
    _campaign_event(
        campaign,
        kind=CampaignEvent.Kind.ARCHIVED,
        user=user,
        summary=f"{count} live enrollment{'s' if count != 1 else ''} cancelled.",
    )
    return count


TARGET_OCCURRENCE = selectors.TARGET_OCCURRENCE


@transaction.atomic
def campaign_enroll_target(*, campaign: Campaign, user, now: datetime | None = None) -> EnrollResult:
    """Enroll whoever in the target group of an active campaign is not enrolled yet (after the
    target group changed, say), and request their first drafts at once. Recorded with who did it."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.Status.ACTIVE:
        raise ApplicationError("Only an active campaign enrolls people; launch or resume it first.")
    result = _enroll_target(campaign=campaign, user=user, now=now)
    _campaign_event(campaign, kind=CampaignEvent.Kind.ENROLLED, user=user, summary=result.describe())
    return result


@transaction.atomic
def campaign_stop_unmatched(*, campaign: Campaign, user) -> int:
    """Stop the sequences of people who no longer match the target group (their open drafts are
    superseded); each is recorded with who stopped it. Returns how many were stopped."""
    target = selectors.campaign_target_recipients(campaign=campaign)
    gone = (
        Enrollment.objects.select_for_update(of=("self",))
        .filter(campaign=campaign, occurrence_key=TARGET_OCCURRENCE, state__in=Enrollment.LIVE_STATES)
        .exclude(recipient_id__in=target.values("pk"))
    )
    count = 0
    for enrollment in gone:
        _end(
            enrollment,
            to=State.CANCELLED,
            kind="cancelled",
            reason=f"no longer in the target group; stopped by {user}",
            actor=user,
        )
        count += 1
    return count


def _enroll_target(*, campaign: Campaign, user, now: datetime | None = None) -> EnrollResult:
    """Enroll the target group by template, once per recipient (re-running adds only newcomers),
    then draft every first step that is already due."""
    now = now or timezone.now()
    matching = list(selectors.campaign_target_recipients(campaign=campaign, now=now))
    already = set(
        Enrollment.objects.filter(
            campaign=campaign, occurrence_key=TARGET_OCCURRENCE, recipient__in=matching
        ).values_list("recipient_id", flat=True)
    )
    recipients = [r for r in matching if r.pk not in already]
    created = _enroll_many(
        campaign=campaign,
        recipients=recipients,
        kind=Enrollment.Kind.TEMPLATE,
        occurrence=lambda r: TARGET_OCCURRENCE,
        source=lambda r: {"why": "in the campaign's target group at launch"},
        user=user,
        now=now,
    )
    result = EnrollResult(matched=len(matching), already=len(already) + len(recipients) - len(created))
    advance = AdvanceResult()
    # Drafted together: a large launch goes to a Message Batch (review's threshold).
    with review_services.drafts_gathered():
        for enrollment in created:
            if enrollment.state == State.SUPPRESSED:
                result.suppressed += 1
                continue
            result.enrolled += 1
            if campaign.entry_prompt.strip():
                continue  # the scan judges the entry prompt first (a model call, outside this transaction)
            if enrollment.next_due_at is not None and enrollment.next_due_at <= now:
                _advance_one(enrollment_id=enrollment.pk, now=now, result=advance)
    result.drafted, result.waiting = advance.drafted, advance.busy
    # Suppressed at drafting time (a list the campaign adds, say): skipped, not enrolled.
    result.enrolled -= advance.suppressed
    result.suppressed += advance.suppressed
    return result


# --- enrollments -----------------------------------------------------------------------------


def _first_due(steps: list[SequenceStep], now: datetime) -> tuple[int, datetime]:
    first = steps[0]
    return first.position, now + timedelta(days=first.delay_days)


def _enroll_many(*, campaign, recipients, kind, occurrence, source, user, now, sender=None) -> list[Enrollment]:
    """Create enrollments, one savepoint each so a duplicate occurrence (another scan got there
    first) is skipped, not fatal. Suppressed recipients are enrolled as `suppressed`, with the reason."""
    if not recipients:
        return []
    steps = _campaign_steps(campaign)
    if not steps:
        raise ApplicationError("This campaign has no sequence steps.")
    position, due = _first_due(steps, now)
    list_ids = list(campaign.suppression_lists.values_list("pk", flat=True))
    hits = suppression_check_bulk(recipients=recipients, list_ids=list_ids)
    live = set(
        Enrollment.objects.filter(
            campaign=campaign, recipient__in=recipients, state__in=Enrollment.LIVE_STATES
        ).values_list("recipient_id", flat=True)
    )
    created: list[Enrollment] = []
    for recipient in recipients:
        if recipient.pk in live:
            continue  # already on its way through this campaign; a later scan picks the occurrence up
        hit = hits.get(recipient.pk)
        enrollment = Enrollment(
            campaign=campaign,
            recipient=recipient,
            kind=kind,
            state=State.SUPPRESSED if hit else State.ACTIVE,
            state_reason=hit.describe() if hit else "",
            current_step=position,
            next_due_at=None if hit else due,
            exit_on_reply=campaign.exit_on_reply,
            source=source(recipient),
            occurrence_key=occurrence(recipient),
            enrolled_by=user,
            # A rule may name who sends (the CSM handoff: the contact's owner).
            sender=sender(recipient) if sender is not None else None,
        )
        try:
            with transaction.atomic():
                enrollment.save()
                _record(enrollment, kind="enrolled", reason=enrollment.source.get("why", ""), actor=user)
        except IntegrityError:
            continue
        created.append(enrollment)
    return created


@transaction.atomic
def enrollment_create(
    *,
    recipient: Recipient,
    campaign: Campaign | None = None,
    kind: str = Enrollment.Kind.TEMPLATE,
    steps: list[dict] | None = None,
    sender=None,
    user=None,
    source: dict | None = None,
    occurrence_key: str = "",
    now: datetime | None = None,
) -> Enrollment:
    """Enroll one recipient: by the campaign's sequence (template), with steps given for this one
    recipient (ad hoc: `steps=[{"delay_days", "subject", "body", "prompt"}]`), or triggered by a
    rule (source event and occurrence_key recorded; once per occurrence)."""
    now = now or timezone.now()
    if kind == Enrollment.Kind.AD_HOC:
        if not steps:
            raise ApplicationError("Ad-hoc enrollment needs at least one step.")
        if campaign is None and sender is None:
            raise ApplicationError("Ad-hoc enrollment without a campaign needs a sender.")
    elif campaign is None:
        raise ApplicationError("Enroll into a campaign, or give ad-hoc steps.")
    elif not _campaign_steps(campaign):
        raise ApplicationError("This campaign has no sequence steps.")
    if campaign is not None and campaign.status == Campaign.Status.ARCHIVED:
        raise ApplicationError("This campaign is archived.")
    if (
        campaign is not None
        and Enrollment.objects.filter(campaign=campaign, recipient=recipient, state__in=Enrollment.LIVE_STATES).exists()
    ):
        raise ApplicationError(f"{recipient.email} is already enrolled in this campaign.")
    if (
        occurrence_key
        and Enrollment.objects.filter(campaign=campaign, recipient=recipient, occurrence_key=occurrence_key).exists()
    ):
        raise ApplicationError(f"{recipient.email} was already enrolled for {occurrence_key}.")
    list_ids = list(campaign.suppression_lists.values_list("pk", flat=True)) if campaign else []
    hit = suppression_check(recipient=recipient, list_ids=list_ids)
    enrollment = Enrollment(
        campaign=campaign,
        recipient=recipient,
        kind=kind,
        state=State.SUPPRESSED if hit else State.ACTIVE,
        state_reason=hit.describe() if hit else "",
        exit_on_reply=campaign.exit_on_reply if campaign else True,
        source=source or {},
        occurrence_key=occurrence_key,
        sender=sender,
        enrolled_by=user,
    )
    try:
        with transaction.atomic():
            enrollment.save()
    except IntegrityError:
        raise ApplicationError(f"{recipient.email} was already enrolled for {occurrence_key}.") from None
    if kind == Enrollment.Kind.AD_HOC:
        for position, spec in enumerate(steps or [], start=1):
            step = SequenceStep(
                enrollment=enrollment,
                position=position,
                delay_days=int(spec.get("delay_days", 0)),
                subject=spec.get("subject", ""),
                body=spec.get("body", ""),
                prompt=spec.get("prompt", ""),
                cc=list(spec.get("cc") or []),
                bcc=list(spec.get("bcc") or []),
            )
            step.full_clean(exclude=["campaign", "enrollment"])
            step.save()
    if not hit:
        enrollment.current_step, enrollment.next_due_at = _first_due(
            selectors.enrollment_steps(enrollment=enrollment), now
        )
        enrollment.save(update_fields=["current_step", "next_due_at"])
    _record(enrollment, kind="enrolled", reason=(source or {}).get("why", "") or enrollment.state_reason, actor=user)
    return enrollment


@transaction.atomic
def enrollment_cancel(*, enrollment: Enrollment, user, reason: str = "") -> Enrollment:
    locked = _lock(enrollment.pk)
    if locked is None or not locked.is_live:
        raise ApplicationError("This enrollment has already ended.")
    _end(locked, to=State.CANCELLED, kind="cancelled", reason=reason.strip() or f"cancelled by {user}", actor=user)
    return locked


def _pick_sender(enrollment: Enrollment):
    """Who sends: kept once chosen, so every step of a sequence comes from the same person."""
    if enrollment.sender_id:
        return enrollment.sender
    campaign = enrollment.campaign
    mode = campaign.sender_mode if campaign else Campaign.SenderMode.OWNER
    if mode == Campaign.SenderMode.NAMED:
        return campaign.named_sender if campaign else None
    if mode == Campaign.SenderMode.ROUND_ROBIN and campaign is not None:
        # Fair and stable: whoever has been given the fewest recipients of this campaign, ties by id.
        return (
            campaign.round_robin_senders.annotate(
                assigned=Count("campaign_enrollments", filter=Q(campaign_enrollments__campaign=campaign))
            )
            .order_by("assigned", "pk")
            .first()
        )
    return enrollment.recipient.owner


@dataclass
class AdvanceResult:
    drafted: int = 0
    suppressed: int = 0
    completed: int = 0
    busy: int = 0
    failed: int = 0
    held: int = 0  # held back by the campaign's entry prompt (not now, or never)
    draft_ids: list[int] = field(default_factory=list)


def enrollment_advance_due(*, now: datetime | None = None, limit: int = 500) -> AdvanceResult:
    """The periodic scan: request the draft of every step that is due. Safe to run twice and
    concurrently: each enrollment is claimed with FOR UPDATE SKIP LOCKED and re-checked."""
    now = now or timezone.now()
    result = AdvanceResult()
    ids = list(selectors.due_enrollments(now=now).values_list("pk", flat=True)[:limit])
    from campaigns.services.entry import enrollment_entry_gate  # the entry prompt (needs this module)

    # Drafted together: many due at once go to a Message Batch (review's threshold).
    with review_services.drafts_gathered():
        for enrollment_id in ids:
            # A campaign's entry prompt is judged before the first draft: not now and never stop here.
            if not enrollment_entry_gate(enrollment_id=enrollment_id, now=now):
                result.held += 1
                continue
            _advance_one(enrollment_id=enrollment_id, now=now, result=result)
    result.busy += selectors.due_enrollments(now=now, recipient_free=False).count()
    return result


@transaction.atomic
def _advance_one(*, enrollment_id: int, now: datetime, result: AdvanceResult) -> None:
    # Skip rows another scan is working on; it will finish them.
    enrollment = (
        Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("campaign", "recipient", "recipient__account", "sender")
        .filter(pk=enrollment_id, state__in=Enrollment.DUE_STATES, next_due_at__lte=now)
        .first()
    )
    if enrollment is None:
        return
    if enrollment.campaign is not None and enrollment.campaign.status != Campaign.Status.ACTIVE:
        return
    # Lock the recipient: two campaigns' scans must not both find them free (one email at a time).
    Recipient.objects.select_for_update().filter(pk=enrollment.recipient_id).first()
    if selectors.recipient_is_busy(recipient_id=enrollment.recipient_id):
        result.busy += 1
        return
    steps = selectors.enrollment_steps(enrollment=enrollment)
    step = next((s for s in steps if s.position == enrollment.current_step), None)
    if step is None:
        _transition(enrollment, to=State.COMPLETED, kind="completed", reason="no steps left")
        result.completed += 1
        return
    sender = _pick_sender(enrollment)
    if sender is None:
        review_services.draft_skip_record(
            recipient=enrollment.recipient,
            origin=step_origin(enrollment=enrollment, step=step),
            code="no_sender",
            reason="no sender: the recipient has no relationship owner and the campaign names nobody",
        )
        _transition(enrollment, to=State.FAILED, kind="failed", reason="no sender for this recipient")
        result.failed += 1
        return
    try:
        draft = review_services.draft_request(
            recipient=enrollment.recipient,
            sender=sender,
            origin=step_origin(enrollment=enrollment, step=step),
            brief=step_brief(enrollment=enrollment, step=step, sender=sender),
            rules=campaign_send_rules(enrollment.campaign),
            **step_copies(campaign=enrollment.campaign, step=step, recipient=enrollment.recipient),
        )
    except ApplicationError as exc:
        result.busy += 1
        log.info("enrollment %s not drafted yet: %s", enrollment.pk, exc.message)
        return
    if draft is None:
        skip = DraftSkip.objects.filter(enrollment_ref=enrollment.pk).order_by("-created_at", "-id").first()
        _transition(
            enrollment,
            to=State.SUPPRESSED,
            kind="suppressed",
            reason=skip.reason if skip else "suppressed",
            fields=("sender",),
        )
        result.suppressed += 1
        return
    _fill_draft(draft=draft, step=step, enrollment=enrollment, sender=sender)
    enrollment.sender = sender
    _transition(
        enrollment,
        to=State.WAITING_REVIEW,
        kind="draft_requested",
        reason=f"step {step.position} drafted for review",
        data={"draft_id": draft.pk, "step": step.position, "sender_id": sender.pk, "sender": str(sender)},
        fields=("sender",),
    )
    result.drafted += 1
    result.draft_ids.append(draft.pk)


def _fill_draft(*, draft: Draft, step: SequenceStep, enrollment: Enrollment, sender) -> None:
    """A fixed step's text is the campaign's, rendered: review makes the draft ready with it (it is
    still reviewed like any). A prompt step stays queued and the drafting task writes it from the
    brief handed down with it."""
    if step.prompt.strip() and not step.body.strip():
        return
    _subject, body_text, body_html = step_render(step=step, recipient=enrollment.recipient, sender=sender)
    review_services.draft_ready_from_text(
        draft=draft,
        subject=step_subject(enrollment=enrollment, step=step, sender=sender),
        body_text=body_text,
        body_html=body_html,
        provider="template",
        model_name=f"campaign-step-{step.pk}",
    )


def _move_on(enrollment: Enrollment, *, base: datetime, kind: str, reason: str, data: dict) -> None:
    steps = selectors.enrollment_steps(enrollment=enrollment)
    following = next((s for s in steps if s.position > enrollment.current_step), None)
    if following is None:
        _transition(enrollment, to=State.COMPLETED, kind=kind, reason=f"{reason}; that was the last step", data=data)
        return
    enrollment.current_step = following.position
    enrollment.next_due_at = base + timedelta(days=following.delay_days)
    _transition(
        enrollment,
        to=State.WAITING_DELAY,
        kind=kind,
        reason=f"{reason}; step {following.position} due {enrollment.next_due_at:%Y-%m-%d %H:%M}",
        data={**data, "next_step": following.position, "next_due_at": enrollment.next_due_at.isoformat()},
        fields=("current_step", "next_due_at"),
    )


# --- reactions to the lower apps' signals ----------------------------------------------------


def _is_current_step(enrollment: Enrollment, step_ref: int | None) -> bool:
    """Is this (draft's or message's) step the one the enrollment waits on? Unknown steps count."""
    if step_ref is None:
        return True
    position = SequenceStep.objects.filter(pk=step_ref).values_list("position", flat=True).first()
    return position is None or position == enrollment.current_step


@transaction.atomic
def enrollment_on_draft_decided(*, draft: Draft, decision) -> None:
    """Approved: wait for the send. Rejected: the sequence is cancelled for this recipient, because
    the reviewer decided this person should not get this email, and later steps follow up on it.
    Regenerate and skip leave the draft open, so nothing changes."""
    if not draft.enrollment_ref:
        return
    enrollment = _lock(draft.enrollment_ref)
    action = getattr(decision, "action", "")
    user = getattr(decision, "user", None)
    data = {"draft_id": draft.pk, "decision": action}
    if action == "undo_approve" and enrollment is not None and enrollment.state == State.WAITING_SEND:
        if _is_current_step(enrollment, draft.step_ref):
            _transition(
                enrollment,
                to=State.WAITING_REVIEW,
                kind="approval_undone",
                reason=f"undone by {user}",
                data=data,
                actor=user,
            )
        return
    if enrollment is None or enrollment.state != State.WAITING_REVIEW:
        return
    if not _is_current_step(enrollment, draft.step_ref):
        return  # a decision on an older step's draft
    if action in ("approve", "edit_approve"):
        _transition(
            enrollment, to=State.WAITING_SEND, kind="approved", reason=f"approved by {user}", data=data, actor=user
        )
    elif action == "reject":
        why = " ".join(p for p in (getattr(decision, "reason", ""), getattr(decision, "note", "")) if p)
        _end(
            enrollment,
            to=State.CANCELLED,
            kind="draft_rejected",
            reason=f"step {enrollment.current_step} draft rejected by {user}" + (f": {why}" if why else ""),
            data=data,
            actor=user,
        )


@transaction.atomic
def enrollment_on_message_finished(*, message: OutboundMessage) -> None:
    """Sent: the next step is due `delay_days` after the send (or the sequence is complete).
    Failed: continue when the campaign says `complete_on_send_failure`, else hold as failed for a
    person to look at. Skipped because suppressed: the enrollment ends as suppressed."""
    if not message.enrollment_ref:
        return
    enrollment = _lock(message.enrollment_ref)
    if enrollment is None or enrollment.state not in (State.WAITING_SEND, State.WAITING_REVIEW):
        return
    if not _is_current_step(enrollment, message.step_ref):
        return  # an older step's message; this one was already handled
    data = {"message_id": message.pk, "state": message.state, "code": message.code}
    S = OutboundMessage.State
    if message.state == S.SENT:
        _move_on(
            enrollment,
            base=message.sent_at or timezone.now(),
            kind="sent",
            reason=f"step {enrollment.current_step} sent",
            data=data,
        )
    elif message.state == S.SKIPPED and message.code in (
        OutboundMessage.Code.SUPPRESSED,
        OutboundMessage.Code.OPTED_OUT,
    ):
        _end(
            enrollment, to=State.SUPPRESSED, kind="suppressed", reason=message.error_message or message.code, data=data
        )
    else:
        what = f"send {message.state}" + (f" ({message.code})" if message.code else "")
        what += f": {message.error_message}" if message.error_message else ""
        # The rule the email was approved under, copied onto the message at approval.
        if message.state != S.UNKNOWN and message.complete_on_send_failure:
            _move_on(
                enrollment,
                base=timezone.now(),
                kind="send_failed_continue",
                reason=f"step {enrollment.current_step} {what}; continuing",
                data=data,
            )
        else:
            _end(enrollment, to=State.FAILED, kind="send_failed", reason=f"{what}; needs attention", data=data)


SUPPRESSING_EVENTS: dict[str, str] = {
    EngagementEvent.Kind.BOUNCED: "hard bounce",
    EngagementEvent.Kind.COMPLAINED: "spam complaint",
    EngagementEvent.Kind.UNSUBSCRIBED: "unsubscribed",
}


def _event_recipient_id(event: EngagementEvent) -> int | None:
    if event.recipient_id:
        return event.recipient_id
    if event.message_id:
        return OutboundMessage.objects.filter(pk=event.message_id).values_list("recipient_id", flat=True).first()
    return None


@transaction.atomic
def enrollment_on_engagement(*, event: EngagementEvent) -> list[int]:
    """A reply ends (exit_on_reply) or queues the exit-condition check; a bounce, complaint or
    unsubscribe ends every live enrollment of the recipient as suppressed. Returns the ids of
    enrollments whose exit condition must be evaluated (the caller enqueues that)."""
    recipient_id = _event_recipient_id(event)
    if recipient_id is None:
        return []
    to_evaluate: list[int] = []
    live = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("campaign", "recipient")
        .filter(recipient_id=recipient_id, state__in=Enrollment.LIVE_STATES)
    )
    data = {"engagement_event_id": event.pk, "kind": event.kind}
    for enrollment in live:
        if event.kind == EngagementEvent.Kind.REPLIED:
            # The exit condition is judged on every reply, whatever exit_on_reply says: its reason
            # goes into the history even when the reply alone already ended the enrollment.
            if enrollment.campaign is not None and enrollment.campaign.exit_condition_prompt.strip():
                # The row is the truth: the sweep finds it if its task is lost.
                ExitConditionCheck.objects.get_or_create(enrollment=enrollment, event=event)
                to_evaluate.append(enrollment.pk)
            if enrollment.exit_on_reply:
                _end(enrollment, to=State.EXITED_REPLY, kind="exited_reply", reason="the recipient replied", data=data)
        elif event.kind in SUPPRESSING_EVENTS:
            _end(enrollment, to=State.SUPPRESSED, kind="suppressed", reason=SUPPRESSING_EVENTS[event.kind], data=data)
        elif event.kind == EngagementEvent.Kind.AUTO_REPLIED:
            _hold_for_out_of_office(enrollment, event=event, data=data)
    return to_evaluate


OUT_OF_OFFICE_PREFIX = "out of office"


def _hold_for_out_of_office(enrollment: Enrollment, *, event: EngagementEvent, data: dict) -> None:
    """A campaign that asks for it holds the next step until the return date an out-of-office note
    gives (start of that day in the recipient's time zone); without a date, nothing changes."""
    campaign = enrollment.campaign
    if campaign is None or not campaign.pause_on_out_of_office or enrollment.state not in Enrollment.DUE_STATES:
        return
    zone = _recipient_zone(enrollment)
    today = timezone.now().astimezone(zone).date()
    back = ooo_return_date(f"{event.payload.get('subject', '')}\n{event.reply_text}", today=today)
    if back is None or back <= today:
        return
    until = datetime.combine(back, time(0, 0), tzinfo=zone)
    if enrollment.next_due_at is not None and enrollment.next_due_at >= until:
        return
    enrollment.next_due_at = until
    enrollment.state_reason = f"{OUT_OF_OFFICE_PREFIX} until {back:%a} {back.day} {back:%b}: next step held until then"
    enrollment.save(update_fields=["next_due_at", "state_reason"])
    _record(
        enrollment,
        kind="paused_out_of_office",
        from_state=enrollment.state,
        reason=enrollment.state_reason,
        data={**data, "back_on": back.isoformat(), "next_due_at": until.isoformat()},
    )


def _recipient_zone(enrollment: Enrollment) -> ZoneInfo:
    try:
        return ZoneInfo(enrollment.recipient.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@transaction.atomic
def enrollment_on_suppression(*, entry: Suppression) -> int:
    """A new suppression entry ends the live enrollments it covers (a campaign list only covers the
    campaigns that respect it)."""
    value = entry.value
    if entry.kind == Suppression.Kind.ADDRESS:
        match = Q(recipient__email=value)
    elif entry.kind == Suppression.Kind.DOMAIN:
        match = Q(recipient__email__iendswith=f"@{value}") | Q(recipient__email__iendswith=f".{value}")
    elif str(value).isdigit():
        match = Q(recipient_id=int(value))
    else:
        return 0
    live = Enrollment.objects.filter(match, state__in=Enrollment.LIVE_STATES)
    if not entry.suppression_list.is_global:
        live = live.filter(campaign__suppression_lists=entry.suppression_list)
    reason = f"{entry.get_reason_display()} ({entry.kind} {value} on list '{entry.suppression_list.name}')"
    count = 0
    for enrollment in live.select_for_update(of=("self",)):
        _end(enrollment, to=State.SUPPRESSED, kind="suppressed", reason=reason, data={"suppression_id": entry.pk})
        count += 1
    return count


EXIT_CHECK_TASK = "campaigns.tasks.enrollment_evaluate_exit_condition_task"


def exit_condition_checks_enqueue(*, enrollment_ids: list[int], event_id: int) -> None:
    """Nudge a worker to judge each check (call on commit). With the broker down this is logged
    and skipped; `exit_condition_checks_sweep` nudges again from the rows."""
    for enrollment_id in enrollment_ids:
        task_enqueue(
            EXIT_CHECK_TASK,
            enrollment_id,
            event_id,
            task_name=f"exit-condition-{enrollment_id}-{event_id}",
            group="campaigns",
        )


def exit_condition_checks_sweep(*, now: datetime | None = None, queued_seconds: int = 120) -> int:
    """Re-enqueue exit-condition checks whose task was lost: queued and untouched for
    `queued_seconds`, or claimed by a worker that died (running longer than a task may run: back to
    queued). Each is touched first, so the next sweep waits again. Returns how many."""
    from django.conf import settings

    now = now or timezone.now()
    Check = ExitConditionCheck
    with transaction.atomic():
        Check.objects.filter(
            state=Check.State.RUNNING, updated_at__lt=now - timedelta(seconds=settings.Q_TASK_TIMEOUT + 60)
        ).update(state=Check.State.QUEUED, updated_at=now - timedelta(seconds=queued_seconds + 1))
        lost = list(
            Check.objects.select_for_update(skip_locked=True)
            .filter(state=Check.State.QUEUED, updated_at__lt=now - timedelta(seconds=queued_seconds))
            .values_list("pk", "enrollment_id", "event_id")[:1000]
        )
        Check.objects.filter(pk__in=[pk for pk, _, _ in lost]).update(updated_at=now)
    for _pk, enrollment_id, event_id in lost:
        exit_condition_checks_enqueue(enrollment_ids=[enrollment_id], event_id=event_id)
    return len(lost)


def _exit_check_claim(*, enrollment_id: int, event_id: int) -> bool:
    """Take a queued check (queued -> running). False when it is taken, judged, or gone; a task
    from before checks had rows (none exists for it) is judged as before."""
    Check = ExitConditionCheck
    checks = Check.objects.filter(enrollment_id=enrollment_id, event_id=event_id)
    if checks.filter(state=Check.State.QUEUED).update(state=Check.State.RUNNING, updated_at=timezone.now()):
        return True
    return not checks.exists()


def _exit_check_finish(*, enrollment_id: int, event_id: int, state: str) -> None:
    ExitConditionCheck.objects.filter(enrollment_id=enrollment_id, event_id=event_id).update(
        state=state, updated_at=timezone.now()
    )


def enrollment_evaluate_exit_condition(*, enrollment_id: int, event_id: int, provider=None) -> ExitDecision | None:
    """Ask the LLM (or the offline heuristic) whether a reply meets the campaign's exit condition;
    store the decision and its reason in the enrollment's history; exit when it says so. Judged
    once: a second task for the same check finds it taken and does nothing."""
    enrollment = Enrollment.objects.select_related("campaign").filter(pk=enrollment_id).first()
    event = EngagementEvent.objects.filter(pk=event_id).first()
    if enrollment is None or event is None or enrollment.campaign is None:
        return None
    if not _exit_check_claim(enrollment_id=enrollment_id, event_id=event_id):
        return None
    prompt = enrollment.campaign.exit_condition_prompt
    # The judge sees the reply's class with its text; the class goes into the history too.
    data: dict[str, Any] = {"engagement_event_id": event.pk, "reply_class": event.reply_class}
    try:
        # The network call happens outside any transaction: no row stays locked while we wait.
        decision = evaluate_exit_condition(
            prompt=prompt,
            reply_text=event.reply_text,
            reply_class=event.reply_class,
            provider=provider or configured_provider(),
        )
    except DraftingError as exc:
        with transaction.atomic():
            _exit_check_finish(enrollment_id=enrollment_id, event_id=event_id, state=ExitConditionCheck.State.FAILED)
            locked = _lock(enrollment_id)
            if locked is not None:
                _record(locked, kind="exit_condition_error", from_state=locked.state, reason=exc.reason, data=data)
        raise
    data.update({"exit": decision.exit, "provider": decision.provider, "model": decision.model, "prompt": prompt})
    with transaction.atomic():
        _exit_check_finish(enrollment_id=enrollment_id, event_id=event_id, state=ExitConditionCheck.State.DONE)
        locked = _lock(enrollment_id)
        if locked is None:
            return decision
        if not locked.is_live:
            # Already ended (the reply itself, exit_on_reply): the judgement is still recorded.
            _record(locked, kind="exit_condition", from_state=locked.state, reason=decision.reason, data=data)
            return decision
        if decision.exit:
            _end(locked, to=State.EXITED_CONDITION, kind="exit_condition", reason=decision.reason, data=data)
        else:
            _record(locked, kind="exit_condition", from_state=locked.state, reason=decision.reason, data=data)
    return decision
