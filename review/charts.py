"""Geometry for small server-rendered SVG charts (the edit analytics page). Pure: numbers in, shapes out.

Templates draw the shapes (`review/_bar_chart.html`, `review/_line_chart.html`), so every label
passes through Django's autoescaping; nothing here builds markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .selectors import AnalyticsRow, EditAnalytics, Trend

# Colour plus a dash pattern per series, so series differ without relying on colour alone.
PALETTE = (
    ("#2457d6", ""),
    ("#c2410c", "6 3"),
    ("#7c3aed", "2 3"),
    ("#0f766e", "8 3 2 3"),
    ("#b91c1c", "1 2"),
    ("#4d7c0f", "10 4"),
)


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    dash: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Bar:
    series: Series
    x: float
    y: float
    width: float
    height: float
    value_text: str
    text_x: float
    text_y: float


@dataclass(frozen=True)
class BarGroup:
    label: str
    label_y: float
    bars: list[Bar]


@dataclass
class BarChart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_bottom: float
    series: list[Series]
    groups: list[BarGroup]
    ticks: list[Tick]

    @property
    def empty(self) -> bool:
        return not self.groups

    @property
    def label_x(self) -> float:
        return self.plot_left - 8

    @property
    def tick_y(self) -> float:
        return self.plot_bottom + 16


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value_text: str
    label: str


@dataclass
class Line:
    series: Series
    path: str
    points: list[Point]


@dataclass
class LineChart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    series: list[Series]
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(line.points for line in self.lines)

    @property
    def y_label_x(self) -> float:
        return self.plot_left - 6

    @property
    def x_label_y(self) -> float:
        return self.plot_bottom + 18


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def fraction(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _series(names: Sequence[str]) -> list[Series]:
    return [Series(name, *PALETTE[i % len(PALETTE)]) for i, name in enumerate(names)]


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    *,
    id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[float | None]],
    scale_max: float | None = None,
    value_format=percent,
    value_formats: Sequence | None = None,
    tick_format=percent,
    integer_ticks: bool = False,
    width: int = 640,
    label_width: int = 190,
    bar_height: int = 14,
) -> BarChart:
    """Horizontal grouped bars: one group per label, one bar per series; values[group][series].

    A None value (nothing to measure) draws no bar but keeps its "–" text. value_formats, one per
    series, overrides value_format.
    """
    formats = list(value_formats) if value_formats else [value_format] * len(series)
    flat = [v for row in values for v in row if v is not None]
    top = scale_max if scale_max is not None else _nice_max(max(flat, default=0))
    chosen = _series(series)
    plot_left, plot_right, top_pad = float(label_width), float(width - 48), 8.0
    plot_width = plot_right - plot_left
    group_height = bar_height * len(chosen) + 12
    groups = []
    for g, (label, row) in enumerate(zip(labels, values, strict=True)):
        y0 = top_pad + g * group_height
        bars = []
        for s, value in enumerate(row):
            length = 0.0 if value is None else plot_width * min(value / top, 1.0)
            y = y0 + s * bar_height
            bars.append(
                Bar(
                    series=chosen[s],
                    x=plot_left,
                    y=y,
                    width=round(length, 1),
                    height=bar_height - 2,
                    value_text=formats[s](value),
                    text_x=round(plot_left + length + 4, 1),
                    text_y=y + bar_height - 4,
                )
            )
        groups.append(BarGroup(label=label, label_y=y0 + (bar_height * len(chosen)) / 2 + 4, bars=bars))
    plot_bottom = top_pad + len(groups) * group_height
    # Counts get whole-number ticks (0, 1, 2 … rather than 1.25); fractions get quarters.
    intervals = next((n for n in (4, 5, 2, 1) if (top / n).is_integer()), 4) if integer_ticks else 4
    ticks = [
        Tick(position=round(plot_left + plot_width * i / intervals, 1), label=tick_format(top * i / intervals))
        for i in range(intervals + 1)
    ]
    return BarChart(
        id=id,
        title=title,
        desc=desc,
        width=width,
        height=int(plot_bottom + 24),
        plot_left=plot_left,
        plot_right=plot_right,
        plot_bottom=plot_bottom,
        series=chosen,
        groups=groups,
        ticks=ticks,
    )


def line_chart(
    *,
    id: str,
    title: str,
    desc: str,
    x_values: Sequence[date],
    series: Sequence[str],
    values: Sequence[Sequence[float | None]],
    scale_max: float = 1.0,
    value_format=fraction,
    value_formats: Sequence | None = None,
    tick_format=fraction,
    width: int = 640,
    height: int = 240,
    max_x_labels: int = 8,
) -> LineChart:
    """Lines over weeks: values[series][week]; a None breaks the line (nothing measured that week)."""
    # Room on the right for the last week's label, which is centred on its point.
    plot_left, plot_right, plot_top, plot_bottom = 48.0, float(width - 30), 12.0, float(height - 32)
    plot_width, plot_height = plot_right - plot_left, plot_bottom - plot_top
    n = len(x_values)

    def x_at(i: int) -> float:
        return round(plot_left + (plot_width * i / (n - 1) if n > 1 else plot_width / 2), 1)

    def y_at(value: float) -> float:
        return round(plot_bottom - plot_height * min(max(value / scale_max, 0.0), 1.0), 1)

    chosen = _series(series)
    formats = list(value_formats) if value_formats else [value_format] * len(series)
    lines = []
    for s, row in enumerate(values):
        points, commands, pen_down = [], [], False
        for i, value in enumerate(row):
            if value is None:
                pen_down = False
                continue
            point = Point(x_at(i), y_at(value), formats[s](value), f"{x_values[i]:%d %b %Y}")
            points.append(point)
            commands.append(f"{'L' if pen_down else 'M'}{point.x} {point.y}")
            pen_down = True
        lines.append(Line(series=chosen[s], path=" ".join(commands), points=points))
    step = max(1, -(-n // max_x_labels))
    x_ticks = [Tick(x_at(i), f"{x_values[i]:%d %b}") for i in range(0, n, step)]
    y_ticks = [Tick(y_at(scale_max * i / 4), tick_format(scale_max * i / 4)) for i in range(5)]
    return LineChart(
        id=id,
        title=title,
        desc=desc,
        width=width,
        height=height,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        series=chosen,
        lines=lines,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
    )


# ---------------------------------------------------------------------------------------------
# The charts of the edit analytics page
# ---------------------------------------------------------------------------------------------

# Lines in a learning trend chart; the rest stay in its table.
TREND_MAX_SERIES = 6
RATE_SERIES = ("Approval rate", "Edit rate", "Median edit distance")


def _rates_chart(id: str, title: str, rows: Sequence[AnalyticsRow], what: str) -> BarChart:
    return bar_chart(
        id=id,
        title=title,
        desc=(
            f"Horizontal bars per {what} on a scale of 0 to 1: approval rate and edit rate (1 = 100%) "
            "and median edit distance (0 = unchanged, 1 = rewritten). The same figures are in the table "
            "below."
        ),
        labels=[row.label for row in rows],
        series=RATE_SERIES,
        values=[(row.approval_rate, row.edit_rate, row.median_distance) for row in rows],
        scale_max=1.0,
        value_formats=(percent, percent, fraction),
        tick_format=lambda v: f"{v:g}",
    )


def _trend_chart(id: str, title: str, trend: Trend, what: str) -> LineChart:
    shown = trend.series[:TREND_MAX_SERIES]
    return line_chart(
        id=id,
        title=title,
        desc=(
            f"Median edit distance per week for the {len(shown)} {what} with the most edits; 0 means "
            "reviewers changed nothing, 1 that they rewrote everything. A falling line means drafts "
            "need less editing. The table below has every value and the number of edits."
        ),
        x_values=trend.weeks,
        series=[s.label for s in shown],
        values=[s.points for s in shown],
    )


def analytics_charts(analytics: EditAnalytics) -> dict[str, BarChart | LineChart]:
    return {
        "campaign": _rates_chart(
            "chart-campaign", "Decisions and edits per campaign", analytics.by_campaign, "campaign"
        ),
        "sender": _rates_chart("chart-sender", "Decisions and edits per sender", analytics.by_sender, "sender"),
        "model": _rates_chart(
            "chart-model", "Decisions and edits per provider and model", analytics.by_model, "provider and model"
        ),
        "weekly": line_chart(
            id="chart-weekly",
            title="Decisions and edits per week",
            width=900,
            desc=(
                "Lines over weeks: approval rate, edit rate and median edit distance, on a scale of 0 to 1. "
                "Weeks without decisions leave a gap. The table below has every value."
            ),
            x_values=[row.key[0] for row in analytics.by_week],
            series=RATE_SERIES,
            values=[
                [row.approval_rate for row in analytics.by_week],
                [row.edit_rate for row in analytics.by_week],
                [row.median_distance for row in analytics.by_week],
            ],
            value_formats=(percent, percent, fraction),
            tick_format=lambda v: f"{v:g}",
        ),
        "reasons": bar_chart(
            id="chart-reasons",
            title="Rejection reasons",
            desc="Horizontal bars: how many drafts were rejected for each reason. The table beside has the counts.",
            labels=[reason for reason, _ in analytics.reasons],
            series=("Rejections",),
            values=[(n,) for _, n in analytics.reasons],
            value_format=lambda v: "–" if v is None else f"{v:.0f}",
            tick_format=lambda v: f"{v:g}",
            integer_ticks=True,
        ),
        "trend_campaign": _trend_chart(
            "chart-trend-campaign", "Learning from edits: per campaign", analytics.trend_by_campaign, "campaigns"
        ),
        "trend_sender": _trend_chart(
            "chart-trend-sender", "Learning from edits: per sender", analytics.trend_by_sender, "senders"
        ),
    }


# ---------------------------------------------------------------------------------------------
# The charts of the bounces-and-complaints page
# ---------------------------------------------------------------------------------------------


def fine_percent(value: float | None) -> str:
    """Rates near the complaint limit (0.1 %) need decimals."""
    if value is None:
        return "–"
    return f"{value * 100:.2f}%" if value < 0.01 else f"{value * 100:.1f}%"


def deliverability_chart(
    *, id: str, title: str, labels: Sequence[str], rates: Sequence[float | None], limit: float, window: int, what: str
) -> BarChart:
    """One rate per sender or domain, on a scale that always shows the brake's limit."""
    top = _nice_max(max([limit * 2, *[r for r in rates if r is not None]]))
    return bar_chart(
        id=id,
        title=title,
        desc=(
            f"Horizontal bars, one per {what}: the share of its last {window} sends that {title.split(' rate')[0].lower()}, "
            f"on a scale of 0 to {fine_percent(top)}. Sending pauses above {fine_percent(limit)}. The table below has "
            "every figure."
        ),
        labels=labels,
        series=[title.split(" per ")[0]],
        values=[[rate] for rate in rates],
        scale_max=top,
        value_format=fine_percent,
        tick_format=fine_percent,
    )
