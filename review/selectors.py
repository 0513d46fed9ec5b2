"""Reads on drafts shared by the review views and the API."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from .models import Draft, DraftDecision, DraftEdit

# ---------------------------------------------------------------------------------------------
# Edit-distance signals (the signals page, its CSV export and the diff view)
#
# Definitions, shown on the page too:
# - decided: approve + edit_approve + reject decisions (regenerate and skip are not final).
# - approval rate = (approve + edit_approve) / decided.
# - edit rate = edit_approve / (approve + edit_approve): how often an approved email was changed.
# - edit distance = 1 - DraftEdit.normalized_similarity (0 = unchanged, 1 = entirely rewritten),
#   and the median is taken over the DraftEdits in the period (unedited approvals are counted by
#   the edit rate, not here).
# ---------------------------------------------------------------------------------------------

FINAL_ACTIONS = (DraftDecision.Action.APPROVE, DraftDecision.Action.EDIT_APPROVE, DraftDecision.Action.REJECT)
DEFAULT_WEEKS = 12
MOST_EDITED_LIMIT = 10

# Grouping keys, as paths from a DraftDecision or a DraftEdit (both reach the draft by "draft").
CAMPAIGN_KEYS = ("draft__campaign_id", "draft__campaign__name")
SENDER_KEYS = (
    "draft__sender_id",
    "draft__sender__username",
    "draft__sender__first_name",
    "draft__sender__last_name",
    "draft__sender__sender__display_name",
)
MODEL_KEYS = ("draft__provider", "draft__model_name")
WEEK_KEYS = ("week",)


@dataclass(frozen=True)
class SignalsFilter:
    """Which decisions and edits count: decided/edited on start..end (inclusive), one campaign or all."""

    start: date | None = None
    end: date | None = None
    campaign_id: int | None = None

    @classmethod
    def default(cls, *, today: date | None = None, weeks: int = DEFAULT_WEEKS) -> SignalsFilter:
        """The last `weeks` weeks up to and including today."""
        today = today or timezone.localdate()
        return cls(start=today - timedelta(weeks=weeks) + timedelta(days=1), end=today)

    def as_q(self, *, prefix: str = "") -> Q:
        q = Q()
        if self.start:
            q &= Q(**{f"{prefix}created_at__gte": _start_of(self.start)})
        if self.end:
            q &= Q(**{f"{prefix}created_at__lt": _start_of(self.end + timedelta(days=1))})
        if self.campaign_id:
            q &= Q(**{f"{prefix}draft__campaign_id": self.campaign_id})
        return q


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass
class SignalRow:
    """The signals of one group (a campaign, a sender, a provider/model, a week, or everything)."""

    key: tuple
    label: str
    approved: int = 0
    edited: int = 0
    rejected: int = 0
    regenerated: int = 0
    edit_count: int = 0
    median_distance: float | None = None
    reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.approved + self.edited + self.rejected

    @property
    def approval_rate(self) -> float | None:
        return (self.approved + self.edited) / self.decided if self.decided else None

    @property
    def edit_rate(self) -> float | None:
        approvals = self.approved + self.edited
        return self.edited / approvals if approvals else None

    @property
    def rejection_rate(self) -> float | None:
        return self.rejected / self.decided if self.decided else None


@dataclass
class TrendSeries:
    key: tuple
    label: str
    # One median distance per week of Trend.weeks; None where nothing was edited that week.
    points: list[float | None]
    counts: list[int]

    @property
    def edit_count(self) -> int:
        return sum(self.counts)

    @property
    def cells(self) -> list[tuple[float | None, int]]:
        return list(zip(self.points, self.counts, strict=True))


@dataclass
class Trend:
    weeks: list[date]
    series: list[TrendSeries]


@dataclass
class Signals:
    filter: SignalsFilter
    overall: SignalRow
    by_campaign: list[SignalRow]
    by_sender: list[SignalRow]
    by_model: list[SignalRow]
    by_week: list[SignalRow]
    reasons: list[tuple[str, int]]
    trend_by_campaign: Trend
    trend_by_sender: Trend
    most_edited: list[DraftEdit]


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: percentile_cont(0.5) WITHIN GROUP (ORDER BY x) is the median."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, percentile: float = 0.5, **extra):
        super().__init__(expression, percentile=float(percentile), **extra)


def edit_similarity_medians(edits: QuerySet[DraftEdit], *, keys: Sequence[str] = ()) -> dict[tuple, tuple[float, int]]:
    """Median normalized similarity and edit count per group of `keys`: {key values: (median, count)}.

    One query on any database: PostgreSQL computes the median itself (percentile_cont); SQLite has
    no median, so there we fetch only the keys and the one column and take medians in Python.
    """
    edits = edits.order_by()
    if connections[edits.db].vendor == "postgresql":
        figures = {"median": PercentileCont("normalized_similarity"), "n": Count("id")}
        rows = edits.values(*keys).annotate(**figures) if keys else [edits.aggregate(**figures)]
        return {tuple(row[k] for k in keys): (row["median"], row["n"]) for row in rows if row["n"]}
    groups: dict[tuple, list[float]] = defaultdict(list)
    for *key, similarity in edits.values_list(*keys, "normalized_similarity"):
        groups[tuple(key)].append(similarity)
    return {key: (statistics.median(values), len(values)) for key, values in groups.items()}


def _decision_counts(decisions: QuerySet[DraftDecision], keys: Sequence[str]) -> list[dict]:
    counts = {
        "approved": Count("id", filter=Q(action=DraftDecision.Action.APPROVE)),
        "edited": Count("id", filter=Q(action=DraftDecision.Action.EDIT_APPROVE)),
        "rejected": Count("id", filter=Q(action=DraftDecision.Action.REJECT)),
        "regenerated": Count("id", filter=Q(action=DraftDecision.Action.REGENERATE)),
    }
    decisions = decisions.order_by()
    if not keys:
        return [decisions.aggregate(**counts)]
    return list(decisions.values(*keys).annotate(**counts))


def _rejection_reasons(decisions: QuerySet[DraftDecision], keys: Sequence[str]) -> dict[tuple, list[tuple[str, int]]]:
    rows = (
        decisions.filter(action=DraftDecision.Action.REJECT).order_by().values(*keys, "reason").annotate(n=Count("id"))
    )
    reasons: dict[tuple, list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        reasons[tuple(row[k] for k in keys)].append((row["reason"] or "no reason given", row["n"]))
    for found in reasons.values():
        found.sort(key=lambda item: (-item[1], item[0]))
    return reasons


def _label(keys: Sequence[str], row: dict) -> str:
    if keys == CAMPAIGN_KEYS:
        return row["draft__campaign__name"] or "Ad-hoc drafts (no campaign)"
    if keys == SENDER_KEYS:
        full_name = f"{row['draft__sender__first_name']} {row['draft__sender__last_name']}".strip()
        return row["draft__sender__sender__display_name"] or full_name or row["draft__sender__username"] or "?"
    if keys == MODEL_KEYS:
        return f"{row['draft__provider'] or 'unknown'} · {row['draft__model_name'] or 'unknown model'}"
    if keys == WEEK_KEYS:
        return f"week of {row['week']:%Y-%m-%d}"
    return "All drafts"


def _grouped_signals(
    decisions: QuerySet[DraftDecision], edits: QuerySet[DraftEdit], keys: Sequence[str]
) -> list[SignalRow]:
    """Three queries per grouping whatever the number of drafts: counts, reasons, medians."""
    rows: dict[tuple, SignalRow] = {}
    for counted in _decision_counts(decisions, keys):
        key = tuple(counted[k] for k in keys)
        rows[key] = SignalRow(
            key=key,
            label=_label(keys, counted),
            approved=counted["approved"] or 0,
            edited=counted["edited"] or 0,
            rejected=counted["rejected"] or 0,
            regenerated=counted["regenerated"] or 0,
        )
    for key, reasons in _rejection_reasons(decisions, keys).items():
        if key in rows:
            rows[key].reasons = reasons
    for key, (median, n) in edit_similarity_medians(edits, keys=keys).items():
        # An edit whose decision falls outside the period is still a signal: give it a row.
        row = rows.setdefault(key, SignalRow(key=key, label=_label(keys, dict(zip(keys, key, strict=True)))))
        row.median_distance = _distance(median)
        row.edit_count = n
    return list(rows.values())


def _distance(similarity: float | None) -> float | None:
    # Rounded so SQLite (Python) and PostgreSQL (float8 arithmetic) show the same figure.
    return None if similarity is None else round(1.0 - similarity, 6)


def _week_of(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _weeks_between(first: date, last: date) -> list[date]:
    weeks, week = [], first
    while week <= last:
        weeks.append(week)
        week += timedelta(weeks=1)
    return weeks


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _trend(edits: QuerySet[DraftEdit], keys: Sequence[str], flt: SignalsFilter) -> Trend:
    """Median edit distance per week for each group of `keys` (one query)."""
    medians = edit_similarity_medians(edits.annotate(week=TruncWeek("created_at")), keys=(*keys, "week"))
    by_group: dict[tuple, dict[date, tuple[float, int]]] = defaultdict(dict)
    for group_and_week, value in medians.items():
        by_group[group_and_week[:-1]][_week_of(group_and_week[-1])] = value
    found_weeks = {week for per_week in by_group.values() for week in per_week}
    if not found_weeks:
        return Trend(weeks=[], series=[])
    first = _monday(flt.start) if flt.start else min(found_weeks)
    last = _monday(flt.end) if flt.end else max(found_weeks)
    weeks = _weeks_between(min(first, min(found_weeks)), max(last, max(found_weeks)))
    series = []
    for group, per_week in by_group.items():
        points = [_distance(per_week[w][0]) if w in per_week else None for w in weeks]
        counts = [per_week[w][1] if w in per_week else 0 for w in weeks]
        label = _label(keys, dict(zip(keys, group, strict=True)))
        series.append(TrendSeries(key=group, label=label, points=points, counts=counts))
    series.sort(key=lambda s: (-s.edit_count, s.label))
    return Trend(weeks=weeks, series=series)


def _weekly_rows(rows: list[SignalRow], flt: SignalsFilter) -> list[SignalRow]:
    """Every week of the period in order, empty weeks included, so the line's x axis is true time."""
    by_week = {_week_of(row.key[0]): row for row in rows if row.key[0] is not None}
    if not by_week and not (flt.start and flt.end):
        return []
    first = _monday(flt.start) if flt.start else min(by_week)
    last = _monday(flt.end) if flt.end else max(by_week)
    if by_week:
        first, last = min(first, min(by_week)), max(last, max(by_week))
    rows = []
    for week in _weeks_between(first, last):
        row = by_week.get(week) or SignalRow(key=(week,), label=f"week of {week:%Y-%m-%d}")
        row.key = (week,)  # a date, whatever the database's week truncation returned
        rows.append(row)
    return rows


