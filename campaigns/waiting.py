"""Why is nothing happening? Every live enrollment's wait, in words, for the campaign page, the
enrollment page and the recipient page. Reads only, in a fixed number of queries for any number of
enrollments (the open drafts and outbox rows of their recipients are loaded once)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.mail.models import OutboundMessage
from outreach.mail.send_window import send_window_next_open
from review.models import Draft

from .models import Campaign, Enrollment

State = Enrollment.State
SCAN_MINUTES = 5  # campaigns: advance due steps, in outreach/schedules.py


@dataclass(frozen=True)
class Waiting:
    """One enrollment's situation: `kind` groups them for the summary; `text` says it to a person."""

    kind: str
    text: str
    summary: str = ""  # the phrase the campaign summary counts, when it differs from `text`


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}"


def _local(moment: datetime, tz_name: str) -> str:
    local = moment.astimezone(_zone(tz_name))
    return f"{_day(local)} {local:%H:%M}"


def _first(recipient) -> str:
    return recipient.first_name or recipient.full_name or recipient.email


def _draft_phrase(draft: Draft) -> str:
    who = draft.reviewer or draft.sender
    if draft.state in (Draft.State.QUEUED, Draft.State.DRAFTING):
        return "being written"
    if draft.state == Draft.State.FAILED:
        return f"drafting failed; {who} can retry it in the review queue"
    return f"in review with {who}"


def _message_phrase(message: OutboundMessage, now: datetime) -> tuple[str, str]:
    """(kind, words) for an approved email in the outbox."""
    recipient = message.recipient
    if message.state == OutboundMessage.State.SENDING:
        return "sending", "being sent now"
    if message.code == OutboundMessage.Code.DAILY_LIMIT and message.not_before and message.not_before > now:
        sender_tz = getattr(getattr(message.sender, "sender", None), "time_zone", "UTC")
        resumes = "tomorrow" if message.not_before.date() > now.date() else "later today"
        return "daily_limit", (
            f"{message.sender}'s daily limit reached; resumes {resumes} ({_local(message.not_before, sender_tz)})"
        )
    try:
        opens = send_window_next_open(window=message.send_window, time_zone=recipient.time_zone, now=now)
    except ApplicationError:
        opens = None
    if opens is not None:
        return "send_window", (
            f"held until {_local(opens, recipient.time_zone)} in {_first(recipient)}'s time zone (send window)"
        )
    if message.not_before and message.not_before > now:
        return "scheduled", f"approved; goes out {_local(message.not_before, recipient.time_zone)}"
    return "sending", "approved; goes out within a minute"


def _elsewhere(draft: Draft | None, message: OutboundMessage | None, now: datetime) -> str:
    if draft is not None:
        where = f"'{draft.origin.name}'" if draft.origin is not None else "a one-off email"
        return f"{where} ({_draft_phrase(draft)})"
    assert message is not None
    return f"an approved email ({_message_phrase(message, now)[1]})"


