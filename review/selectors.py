"""Reads for the review queue, shared by views (and the API)."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlencode

from django.db import connection, connections
from django.db.models import (
    Aggregate,
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from outreach.core.ids import parse_id
from outreach.mail import selectors as mail_selectors
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.people.roles import is_admin

from .models import (
    Draft,
    DraftBatch,
    DraftDecision,
    DraftEdit,
    DraftOrigin,
    DraftVersion,
    RejectReason,
    ReviewerSettings,
)
from .textdiff import WordDiff, word_diff

QUEUE_PAGE_SIZE = 50


def drafts_visible_to(user) -> QuerySet[Draft]:
    """Reps see the drafts they send or are assigned to review; admins see every draft."""
    if is_admin(user):
        return Draft.objects.all()
    return Draft.objects.filter(Q(sender=user) | Q(reviewer=user))


def reviewer_settings_visible_to(user) -> QuerySet[ReviewerSettings]:
    """Everyone sees (and changes) only their own review settings."""
    return ReviewerSettings.objects.filter(user_id=user.pk)


def reviewer_settings_for(user) -> ReviewerSettings:
    """The user's review settings, or the defaults (unsaved) when they never changed any. The
    request's user comes with them (settings.AUTH_USER_SELECT_RELATED): no query of its own."""
    try:
        return user.review_settings
    except ReviewerSettings.DoesNotExist:
        return ReviewerSettings(user_id=user.pk)


# The list shows ready drafts by default; failed ones can be listed to retry them.
LISTABLE_STATES = (Draft.State.READY, Draft.State.FAILED)


SEARCH_MAX = 100


@dataclass(frozen=True)
class QueueFilters:
    campaign_id: int | None = None
    unsupported_only: bool = False
    state: str = Draft.State.READY
    search: str = ""  # a name, email address or company, matched anywhere (case-insensitive)

    @classmethod
    def from_params(cls, params) -> QueueFilters:
        state = params.get("state") or Draft.State.READY
        return cls(
            campaign_id=parse_id(params.get("campaign")),
            unsupported_only=params.get("unsupported") in ("1", "on", "true"),
            state=state if state in LISTABLE_STATES else Draft.State.READY,
            search=" ".join(str(params.get("q") or "").split())[:SEARCH_MAX],
        )

    def as_query(self) -> str:
        parts = []
        if self.campaign_id:
            parts.append(f"campaign={self.campaign_id}")
        if self.unsupported_only:
            parts.append("unsupported=1")
        if self.state != Draft.State.READY:
            parts.append(f"state={self.state}")
        if self.search:
            parts.append(urlencode({"q": self.search}))
        return "&".join(parts)

    def as_hidden_inputs(self) -> SafeString:
        """The filters as hidden fields, so each decision form returns to the same queue."""
        fields: list[tuple[str, int | str | None]] = [
            ("campaign", self.campaign_id),
            ("unsupported", 1 if self.unsupported_only else None),
        ]
        if self.state != Draft.State.READY:
            fields.append(("state", self.state))
        if self.search:
            fields.append(("q", self.search))
        return format_html_join(
            "", '<input type="hidden" name="{}" value="{}">', ((k, v) for k, v in fields if v is not None)
        )

    def apply(self, qs: QuerySet[Draft]) -> QuerySet[Draft]:
        if self.campaign_id:
            qs = qs.filter(origin__campaign_ref=self.campaign_id)
        if self.unsupported_only:
            qs = qs.filter(unsupported_claim_count__gt=0)
        for word in self.search.split():
            qs = qs.filter(
                Q(recipient__first_name__icontains=word)
                | Q(recipient__last_name__icontains=word)
                | Q(recipient__email__icontains=word)
                | Q(recipient__account__name__icontains=word)
            )
        return qs


def _queue_heads(*, user, filters: QueueFilters, exclude_ids: Iterable[int] = ()):
    """The queue's order and the querysets it merges: "sent by me OR assigned to me" is two index
    range scans, (state, sender, ready_at) and (state, reviewer, ready_at); an admin's is one."""
    exclude = list(exclude_ids)
    order = ("ready_at", "id") if filters.state == Draft.State.READY else ("updated_at", "id")
    base = filters.apply(Draft.objects.filter(state=filters.state))
    if exclude:
        base = base.exclude(pk__in=exclude)
    if is_admin(user):
        return order, [base.order_by(*order)]
    return order, [
        base.filter(sender=user).order_by(*order),
        base.filter(reviewer=user).exclude(sender=user).order_by(*order),
    ]