def signal_campaigns() -> list[SimpleNamespace]:
    """Campaigns that have drafts, by name: the choices of the signals filter (one query)."""
    rows = (
        Draft.objects.filter(campaign__isnull=False)
        .order_by("campaign__name", "campaign_id")
        .values_list("campaign_id", "campaign__name")
        .distinct()
    )
    return [SimpleNamespace(pk=pk, name=name) for pk, name in rows]


def signal_decisions(flt: SignalsFilter) -> QuerySet[DraftDecision]:
    return DraftDecision.objects.filter(flt.as_q())


def signal_edits(flt: SignalsFilter) -> QuerySet[DraftEdit]:
    return DraftEdit.objects.filter(flt.as_q())


def draft_edits_most_edited(flt: SignalsFilter, *, limit: int = MOST_EDITED_LIMIT) -> list[DraftEdit]:
    """The edits with the largest edit distance (annotated as `distance`) in the filter."""
    return list(
        signal_edits(flt)
        .select_related("draft__campaign", "draft__sender__sender", "editor")
        .annotate(distance=ExpressionWrapper(Value(1.0) - F("normalized_similarity"), output_field=FloatField()))
        .order_by("normalized_similarity", "-char_distance", "-id")[:limit]
    )


def edit_signals(*, flt: SignalsFilter) -> Signals:
    """Everything the signals page shows, in a fixed number of queries (18) for any data size."""
    decisions = signal_decisions(flt)
    edits = signal_edits(flt)
    weekly_decisions = decisions.annotate(week=TruncWeek("created_at"))
    weekly_edits = edits.annotate(week=TruncWeek("created_at"))
    overall = _grouped_signals(decisions, edits, ())
    by_week = _grouped_signals(weekly_decisions, weekly_edits, WEEK_KEYS)
    return Signals(
        filter=flt,
        overall=overall[0] if overall else SignalRow(key=(), label="All drafts"),
        by_campaign=_sorted(_grouped_signals(decisions, edits, CAMPAIGN_KEYS)),
        by_sender=_sorted(_grouped_signals(decisions, edits, SENDER_KEYS)),
        by_model=_sorted(_grouped_signals(decisions, edits, MODEL_KEYS)),
        by_week=_weekly_rows(by_week, flt),
        reasons=overall[0].reasons if overall else [],
        trend_by_campaign=_trend(edits, CAMPAIGN_KEYS, flt),
        trend_by_sender=_trend(edits, SENDER_KEYS, flt),
        most_edited=draft_edits_most_edited(flt),
    )