def enrollment_waiting(
    enrollment: Enrollment,
    *,
    drafts: Sequence[Draft],
    messages: Sequence[OutboundMessage],
    now: datetime,
) -> Waiting | None:
    """The reason for one enrollment, given its recipient's open drafts and outbox rows."""
    recipient = enrollment.recipient
    first = _first(recipient)
    campaign = enrollment.campaign
    if enrollment.state == State.SUPPRESSED:
        reason = enrollment.state_reason or "on a suppression list"
        return Waiting("suppressed", f"suppressed: {reason} (since {_day(enrollment.updated_at)})", "suppressed")
    if not enrollment.is_live:
        return None
    if campaign is not None and campaign.status == Campaign.Status.PAUSED:
        return Waiting("paused", "waiting: the campaign is paused")
    own_draft = next((d for d in drafts if d.enrollment_ref == enrollment.pk), None)
    own_message = next((m for m in messages if m.enrollment_ref == enrollment.pk), None)
    step = f"step {enrollment.current_step}"
    if enrollment.state == State.WAITING_REVIEW:
        if own_draft is None:
            return Waiting("in_review", f"{step}: waiting for a decision in review")
        phrase = _draft_phrase(own_draft)
        kind = "being_written" if phrase == "being written" else "in_review"
        return Waiting(kind, f"{step} {phrase}", "being written" if kind == "being_written" else "in review")
    if enrollment.state == State.WAITING_SEND:
        if own_message is None:
            return Waiting("sending", f"{step} approved; waiting for the send result")
        kind, phrase = _message_phrase(own_message, now)
        summaries = {
            "send_window": "approved, "
            + phrase.replace(" (send window)", "").replace("held", "held by the send window"),
            "daily_limit": "approved, held by the sender's daily limit",
        }
        return Waiting(kind, f"{step} {phrase}", summaries.get(kind, "approved, " + phrase.removeprefix("approved; ")))
    # active or waiting for its delay
    if enrollment.next_due_at and enrollment.next_due_at > now:
        if enrollment.state_reason.startswith("out of office until"):
            # Held by an out-of-office note (campaign option), in the words stored when it came.
            return Waiting("out_of_office", enrollment.state_reason, "held: out of office")
        return Waiting("due_later", f"next step due {_day(enrollment.next_due_at)}", "due later")
    other_draft = next((d for d in drafts if d.enrollment_ref != enrollment.pk), None)
    other_message = next((m for m in messages if m.enrollment_ref != enrollment.pk), None)
    if other_draft is not None or other_message is not None:
        return Waiting(
            "open_elsewhere",
            f"waiting: {first} has an open email in {_elsewhere(other_draft, other_message, now)}; "
            "one email at a time per person",
            "wait for an open email to the same person (one at a time)",
        )
    return Waiting("due_now", f"{step} due now; drafted within {SCAN_MINUTES} minutes", "due now")


def enrollments_waiting(*, enrollments: Iterable[Enrollment], now: datetime | None = None) -> dict[int, Waiting]:
    """Reasons for many enrollments in two queries (their recipients' open drafts and outbox rows).
    Enrollments should come with recipient, sender and campaign selected."""
    now = now or timezone.now()
    enrollments = list(enrollments)
    recipient_ids = {e.recipient_id for e in enrollments if e.is_live}
    drafts: dict[int, list[Draft]] = defaultdict(list)
    messages: dict[int, list[OutboundMessage]] = defaultdict(list)
    if recipient_ids:
        for draft in (
            Draft.objects.filter(recipient_id__in=recipient_ids, state__in=Draft.OPEN_STATES)
            .select_related("origin", "sender", "reviewer")
            .order_by("created_at", "pk")
        ):
            drafts[draft.recipient_id].append(draft)
        for message in (
            OutboundMessage.objects.filter(
                recipient_id__in=recipient_ids,
                state__in=[OutboundMessage.State.QUEUED, OutboundMessage.State.SENDING],
            )
            .select_related("recipient", "sender__sender")
            .order_by("created_at", "pk")
        ):
            messages[message.recipient_id].append(message)
    reasons = {}
    for e in enrollments:
        why = enrollment_waiting(e, drafts=drafts[e.recipient_id], messages=messages[e.recipient_id], now=now)
        if why is not None:
            reasons[e.pk] = why
    return reasons


SUMMARY_ORDER = (
    "open_elsewhere",
    "send_window",
    "daily_limit",
    "paused",
    "being_written",
    "in_review",
    "scheduled",
    "sending",
    "due_now",
    "due_later",
    "suppressed",
)


def campaign_waiting_summary(*, campaign: Campaign, reasons: dict[int, Waiting]) -> str:
    """One line that answers "why is nothing happening?" for the whole campaign."""
    if campaign.status == Campaign.Status.DRAFT:
        return "Not launched yet: nothing is drafted or sent until someone launches it."
    if campaign.status == Campaign.Status.ARCHIVED:
        return "Archived: nothing more is drafted or sent."
    if campaign.status == Campaign.Status.PAUSED:
        return "Paused: nothing is drafted or sent until someone resumes it."
    by_kind = Counter(w.kind for w in reasons.values())
    example = {w.kind: w for w in reasons.values()}
    parts = []
    for kind in SUMMARY_ORDER:
        n = by_kind.get(kind)
        if not n:
            continue
        w = example[kind]
        parts.append(f"{n} {w.summary or w.text}")
    if not parts:
        return "Nobody is waiting: every enrollment has finished."
    return "Right now: " + "; ".join(parts) + "."