def _queue_ids(*, user, filters: QueueFilters, limit: int, exclude_ids: Iterable[int] = ()) -> list[int]:
    """Ids of the first `limit` drafts of the queue, in order, in one query that stays fast with
    thousands of drafts: each range scan stops at `limit`, merged by UNION ALL."""
    order, heads = _queue_heads(user=user, filters=filters, exclude_ids=exclude_ids)
    if len(heads) == 1:
        return list(heads[0].values_list("id", flat=True)[:limit])
    mine, assigned = (head.values_list(*order)[:limit] for head in heads)
    if connection.features.supports_slicing_ordering_in_compound:
        rows = list(mine.union(assigned, all=True).order_by(*order)[:limit])
    else:  # SQLite: the same two range scans as two queries, merged here
        rows = sorted([*mine, *assigned])[:limit]
    return [row[1] for row in rows]


def _queue_first(*, user, filters: QueueFilters, exclude_ids: Iterable[int] = ()) -> Draft | None:
    """The queue's first draft with what the detail shows, in one query: each range scan stops
    at its first row inside a subquery."""
    order, heads = _queue_heads(user=user, filters=filters, exclude_ids=exclude_ids)
    first_of_each = Q()
    for head in heads:
        first_of_each |= Q(pk=Subquery(head.values("id")[:1]))
    return with_detail(Draft.objects.filter(first_of_each)).order_by(*order).first()


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
    rows = Draft.objects.select_related("recipient__account", "origin").only(
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
        "origin__name",
    )
    return _in_order(ids, rows)


def drafts_selected(*, user, ids: Iterable[int]) -> dict[int, Draft]:
    """The drafts of `ids` the user may see, by id, with who they go to (one query); ids of drafts
    the user may not see are simply absent."""
    rows = (
        drafts_visible_to(user)
        .filter(pk__in=list(ids))
        .select_related("recipient")
        .only(
            "id",
            "state",
            "version",
            "subject",
            "unsupported_claim_count",
            "recipient__first_name",
            "recipient__last_name",
            "recipient__email",
        )
    )
    return {d.pk: d for d in rows}


def queue_campaigns(*, user) -> list[dict]:
    """Campaigns for the filter, by the id campaigns handed down: the (small) origin table, not a
    scan of the drafts. A rep sees only campaigns they have drafts in: other names are not theirs."""
    origins = DraftOrigin.objects.all()
    if not is_admin(user):
        theirs = Draft.objects.filter(Q(sender=user) | Q(reviewer=user), origin_id=OuterRef("pk"))
        origins = origins.filter(Exists(theirs))
    rows = origins.order_by("name", "campaign_ref").values_list("campaign_ref", "name")
    return [{"pk": pk, "name": name} for pk, name in rows]


# What the detail shows: the draft whole, and of its relations only the columns on screen (every
# column costs compile and load time on each queue page and decision; the rest loads if touched).
# The decider (decided drafts only) loads when shown.
_DETAIL_COLUMNS = (
    *(f.name for f in Draft._meta.concrete_fields),
    *(f"recipient__{name}" for name in ("email", "first_name", "last_name", "title", "account")),
    *(f"recipient__account__{name}" for name in ("name", "plan", "renewal_date", "state")),
    *(f"sender__{name}" for name in ("username", "first_name", "last_name")),
    *(f"sender__sender__{name}" for name in ("user", "display_name", "email")),
    "origin__campaign_ref",
    "origin__name",
)


def with_detail(drafts: QuerySet[Draft]) -> QuerySet[Draft]:
    return drafts.select_related("recipient__account", "sender__sender", "origin").only(*_DETAIL_COLUMNS)


def draft_next(*, user, filters: QueueFilters, skipped: Iterable[int] = ()) -> Draft | None:
    """The next draft to show, loaded for the detail: the oldest ready one not skipped; when all
    were skipped, the oldest."""
    skipped = list(skipped)
    draft = _queue_first(user=user, filters=filters, exclude_ids=skipped)
    if draft is None and skipped:
        draft = _queue_first(user=user, filters=filters)
    return draft


def draft_loaded(draft_id: int) -> Draft | None:
    """A draft with what the detail shows, by an id already taken from the user's own queue."""
    return with_detail(Draft.objects.filter(pk=draft_id)).first()