def _sorted(rows: Iterable[SignalRow]) -> list[SignalRow]:
    return sorted(rows, key=lambda r: (-r.decided, -r.edit_count, r.label))


def draft_edits_visible_to(user) -> QuerySet[DraftEdit]:
    """Edits a user may open: CSMs and admins see every team member's edits; nobody else any."""
    if not user.has_perm("review.view_draftedit"):
        return DraftEdit.objects.none()
    return DraftEdit.objects.select_related("draft__campaign", "draft__sender__sender", "draft__recipient", "editor")


# Columns of the CSV export, in order.
EXPORT_COLUMNS = (
    "decision_id",
    "draft_id",
    "campaign",
    "sender",
    "provider",
    "model",
    "action",
    "reason",
    "note",
    "char_distance",
    "normalized_similarity",
    "word_distance",
    "changed_parts",
    "decided_by",
    "decided_at",
)


def decision_export_rows(*, flt: SignalsFilter, chunk_size: int = 2000) -> Iterator[tuple]:
    """One tuple per decision (EXPORT_COLUMNS order), streamed from the database in chunks.

    The edit figures come from the draft's latest DraftEdit and are filled for edit+approve only.
    """
    latest_edit = DraftEdit.objects.filter(draft_id=OuterRef("draft_id")).order_by("-created_at", "-id")
    rows = (
        signal_decisions(flt)
        .order_by("created_at", "id")
        .annotate(
            edit_char_distance=Subquery(latest_edit.values("char_distance")[:1]),
            edit_similarity=Subquery(latest_edit.values("normalized_similarity")[:1]),
            edit_word_distance=Subquery(latest_edit.values("word_distance")[:1]),
            edit_changed_parts=Subquery(latest_edit.values("changed_parts")[:1]),
        )
        .values_list(
            "id",
            "draft_id",
            "draft__campaign__name",
            "draft__sender__username",
            "draft__provider",
            "draft__model_name",
            "action",
            "reason",
            "note",
            "edit_char_distance",
            "edit_similarity",
            "edit_word_distance",
            "edit_changed_parts",
            "user__username",
            "created_at",
        )
    )
    for row in rows.iterator(chunk_size=chunk_size):
        (decision_id, draft_id, campaign, sender, provider, model, action, reason, note, *edit, user, at) = row
        if action != DraftDecision.Action.EDIT_APPROVE:
            edit = [None, None, None, None]
        char_distance, similarity, word_distance, parts = edit
        if isinstance(parts, str):
            # A JSON column read through a subquery comes back undecoded on some backends.
            parts = json.loads(parts)
        yield (
            decision_id,
            draft_id,
            campaign or "",
            sender or "",
            provider,
            model,
            action,
            reason,
            note,
            char_distance,
            similarity,
            word_distance,
            " ".join(parts) if parts else "",
            user or "",
            at.isoformat(),
        )
