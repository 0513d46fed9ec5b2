"""Reads about mail: messages, replies, one message's timeline, a campaign's rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from outreach.people.roles import is_admin, is_csm_or_admin

from .models import EngagementEvent, OutboundMessage


def messages_for_user(user) -> QuerySet[OutboundMessage]:
    """Admins see every message; everyone else the messages they send."""
    qs = OutboundMessage.objects.all()
    return qs if is_admin(user) else qs.filter(sender=user)


def outbound_messages_for_user(*, user):
    """Reps see the messages they send; CSMs and admins see all."""
    qs = OutboundMessage.objects.select_related("recipient", "sender")
    return qs if is_csm_or_admin(user) else qs.filter(sender=user)


def replies_for_user(*, user) -> QuerySet[EngagementEvent]:
    """Replies to the messages a person sent (admins: all replies), newest first."""
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
    """What happened to one email in the outbox, oldest first: queued (approved by whom), sent or
    not, then what came back. One query beyond the message itself. Review adds the draft's story."""
    entries: list[TimelineEntry] = []
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
    counts = OutboundMessage.objects.filter(campaign_ref=campaign_id).aggregate(**aggregates)
    sent = counts["sent"] or 0
    bars = [RateBar("sent", "Sent", sent, 1.0 if sent else 0.0)]
    for key, _, label in _RATE_KINDS:
        count = counts[key] or 0
        bars.append(RateBar(key, label, count, min(count / sent, 1.0) if sent else 0.0))
    return CampaignRates(campaign_id=campaign_id, sent=sent, bars=bars)