# Counts stop at this many: the page says "1,000+", and a count never reads more index entries
# than this per state, however much history a user builds up.
COUNT_CAP = 1000
# Superseded versions are history, never shown as a count.
COUNTED_STATES = [state for state in Draft.State.values if state != Draft.State.SUPERSEDED]


@dataclass(frozen=True)
class VersionChange:
    """One version of a draft's text and what changed from the version before it (None for the
    first): word diffs of subject, preview text and body."""

    version: DraftVersion
    previous: DraftVersion | None
    subject: WordDiff | None
    preview_text: WordDiff | None
    body: WordDiff | None

    @property
    def added(self) -> int:
        return sum(d.added for d in (self.subject, self.preview_text, self.body) if d)

    @property
    def removed(self) -> int:
        return sum(d.removed for d in (self.subject, self.preview_text, self.body) if d)


def _changes(versions: list[DraftVersion]) -> list[VersionChange]:
    changes, previous = [], None
    for version in versions:
        if previous is None:
            changes.append(VersionChange(version=version, previous=None, subject=None, preview_text=None, body=None))
        else:
            changes.append(
                VersionChange(
                    version=version,
                    previous=previous,
                    subject=word_diff(previous.subject, version.subject),
                    preview_text=word_diff(previous.preview_text, version.preview_text),
                    body=word_diff(previous.body_text, version.body_text),
                )
            )
        previous = version
    return changes


def draft_version_changes(*, draft: Draft) -> list[VersionChange]:
    """Every version of the draft's text, newest first, each with what changed from the one before
    (one query). The caller has checked the draft is visible to the user."""
    versions = list(DraftVersion.objects.filter(draft_id=draft.pk).select_related("created_by").order_by("number"))
    return list(reversed(_changes(versions)))


def draft_latest_change(*, draft: Draft) -> VersionChange | None:
    """What the newest version changed from the one before, or None while there is one version
    (one query; shown on a regenerated draft)."""
    latest_two = list(DraftVersion.objects.filter(draft_id=draft.pk).order_by("-number")[:2])
    if len(latest_two) < 2:
        return None
    return _changes(list(reversed(latest_two)))[-1]


def draft_state_counts(*, user, campaign_id: int | None = None) -> dict[str, int]:
    """How many of this user's drafts are in each state, each at most COUNT_CAP + 1 (see
    `count_label`). One query: per state, a LIMITed range scan of the (sender, state) and
    (reviewer, state) indexes, or of (state, ready_at) for an admin. Written as SQL because the
    ORM would compile a dozen near-identical subqueries on every page."""
    if is_admin(user):
        scopes: list[tuple[str, list[int]]] = [("", [])]
    else:
        scopes = [(" AND sender_id = %s", [user.pk]), (" AND reviewer_id = %s AND sender_id <> %s", [user.pk, user.pk])]
    origin_table = DraftOrigin._meta.db_table
    campaign_sql, campaign_params = (
        (f" AND origin_id = (SELECT id FROM {origin_table} WHERE campaign_ref = %s)", [campaign_id])
        if campaign_id
        else ("", [])
    )
    parts: list[str] = []
    params: list[int | str] = []
    for state in COUNTED_STATES:
        for scope_sql, scope_params in scopes:
            parts.append(
                f"SELECT CAST(%s AS TEXT), COUNT(*) FROM (SELECT 1 FROM {Draft._meta.db_table} WHERE state = %s"
                f"{scope_sql}{campaign_sql} LIMIT %s) AS capped"
            )
            params += [state, state, *scope_params, *campaign_params, COUNT_CAP + 1]
    counts = dict.fromkeys(Draft.State.values, 0)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for state, n in cursor.fetchall():
            counts[state] = min(COUNT_CAP + 1, counts[state] + n)
    return counts


def count_label(n: int) -> str:
    return f"{COUNT_CAP:,}+" if n > COUNT_CAP else str(n)


def draft_detail(*, draft_id: int, user) -> Draft | None:
    return with_detail(drafts_visible_to(user).filter(pk=draft_id)).first()


