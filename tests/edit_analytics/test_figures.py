"""The analytics are right for a set of decisions and edits worked out by hand (see conftest.world)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from review.selectors import EditAnalyticsFilter, edit_analytics


def _by_label(rows):
    return {row.label: row for row in rows}


@pytest.fixture
def analytics(world):
    return edit_analytics(flt=EditAnalyticsFilter.default())


def test_overall_rates_count_final_decisions_only(analytics):
    o = analytics.overall
    assert (o.approved, o.edited, o.rejected, o.regenerated) == (2, 3, 3, 1)
    assert o.decided == 8
    assert o.approval_rate == pytest.approx(5 / 8)
    assert o.edit_rate == pytest.approx(3 / 5)
    assert o.rejection_rate == pytest.approx(3 / 8)


def test_overall_median_edit_distance_is_one_minus_the_median_similarity(analytics):
    # similarities .9, .7, .5 -> median .7 -> distance .3
    assert analytics.overall.median_distance == pytest.approx(0.3)
    assert analytics.overall.edit_count == 3


def test_rejection_reasons_are_counted_most_frequent_first(analytics):
    assert analytics.reasons == [("Wrong or invented facts", 2), ("Wrong tone or voice", 1)]


def test_analytics_per_campaign(analytics):
    rows = _by_label(analytics.by_campaign)
    renewals, webinar = rows["Renewals"], rows["Webinar"]
    assert renewals.approval_rate == pytest.approx(3 / 4)
    assert renewals.edit_rate == pytest.approx(2 / 3)
    assert renewals.median_distance == pytest.approx(0.2)  # median of .9 and .7 is .8
    assert renewals.reasons == [("Wrong or invented facts", 1)]
    assert webinar.approval_rate == pytest.approx(2 / 4)
    assert webinar.edit_rate == pytest.approx(1 / 2)
    assert webinar.median_distance == pytest.approx(0.5)
    assert webinar.reasons == [("Wrong or invented facts", 1), ("Wrong tone or voice", 1)]


def test_analytics_per_sender_use_the_sender_profile_name(analytics):
    rows = _by_label(analytics.by_sender)
    assert set(rows) == {"Rita Rep", "Sam Seller"}
    assert rows["Rita Rep"].decided == 4
    assert rows["Sam Seller"].regenerated == 1


def test_analytics_per_provider_and_model(analytics):
    rows = _by_label(analytics.by_model)
    assert set(rows) == {"anthropic · claude-sonnet-4-5", "offline · offline-template-1"}
    assert rows["anthropic · claude-sonnet-4-5"].median_distance == pytest.approx(0.2)
    assert rows["offline · offline-template-1"].rejected == 2


def test_analytics_per_week_cover_every_week_of_the_period(world, analytics):
    # The default period is twelve weeks; weeks without decisions are there, empty.
    assert len(analytics.by_week) in (12, 13)
    weeks = [row.key[0] for row in analytics.by_week]
    assert all(b - a == timedelta(weeks=1) for a, b in zip(weeks, weeks[1:], strict=False))
    active = [row for row in analytics.by_week if row.decided]
    assert len(active) == 2
    earlier, current = active
    assert (earlier.approved, earlier.edited, earlier.rejected) == (2, 1, 0)
    assert earlier.median_distance == pytest.approx(0.1)
    assert (current.approved, current.edited, current.rejected) == (0, 2, 3)
    assert current.approval_rate == pytest.approx(2 / 5)
    assert current.median_distance == pytest.approx(0.4)  # median of .7 and .5 is .6


def test_learning_trend_gives_each_campaign_a_weekly_median(world, analytics):
    trend = analytics.trend_by_campaign
    series = {s.label: s for s in trend.series}
    renewals = [p for p in series["Renewals"].points if p is not None]
    assert renewals == [pytest.approx(0.1), pytest.approx(0.3)]
    assert sum(series["Renewals"].counts) == 2
    assert [p for p in series["Webinar"].points if p is not None] == [pytest.approx(0.5)]
    assert len(trend.weeks) == len(series["Renewals"].points)


def test_learning_trend_per_sender(world, analytics):
    series = {s.label: s for s in analytics.trend_by_sender.series}
    assert set(series) == {"Rita Rep", "Sam Seller"}
    assert series["Rita Rep"].edit_count == 2


def test_a_campaign_filter_keeps_only_that_campaign(world):
    analytics = edit_analytics(flt=replace(EditAnalyticsFilter.default(), campaign_id=world.webinar.pk))
    assert analytics.overall.decided == 4
    assert [row.label for row in analytics.by_campaign] == ["Webinar"]


def test_a_date_range_excludes_decisions_and_edits_outside_it(world):
    today = world.now.date()
    analytics = edit_analytics(flt=EditAnalyticsFilter(start=today - timedelta(days=3), end=today))
    o = analytics.overall
    assert (o.approved, o.edited, o.rejected) == (0, 2, 3)
    assert o.edit_count == 2
    assert o.median_distance == pytest.approx(0.4)


def test_most_edited_drafts_come_largest_distance_first(world, analytics):
    assert [e.pk for e in analytics.most_edited] == [
        world.edits["large"].pk,
        world.edits["medium"].pk,
        world.edits["small"].pk,
    ]
    assert analytics.most_edited[0].distance == pytest.approx(0.5)


def test_nothing_decided_gives_empty_figures_not_errors(db):
    analytics = edit_analytics(flt=EditAnalyticsFilter.default())
    assert analytics.overall.decided == 0
    assert analytics.overall.approval_rate is None
    assert analytics.overall.median_distance is None
    assert analytics.by_campaign == []
