"""Reads shared by views, the API and later steps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import EngagementEvent, ImportJob, OutboundMessage, Recipient, Suppression, SuppressionList
from .normalize import normalize_domain, normalize_email, parent_domains

# Recipients per query in the bulk check: keeps the IN lists under SQLite's variable limit.
BULK_CHUNK = 5000


@dataclass(frozen=True)
class SuppressionHit:
    """Why a recipient must not be contacted."""

    reason: str
    kind: str
    value: str
    list_name: str
    entry_id: int | None
    note: str = ""

    @property
    def reason_label(self) -> str:
        return Suppression.Reason(self.reason).label

    def describe(self) -> str:
        where = f" on list '{self.list_name}'" if self.list_name else ""
        return f"{self.reason_label} ({self.kind} {self.value}{where})"


def active_suppressions() -> QuerySet[Suppression]:
    now = timezone.now()
    return Suppression.objects.filter(removed_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def _lists_filter(list_ids: Iterable[int] | None) -> Q:
    """The global lists always apply; a campaign adds its own."""
    q = Q(suppression_list__is_global=True)
    if list_ids:
        q |= Q(suppression_list_id__in=list(list_ids))
    return q


def _consent_hit(recipient: Recipient) -> SuppressionHit | None:
    regulated = bool(recipient.country) and recipient.country.upper() in settings.CONSENT_REQUIRED_COUNTRIES
    if regulated and recipient.consent_recorded_at is None:
        return SuppressionHit(
            reason=Suppression.Reason.NO_CONSENT,
            kind="jurisdiction",
            value=recipient.country.upper(),
            list_name="",
            entry_id=None,
        )
    return None


# When several entries match, the most specific one explains the suppression best.
_KIND_PRIORITY = {Suppression.Kind.RECIPIENT: 0, Suppression.Kind.ADDRESS: 1, Suppression.Kind.DOMAIN: 2}


def suppression_check_bulk(
    *, recipients: Sequence[Recipient], list_ids: Iterable[int] | None = None
) -> dict[int, SuppressionHit]:
    """Which of these recipients are suppressed, and why: one indexed query per 5,000 recipients.

    Returns {recipient.pk: SuppressionHit} for the suppressed ones only.
    """
    hits: dict[int, SuppressionHit] = {}
    list_q = _lists_filter(list_ids)
    for start in range(0, len(recipients), BULK_CHUNK):
        chunk = recipients[start : start + BULK_CHUNK]
        emails = {normalize_email(r.email) for r in chunk}
        domains = {d for r in chunk for d in parent_domains(r.domain)}
        ids = {str(r.pk) for r in chunk}
        entries = (
            active_suppressions()
            .filter(list_q)
            .filter(
                Q(kind=Suppression.Kind.ADDRESS, value__in=emails)
                | Q(kind=Suppression.Kind.DOMAIN, value__in=domains)
                | Q(kind=Suppression.Kind.RECIPIENT, value__in=ids)
            )
            .values_list("id", "kind", "value", "reason", "note", "suppression_list__name")
        )
        by_key: dict[tuple[str, str], tuple] = {}
        for row in entries:
            by_key.setdefault((row[1], row[2]), row)
        for r in chunk:
            candidates = [
                by_key.get((Suppression.Kind.RECIPIENT, str(r.pk))),
                by_key.get((Suppression.Kind.ADDRESS, normalize_email(r.email))),
            ]
            candidates += [by_key.get((Suppression.Kind.DOMAIN, d)) for d in parent_domains(r.domain)]
            found = [c for c in candidates if c is not None]
            if found:
                entry_id, kind, value, reason, note, list_name = min(found, key=lambda c: _KIND_PRIORITY[c[1]])
                hits[r.pk] = SuppressionHit(reason, kind, value, list_name, entry_id, note)
                continue
            consent = _consent_hit(r)
            if consent:
                hits[r.pk] = consent
    return hits


def suppression_check(*, recipient: Recipient, list_ids: Iterable[int] | None = None) -> SuppressionHit | None:
    """Is this recipient suppressed, and why? None means free to contact."""
    return suppression_check_bulk(recipients=[recipient], list_ids=list_ids).get(recipient.pk)


def suppression_search(
    *, query: str = "", list_id: int | None = None, include_removed: bool = False
) -> QuerySet[Suppression]:
    qs = Suppression.objects.select_related("suppression_list", "added_by", "removed_by")
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True)
    if list_id:
        qs = qs.filter(suppression_list_id=list_id)
    if query:
        q = query.strip().lower()
        qs = qs.filter(Q(value__icontains=q) | Q(note__icontains=q) | Q(source__icontains=q))
    return qs


def suppression_lists() -> QuerySet[SuppressionList]:
    return SuppressionList.objects.all()


def normalize_suppression_value(kind: str, value: str) -> str:
    if kind == Suppression.Kind.ADDRESS:
        return normalize_email(value)
    if kind == Suppression.Kind.DOMAIN:
        return normalize_domain(value)
    return str(value).strip()


def import_jobs_for_user(user) -> QuerySet[ImportJob]:
    """CSV imports a user may see: admins see every import, others their own."""
    from .roles import is_admin

    qs = ImportJob.objects.select_related("created_by")
    return qs if is_admin(user) else qs.filter(created_by=user)


# --- Engagement: messages, replies, timelines, campaign rates ---------------------------------


def messages_for_user(user) -> QuerySet[OutboundMessage]:
    """Admins see every message; everyone else the messages they send."""
    from .roles import is_admin

    qs = OutboundMessage.objects.all()
    return qs if is_admin(user) else qs.filter(sender=user)


def replies_for_user(*, user) -> QuerySet[EngagementEvent]:
    """Replies to the messages a person sent (admins: all replies), newest first."""
    from .roles import is_admin

    qs = EngagementEvent.objects.filter(kind=EngagementEvent.Kind.REPLIED).select_related(
        "message", "message__sender", "recipient"
    )
    if not is_admin(user):
        qs = qs.filter(message__sender=user)
    return qs.order_by("-occurred_at", "-pk")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    label: str
    who: str = ""
    detail: str = ""
    tone: str = ""  # "", "ok", "warn", "bad": how the page colours it


_EVENT_TONES = {
    EngagementEvent.Kind.DELIVERED: "ok",
    EngagementEvent.Kind.REPLIED: "ok",
    EngagementEvent.Kind.BOUNCED: "bad",
    EngagementEvent.Kind.COMPLAINED: "bad",
    EngagementEvent.Kind.UNSUBSCRIBED: "bad",
    EngagementEvent.Kind.REJECTED: "bad",
    EngagementEvent.Kind.SOFT_BOUNCED: "warn",
    EngagementEvent.Kind.DEFERRED: "warn",
}


def message_timeline(*, message: OutboundMessage) -> list[TimelineEntry]:
    """Everything that happened to one email, oldest first: drafted, decided (by whom), queued,
    sent or not, then what came back. Two queries beyond the message itself."""
    entries: list[TimelineEntry] = []
    draft = message.draft
    if draft.ready_at:
        entries.append(TimelineEntry(draft.ready_at, "Drafted", detail=draft.provider or ""))
    for decision in draft.decisions.select_related("user"):
        entries.append(
            TimelineEntry(
                decision.created_at,
                decision.get_action_display(),
                who=str(decision.user.get_full_name() or decision.user) if decision.user else "",
                detail=decision.note or decision.reason,
                tone="ok" if decision.action in ("approve", "edit_approve") else "",
            )
        )
    entries.append(
        TimelineEntry(
            message.created_at,
            "Queued",
            who=str(message.approved_by.get_full_name() or message.approved_by) if message.approved_by else "",
            detail="approved text queued in the outbox",
        )
    )
    State = OutboundMessage.State
    if message.sent_at:
        entries.append(TimelineEntry(message.sent_at, "Sent", detail=message.provider, tone="ok"))
    elif message.state in (State.FAILED, State.SKIPPED, State.UNKNOWN):
        detail = " · ".join(p for p in (message.get_code_display() if message.code else "", message.error_message) if p)
        entries.append(TimelineEntry(message.updated_at, message.get_state_display(), detail=detail, tone="bad"))
    for event in message.events.order_by("occurred_at", "pk"):
        payload = event.payload or {}
        if event.kind == EngagementEvent.Kind.REPLIED:
            detail = event.reply_text[:300]
        else:
            detail = payload.get("description") or payload.get("click_url") or payload.get("mta_response") or ""
        if event.email and event.email != message.to_email:
            detail = f"{event.email}: {detail}" if detail else event.email
        entries.append(
            TimelineEntry(
                event.occurred_at,
                event.get_kind_display(),
                who=event.provider,
                detail=detail,
                tone=_EVENT_TONES.get(event.kind, ""),  # type: ignore[call-overload]
            )
        )
    entries.sort(key=lambda e: e.at)
    return entries


@dataclass(frozen=True)
class RateBar:
    key: str
    label: str
    count: int
    rate: float  # 0..1 of sent

    @property
    def percent(self) -> float:
        return round(self.rate * 100, 1)

    @property
    def bar_width(self) -> float:
        """Length in the chart's 180-unit track."""
        return round(self.rate * 180, 1)