def recipient_history(
    *, recipient_id: int, exclude_draft_id: int | None = None, limit: int = 5
) -> list[OutboundMessage]:
    """Earlier emails to this recipient with their engagement events (two queries)."""
    qs = OutboundMessage.objects.filter(recipient_id=recipient_id)
    if exclude_draft_id:
        qs = qs.exclude(draft_ref=exclude_draft_id)
    return list(
        qs.order_by("-created_at")
        .only("id", "subject", "state", "created_at", "sent_at", "recipient_id", "draft_ref")
        .prefetch_related(
            Prefetch("events", queryset=EngagementEvent.objects.only("id", "kind", "occurred_at", "message_id"))
        )[:limit]
    )


def message_story(*, message: OutboundMessage) -> tuple[Draft | None, list[mail_selectors.TimelineEntry]]:
    """One email's whole story, oldest first: drafted and decided here (by whom), then what the
    outbox did and what came back (mail's part of the timeline)."""
    draft = Draft.objects.filter(outbound_message=message).first()
    entries: list[mail_selectors.TimelineEntry] = []
    if draft is not None:
        if draft.ready_at:
            entries.append(mail_selectors.TimelineEntry(draft.ready_at, "Drafted", detail=draft.provider or ""))
        for decision in draft.decisions.select_related("user"):
            entries.append(
                mail_selectors.TimelineEntry(
                    decision.created_at,
                    decision.get_action_display(),
                    who=str(decision.user.get_full_name() or decision.user) if decision.user else "",
                    detail=decision.note or decision.reason,
                    tone="ok" if decision.action in ("approve", "edit_approve") else "",
                )
            )
    entries += mail_selectors.message_timeline(message=message)
    entries.sort(key=lambda e: e.at)
    return draft, entries


@dataclass(frozen=True)
class DraftingProgress:
    counts: dict[str, int]
    total: int
    in_flight: int
    cost_usd: Decimal
    cost_per_draft: Decimal
    # Of the drafting ones: those written in a Message Batch, and about when they are ready.
    in_batch: int = 0
    batch_ready_minutes: int | None = None

    @property
    def done(self) -> int:
        return self.total - self.in_flight


# How long a batch takes when none has ended yet (the API: most end within an hour).
BATCH_TYPICAL = timedelta(hours=1)


def batch_ready_minutes(*, submitted_at, now=None) -> int:
    """About how many minutes until a batch submitted then has ended and its drafts are stored: the
    median duration of the last ten batches that ended (an hour before any has), less the time
    already waited, plus the minute until the next poll; at least 1."""
    now = now or timezone.now()
    recent = DraftBatch.objects.filter(state=DraftBatch.State.ENDED, submitted_at__isnull=False, ended_at__isnull=False)
    durations = [
        (ended - submitted).total_seconds()
        for submitted, ended in recent.order_by("-ended_at").values_list("submitted_at", "ended_at")[:10]
        if ended is not None and submitted is not None
    ]
    typical = statistics.median(durations) if durations else BATCH_TYPICAL.total_seconds()
    waited = (now - submitted_at).total_seconds() if submitted_at else 0
    return max(1, math.ceil((typical - waited) / 60) + 1)


def drafting_progress(*, user, campaign_id: int | None = None, since=None) -> DraftingProgress:
    """Counts per state and cost for a campaign (or a batch since a time): polled while drafting."""
    qs = drafts_visible_to(user)
    if campaign_id:
        qs = qs.filter(origin__campaign_ref=campaign_id)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return drafting_progress_of(qs)


def drafting_progress_of(qs: QuerySet[Draft]) -> DraftingProgress:
    """The same counts for drafts the caller has already scoped (a campaign's page: campaign-wide)."""
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
    in_batch, ready_minutes = 0, None
    if counts[Draft.State.DRAFTING]:
        batched = qs.order_by().filter(state=Draft.State.DRAFTING, batch__isnull=False)
        row = batched.aggregate(n=Count("id"), last=Max("batch__submitted_at"), first=Min("batch__created_at"))
        in_batch = row["n"]
        if in_batch:
            ready_minutes = batch_ready_minutes(submitted_at=row["last"] or row["first"])
    return DraftingProgress(
        counts=counts,
        total=sum(counts.values()),
        in_flight=in_flight,
        cost_usd=cost,
        cost_per_draft=per_draft,
        in_batch=in_batch,
        batch_ready_minutes=ready_minutes,
    )


