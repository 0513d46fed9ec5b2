"""The chart geometry behind the SVGs: proportional bars, honest gaps, readable ticks."""

from __future__ import annotations

from datetime import date, timedelta

from review.charts import bar_chart, line_chart


def test_bars_are_proportional_to_their_values():
    chart = bar_chart(
        id="c", title="t", desc="d", labels=["a", "b"], series=["s"], values=[(0.5,), (1.0,)], scale_max=1.0
    )
    short, full = chart.groups[0].bars[0], chart.groups[1].bars[0]
    assert full.width == chart.plot_right - chart.plot_left
    assert short.width == full.width / 2
    assert (short.value_text, full.value_text) == ("50%", "100%")


def test_a_missing_value_draws_no_bar_but_says_so():
    chart = bar_chart(id="c", title="t", desc="d", labels=["a"], series=["s"], values=[(None,)], scale_max=1.0)
    assert chart.groups[0].bars[0].width == 0
    assert chart.groups[0].bars[0].value_text == "–"


def test_counts_get_whole_number_ticks():
    chart = bar_chart(
        id="c", title="t", desc="d", labels=["a"], series=["s"], values=[(3,)], tick_format=str, integer_ticks=True
    )
    assert [float(t.label) for t in chart.ticks] == [0, 1, 2, 3, 4, 5]


def test_a_week_without_a_value_breaks_the_line():
    weeks = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(4)]
    chart = line_chart(id="c", title="t", desc="d", x_values=weeks, series=["s"], values=[[0.5, 0.4, None, 0.2]])
    line = chart.lines[0]
    assert len(line.points) == 3
    assert line.path.count("M") == 2 and line.path.count("L") == 1


def test_higher_values_are_drawn_higher_up():
    weeks = [date(2026, 1, 5), date(2026, 1, 12)]
    chart = line_chart(id="c", title="t", desc="d", x_values=weeks, series=["s"], values=[[0.8, 0.2]])
    high, low = chart.lines[0].points
    assert high.y < low.y
    assert high.x < low.x


def test_nothing_measured_makes_an_empty_chart():
    chart = line_chart(id="c", title="t", desc="d", x_values=[], series=["s"], values=[[]])
    assert chart.empty