@dataclass(frozen=True)
class CampaignRates:
    campaign_id: int
    sent: int
    bars: list[RateBar]

    @property
    def chart_height(self) -> int:
        return len(self.bars) * 12

    def get(self, key: str) -> RateBar:
        return next(bar for bar in self.bars if bar.key == key)


_RATE_KINDS = (
    ("delivered", EngagementEvent.Kind.DELIVERED, "Delivered"),
    ("bounced", EngagementEvent.Kind.BOUNCED, "Bounced"),
    ("replied", EngagementEvent.Kind.REPLIED, "Replied"),
    ("unsubscribed", EngagementEvent.Kind.UNSUBSCRIBED, "Unsubscribed"),
)


def engagement_rates_for_campaign(*, campaign_id: int) -> CampaignRates:
    """Sent, delivered, bounced, replied and unsubscribed messages of a campaign and their share
    of those sent. Each message counts once per kind, however many events it had. One query."""
    aggregates = {
        "sent": Count("pk", filter=Q(state=OutboundMessage.State.SENT), distinct=True),
        **{key: Count("pk", filter=Q(events__kind=kind), distinct=True) for key, kind, _ in _RATE_KINDS},
    }
    counts = OutboundMessage.objects.filter(campaign_id=campaign_id).aggregate(**aggregates)
    sent = counts["sent"] or 0
    bars = [RateBar("sent", "Sent", sent, 1.0 if sent else 0.0)]
    for key, _, label in _RATE_KINDS:
        count = counts[key] or 0
        bars.append(RateBar(key, label, count, min(count / sent, 1.0) if sent else 0.0))
    return CampaignRates(campaign_id=campaign_id, sent=sent, bars=bars)


# --- API reads (contacts, messages, events) -----------------------------------------------------


def recipients_for_user(*, user) -> QuerySet[Recipient]:
    """Reps see the people they own; those who may change recipients (CSMs, admins) see everyone."""
    qs = Recipient.objects.select_related("account", "owner", "owner__sender")
    if user.has_perm("outreach.change_recipient"):
        return qs
    return qs.filter(owner=user)


def outbound_messages_for_user(*, user):
    """Reps see the messages they send; CSMs and admins see all."""
    from .models import OutboundMessage
    from .roles import is_csm_or_admin

    qs = OutboundMessage.objects.select_related("recipient", "sender")
    return qs if is_csm_or_admin(user) else qs.filter(sender=user)


def outbound_events_for_user(*, user):
    """Reps see events about people they own or emails they send; CSMs and admins see all."""
    from .models import OutboundEvent
    from .roles import is_csm_or_admin

    qs = OutboundEvent.objects.all()
    if is_csm_or_admin(user):
        return qs
    return qs.filter(Q(sender=user) | Q(recipient__owner=user))