# ---------------------------------------------------------------------------------------------
# Edit analytics (the edit analytics page, its CSV export and the diff view)
#
# Definitions, shown on the page too:
# - decided: approve + edit_approve + reject decisions (regenerate and skip are not final); an
#   approval its approver undid (undone_at set) is not counted: nothing was sent.
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
CAMPAIGN_KEYS = ("draft__origin__campaign_ref", "draft__origin__name")
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
class EditAnalyticsFilter:
    """Which decisions and edits count: decided/edited on start..end (inclusive), one campaign or all."""

    start: date | None = None
    end: date | None = None
    campaign_id: int | None = None

    @classmethod
    def default(cls, *, today: date | None = None, weeks: int = DEFAULT_WEEKS) -> EditAnalyticsFilter:
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
            q &= Q(**{f"{prefix}draft__origin__campaign_ref": self.campaign_id})
        return q


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass
class AnalyticsRow:
    """The figures of one group (a campaign, a sender, a provider/model, a week, or everything)."""

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
class LearningRow:
    """One campaign or sender: the median edit distance of drafts written with reviewer edits as
    examples beside those written without (the first drafts, or examples not yet there)."""

    key: tuple
    label: str
    with_examples: float | None = None
    with_count: int = 0
    without_examples: float | None = None
    without_count: int = 0

    @property
    def change(self) -> float | None:
        """Distance with examples minus without: below zero, the examples helped."""
        if self.with_examples is None or self.without_examples is None:
            return None
        return round(self.with_examples - self.without_examples, 6)


@dataclass
class PromptCacheRow:
    """One campaign's drafts written by the model in the period: how many read the prompt cache,
    and the input tokens read from it and written to it (each draft's latest call)."""

    key: tuple
    label: str
    drafts: int = 0
    hits: int = 0
    read_tokens: int = 0
    written_tokens: int = 0
    input_tokens: int = 0

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.drafts if self.drafts else None

    @property
    def read_share(self) -> float | None:
        """The share of all input tokens that came from the cache (billed at a tenth)."""
        return self.read_tokens / self.input_tokens if self.input_tokens else None


@dataclass
class EditAnalytics:
    filter: EditAnalyticsFilter
    overall: AnalyticsRow
    by_campaign: list[AnalyticsRow]
    by_sender: list[AnalyticsRow]
    by_model: list[AnalyticsRow]
    by_week: list[AnalyticsRow]
    reasons: list[tuple[str, int]]
    trend_by_campaign: Trend
    trend_by_sender: Trend
    most_edited: list[DraftEdit]
    learning_by_campaign: list[LearningRow] = field(default_factory=list)
    learning_by_sender: list[LearningRow] = field(default_factory=list)
    prompt_cache_by_campaign: list[PromptCacheRow] = field(default_factory=list)


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: percentile_cont(0.5) WITHIN GROUP (ORDER BY x) is the median."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, percentile: float = 0.5, **extra):
        super().__init__(expression, percentile=float(percentile), **extra)


def edit_similarity_medians(edits: QuerySet, *, keys: Sequence[str] = ()) -> dict[tuple, tuple[float, int]]:
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
        "approved": Count("id", filter=Q(action=DraftDecision.Action.APPROVE, undone_at__isnull=True)),
        "edited": Count("id", filter=Q(action=DraftDecision.Action.EDIT_APPROVE, undone_at__isnull=True)),
        "rejected": Count("id", filter=Q(action=DraftDecision.Action.REJECT)),
        "regenerated": Count("id", filter=Q(action=DraftDecision.Action.REGENERATE)),
    }
    decisions = decisions.order_by()
    if not keys:
        return [decisions.aggregate(**counts)]
    return list(decisions.values(*keys).annotate(**counts))


def _reason_label(code: str) -> str:
    if not code:
        return "no reason given"
    return RejectReason(code).label if code in RejectReason.values else code


