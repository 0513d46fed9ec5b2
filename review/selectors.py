"""Reads for the review queue, shared by views (and the API)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from outreach.models import EngagementEvent, OutboundMessage
from outreach.roles import is_admin

from .models import Draft

QUEUE_PAGE_SIZE = 50


def _sees_all(user) -> bool:
    # Remembered on the user object: a page asks several times per request.
    cached = getattr(user, "_review_sees_all", None)
    if cached is None:
        cached = is_admin(user)
        user._review_sees_all = cached
    return cached


def drafts_visible_to(user) -> QuerySet[Draft]:
    """Reps see the drafts they send or are assigned to review; admins see every draft."""
    if _sees_all(user):
        return Draft.objects.all()
    return Draft.objects.filter(Q(sender=user) | Q(reviewer=user))


# The list shows ready drafts by default; failed ones can be listed to retry them.
LISTABLE_STATES = (Draft.State.READY, Draft.State.FAILED)


@dataclass(frozen=True)
class QueueFilters:
    campaign_id: int | None = None
    unsupported_only: bool = False
    state: str = Draft.State.READY

    @classmethod
    def from_params(cls, params) -> QueueFilters:
        raw = str(params.get("campaign") or "")
        state = params.get("state") or Draft.State.READY
        return cls(
            campaign_id=int(raw) if raw.isdigit() else None,
            unsupported_only=params.get("unsupported") in ("1", "on", "true"),
            state=state if state in LISTABLE_STATES else Draft.State.READY,
        )

    def as_query(self) -> str:
        parts = []
        if self.campaign_id:
            parts.append(f"campaign={self.campaign_id}")
        if self.unsupported_only:
            parts.append("unsupported=1")
        if self.state != Draft.State.READY:
            parts.append(f"state={self.state}")
        return "&".join(parts)

    def apply(self, qs: QuerySet[Draft]) -> QuerySet[Draft]:
        if self.campaign_id:
            qs = qs.filter(campaign_id=self.campaign_id)
        if self.unsupported_only:
            qs = qs.filter(unsupported_claim_count__gt=0)
        return qs


def draft_queue(*, user, filters: QueueFilters, exclude_ids: Iterable[int] = ()) -> QuerySet[Draft]:
    """Ready (or failed) drafts for this user, oldest first."""
    qs = filters.apply(drafts_visible_to(user).filter(state=filters.state))
    exclude = list(exclude_ids)
    if exclude:
        qs = qs.exclude(pk__in=exclude)
    return qs.order_by("ready_at", "id") if filters.state == Draft.State.READY else qs.order_by("updated_at", "id")


def _queue_ids(*, user, filters: QueueFilters, limit: int, exclude_ids: Iterable[int] = ()) -> list[int]:
    """Ids of the first `limit` drafts of the queue, in order, in one query that stays fast with
    thousands of drafts: "sent by me OR assigned to me" is two index range scans (state, sender,
    ready_at) and (state, reviewer, ready_at), each stopping at `limit`, merged by UNION ALL."""
    exclude = list(exclude_ids)
    order = ("ready_at", "id") if filters.state == Draft.State.READY else ("updated_at", "id")
    base = filters.apply(Draft.objects.filter(state=filters.state))
    if exclude:
        base = base.exclude(pk__in=exclude)
    if _sees_all(user):
        return list(base.order_by(*order).values_list("id", flat=True)[:limit])
    mine = base.filter(sender=user).order_by(*order).values_list(*order)[:limit]
    assigned = base.filter(reviewer=user).exclude(sender=user).order_by(*order).values_list(*order)[:limit]
    if connection.features.supports_slicing_ordering_in_compound:
        rows = list(mine.union(assigned, all=True).order_by(*order)[:limit])
    else:  # SQLite: the same two range scans as two queries, merged here
        rows = sorted([*mine, *assigned])[:limit]
    return [row[1] for row in rows]


def _in_order(ids: list[int], qs: QuerySet[Draft]) -> list[Draft]:
    by_id = {d.pk: d for d in qs.filter(pk__in=ids)}
    return [by_id[pk] for pk in ids if pk in by_id]


def draft_queue_page(*, user, filters: QueueFilters, skipped: Iterable[int] = ()) -> list[Draft]:
    """The first page of the queue for the list; skipped drafts go to the end."""
    skipped = list(skipped)
    ids = _queue_ids(user=user, filters=filters, limit=QUEUE_PAGE_SIZE + len(skipped))
    skipped_set = set(skipped)
    ids = ([pk for pk in ids if pk not in skipped_set] + [pk for pk in ids if pk in skipped_set])[:QUEUE_PAGE_SIZE]
    if not ids:
        return []
    rows = Draft.objects.select_related("recipient__account", "campaign").only(
        "id",
        "subject",
        "state",
        "ready_at",
        "unsupported_claim_count",
        "version",
        "recipient__first_name",
        "recipient__last_name",
        "recipient__email",
        "recipient__account__name",
        "campaign__name",
    )
    return _in_order(ids, rows)


def queue_campaigns(*, user) -> list[dict]:
    """Campaigns for the filter: the (small) campaign table, not a scan of the drafts."""
    Campaign = Draft._meta.get_field("campaign").related_model
    rows = Campaign.objects.exclude(status="archived").order_by("name").values_list("pk", "name")  # type: ignore[union-attr]
    return [{"pk": pk, "name": name} for pk, name in rows]


DETAIL_RELATED = ("recipient__account", "sender__sender", "campaign", "step", "reviewer", "decided_by")


def draft_next(*, user, filters: QueueFilters, skipped: Iterable[int] = ()) -> Draft | None:
    """The next draft to show, loaded for the detail: the oldest ready one not skipped; when all
    were skipped, the oldest."""
    skipped = list(skipped)
    ids = _queue_ids(user=user, filters=filters, limit=1, exclude_ids=skipped)
    if not ids and skipped:
        ids = _queue_ids(user=user, filters=filters, limit=1)
    if not ids:
        return None
    return Draft.objects.select_related(*DETAIL_RELATED).filter(pk=ids[0]).first()


def draft_state_counts(*, user, campaign_id: int | None = None) -> dict[str, int]:
    """How many of this user's drafts are in each state: one query, index-only scans of
    (sender, state) and (reviewer, state) when the user is not an admin."""
    base = Draft.objects.all()
    if campaign_id:
        base = base.filter(campaign_id=campaign_id)
    # COUNT(state), not COUNT(id): the state is in the index, so no table rows are read.
    if _sees_all(user):
        rows = list(base.order_by().values_list("state").annotate(n=Count("state")))
    else:
        mine = base.filter(sender=user).order_by().values_list("state").annotate(n=Count("state"))
        assigned = (
            base.filter(reviewer=user).exclude(sender=user).order_by().values_list("state").annotate(n=Count("state"))
        )
        rows = list(mine.union(assigned, all=True))
    counts = dict.fromkeys(Draft.State.values, 0)
    for state, n in rows:
        counts[state] += n
    return counts


def draft_detail(*, draft_id: int, user) -> Draft | None:
    return drafts_visible_to(user).select_related(*DETAIL_RELATED).filter(pk=draft_id).first()


def recipient_history(
    *, recipient_id: int, exclude_draft_id: int | None = None, limit: int = 5
) -> list[OutboundMessage]:
    """Earlier emails to this recipient with their engagement events (two queries)."""
    qs = OutboundMessage.objects.filter(recipient_id=recipient_id)
    if exclude_draft_id:
        qs = qs.exclude(draft_id=exclude_draft_id)
    return list(
        qs.order_by("-created_at")
        .only("id", "subject", "state", "created_at", "sent_at", "recipient_id", "draft_id")
        .prefetch_related(
            Prefetch("events", queryset=EngagementEvent.objects.only("id", "kind", "occurred_at", "message_id"))
        )[:limit]
    )


@dataclass(frozen=True)
class DraftingProgress:
    counts: dict[str, int]
    total: int
    in_flight: int
    cost_usd: Decimal
    cost_per_draft: Decimal

    @property
    def done(self) -> int:
        return self.total - self.in_flight


def drafting_progress(*, user, campaign_id: int | None = None, since=None) -> DraftingProgress:
    """Counts per state and cost for a campaign (or a batch since a time): polled while drafting."""
    qs = drafts_visible_to(user)
    if campaign_id:
        qs = qs.filter(campaign_id=campaign_id)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    counts = dict.fromkeys(Draft.State.values, 0)
    cost = Decimal("0")
    generated = 0
    for row in qs.order_by().values("state").annotate(n=Count("id"), cost=Sum("cost_usd")):
        counts[row["state"]] = row["n"]
        cost += row["cost"] or Decimal("0")
        if row["state"] not in (Draft.State.QUEUED, Draft.State.DRAFTING, Draft.State.FAILED):
            generated += row["n"]
    in_flight = counts[Draft.State.QUEUED] + counts[Draft.State.DRAFTING]
    per_draft = (cost / generated).quantize(Decimal("0.000001")) if generated else Decimal("0")
    return DraftingProgress(
        counts=counts, total=sum(counts.values()), in_flight=in_flight, cost_usd=cost, cost_per_draft=per_draft
    )