def _rejection_reasons(decisions: QuerySet[DraftDecision], keys: Sequence[str]) -> dict[tuple, list[tuple[str, int]]]:
    rows = (
        decisions.filter(action=DraftDecision.Action.REJECT).order_by().values(*keys, "reason").annotate(n=Count("id"))
    )
    reasons: dict[tuple, list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        reasons[tuple(row[k] for k in keys)].append((_reason_label(row["reason"]), row["n"]))
    for found in reasons.values():
        found.sort(key=lambda item: (-item[1], item[0]))
    return reasons


def _label(keys: Sequence[str], row: dict) -> str:
    if keys == CAMPAIGN_KEYS:
        return row["draft__origin__name"] or "Ad-hoc drafts (no campaign)"
    if keys == SENDER_KEYS:
        full_name = f"{row['draft__sender__first_name']} {row['draft__sender__last_name']}".strip()
        return row["draft__sender__sender__display_name"] or full_name or row["draft__sender__username"] or "?"
    if keys == MODEL_KEYS:
        return f"{row['draft__provider'] or 'unknown'} · {row['draft__model_name'] or 'unknown model'}"
    if keys == WEEK_KEYS:
        return f"week of {row['week']:%Y-%m-%d}"
    return "All drafts"


def _grouped_rows(
    decisions: QuerySet[DraftDecision], edits: QuerySet[DraftEdit], keys: Sequence[str]
) -> list[AnalyticsRow]:
    """Three queries per grouping whatever the number of drafts: counts, reasons, medians."""
    rows: dict[tuple, AnalyticsRow] = {}
    for counted in _decision_counts(decisions, keys):
        key = tuple(counted[k] for k in keys)
        rows[key] = AnalyticsRow(
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
        row = rows.setdefault(key, AnalyticsRow(key=key, label=_label(keys, dict(zip(keys, key, strict=True)))))
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


def _trend(edits: QuerySet[DraftEdit], keys: Sequence[str], flt: EditAnalyticsFilter) -> Trend:
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


def _weekly_rows(rows: list[AnalyticsRow], flt: EditAnalyticsFilter) -> list[AnalyticsRow]:
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
        row = by_week.get(week) or AnalyticsRow(key=(week,), label=f"week of {week:%Y-%m-%d}")
        row.key = (week,)  # a date, whatever the database's week truncation returned
        rows.append(row)
    return rows


def analytics_campaigns() -> list[SimpleNamespace]:
    """Campaigns that have drafts, by name: the choices of the edit analytics filter (one query)."""
    rows = (
        DraftOrigin.objects.filter(Exists(Draft.objects.filter(origin_id=OuterRef("pk"))))
        .order_by("name", "campaign_ref")
        .values_list("campaign_ref", "name")
    )
    return [SimpleNamespace(pk=pk, name=name) for pk, name in rows]


def analytics_decisions(flt: EditAnalyticsFilter) -> QuerySet[DraftDecision]:
    return DraftDecision.objects.filter(flt.as_q())


def analytics_edits(flt: EditAnalyticsFilter) -> QuerySet[DraftEdit]:
    return DraftEdit.objects.filter(flt.as_q())


def draft_edits_most_edited(flt: EditAnalyticsFilter, *, limit: int = MOST_EDITED_LIMIT) -> list[DraftEdit]:
    """The edits with the largest edit distance (annotated as `distance`) in the filter."""
    return list(
        analytics_edits(flt)
        .select_related("draft__origin", "draft__sender__sender", "editor")
        .annotate(distance=ExpressionWrapper(Value(1.0) - F("normalized_similarity"), output_field=FloatField()))
        .order_by("normalized_similarity", "-char_distance", "-id")[:limit]
    )


def edit_analytics(*, flt: EditAnalyticsFilter) -> EditAnalytics:
    """Everything the edit analytics page shows, in a fixed number of queries (21) for any data size."""
    decisions = analytics_decisions(flt)
    edits = analytics_edits(flt)
    weekly_decisions = decisions.annotate(week=TruncWeek("created_at"))
    weekly_edits = edits.annotate(week=TruncWeek("created_at"))
    overall = _grouped_rows(decisions, edits, ())
    by_week = _grouped_rows(weekly_decisions, weekly_edits, WEEK_KEYS)
    return EditAnalytics(
        filter=flt,
        overall=overall[0] if overall else AnalyticsRow(key=(), label="All drafts"),
        by_campaign=_sorted(_grouped_rows(decisions, edits, CAMPAIGN_KEYS)),
        by_sender=_sorted(_grouped_rows(decisions, edits, SENDER_KEYS)),
        by_model=_sorted(_grouped_rows(decisions, edits, MODEL_KEYS)),
        by_week=_weekly_rows(by_week, flt),
        reasons=overall[0].reasons if overall else [],
        trend_by_campaign=_trend(edits, CAMPAIGN_KEYS, flt),
        trend_by_sender=_trend(edits, SENDER_KEYS, flt),
        most_edited=draft_edits_most_edited(flt),
        learning_by_campaign=_learning(decisions, CAMPAIGN_KEYS),
        learning_by_sender=_learning(decisions, SENDER_KEYS),
        prompt_cache_by_campaign=prompt_cache_by_campaign(flt),
    )


def prompt_cache_by_campaign(flt: EditAnalyticsFilter) -> list[PromptCacheRow]:
    """Per campaign, the drafts the Anthropic model wrote in the period (by when they became ready):
    how many read the prompt cache, tokens read and written (one query)."""
    q = Q(provider="anthropic", ready_at__isnull=False)
    if flt.start:
        q &= Q(ready_at__gte=_start_of(flt.start))
    if flt.end:
        q &= Q(ready_at__lt=_start_of(flt.end + timedelta(days=1)))
    if flt.campaign_id:
        q &= Q(origin__campaign_ref=flt.campaign_id)
    grouped = (
        Draft.objects.filter(q)
        .values("origin__campaign_ref", "origin__name")
        .annotate(
            drafts=Count("id"),
            hits=Count("id", filter=Q(cache_read_tokens__gt=0)),
            read=Sum("cache_read_tokens"),
            written=Sum("cache_write_tokens"),
            total=Sum("input_tokens"),
        )
        .order_by()
    )
    rows = [
        PromptCacheRow(
            key=(g["origin__campaign_ref"],),
            label=g["origin__name"] or "Ad-hoc drafts (no campaign)",
            drafts=g["drafts"],
            hits=g["hits"],
            read_tokens=g["read"] or 0,
            written_tokens=g["written"] or 0,
            input_tokens=g["total"] or 0,
        )
        for g in grouped
    ]
    return sorted(rows, key=lambda r: (-r.drafts, r.label))


def _learning(decisions: QuerySet[DraftDecision], keys: Sequence[str]) -> list[LearningRow]:
    """Median edit distance of approved drafts with and without edit examples per group of `keys`
    (one query). An email approved as drafted counts as distance 0: that is what learning aims at."""
    similarity = DraftEdit.objects.filter(draft=OuterRef("draft")).order_by("-created_at", "-id")
    approvals = decisions.filter(
        action__in=[DraftDecision.Action.APPROVE, DraftDecision.Action.EDIT_APPROVE], undone_at__isnull=True
    )
    marked = approvals.annotate(
        normalized_similarity=Coalesce(
            Subquery(similarity.values("normalized_similarity")[:1]), Value(1.0), output_field=FloatField()
        ),
        with_examples=Case(
            When(draft__edit_example_ids=[], then=Value(False)), default=Value(True), output_field=BooleanField()
        ),
    )
    rows: dict[tuple, LearningRow] = {}
    for (*key, with_examples), (median, n) in edit_similarity_medians(marked, keys=(*keys, "with_examples")).items():
        group = tuple(key)
        row = rows.setdefault(group, LearningRow(key=group, label=_label(keys, dict(zip(keys, group, strict=True)))))
        if with_examples:
            row.with_examples, row.with_count = _distance(median), n
        else:
            row.without_examples, row.without_count = _distance(median), n
    return sorted(rows.values(), key=lambda r: (-(r.with_count + r.without_count), r.label))


def _sorted(rows: Iterable[AnalyticsRow]) -> list[AnalyticsRow]:
    return sorted(rows, key=lambda r: (-r.decided, -r.edit_count, r.label))


def draft_edits_visible_to(user) -> QuerySet[DraftEdit]:
    """Edits a user may open: CSMs and admins see every team member's edits; nobody else any."""
    if not user.has_perm("review.view_draftedit"):
        return DraftEdit.objects.none()
    return DraftEdit.objects.select_related("draft__origin", "draft__sender__sender", "draft__recipient", "editor")


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
    "undone_at",
)


def decision_export_rows(*, flt: EditAnalyticsFilter, chunk_size: int = 2000) -> Iterator[tuple]:
    """One tuple per decision (EXPORT_COLUMNS order), streamed from the database in chunks.

    The edit figures come from the draft's latest DraftEdit and are filled for edit+approve only.
    """
    latest_edit = DraftEdit.objects.filter(draft_id=OuterRef("draft_id")).order_by("-created_at", "-id")
    rows = (
        analytics_decisions(flt)
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
            "draft__origin__name",
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
            "undone_at",
        )
    )
    for row in rows.iterator(chunk_size=chunk_size):
        (decision_id, draft_id, campaign, sender, provider, model, action, reason, note, *edit, user, at, undone) = row
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
            undone.isoformat() if undone else "",
        )
