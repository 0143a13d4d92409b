"""The dashboard's inline SVG charts: one bar per value, heights in proportion, labels escaped."""

from __future__ import annotations

import re

from botkit.console.charts import bar_chart
from botkit.console.pages_dashboard import duration, percent


def heights(svg: str) -> list[float]:
    """The bars' heights, in drawing order (the legend's squares have no title and are left out)."""
    return [float(h) for h in re.findall(r'height="([\d.]+)" fill="#[0-9a-f]+"><title>', svg)]


def test_bars_are_in_proportion_and_grouped_by_series() -> None:
    svg = str(bar_chart("Ratings", ["1", "2", "3"], [("a", [1, 2, 4]), ("b", [0, 0, 2])], chart_id="c"))
    bars = heights(svg)
    assert len(bars) == 6
    assert bars[4] == 2 * bars[2] == 4 * bars[0]  # a: 1, 2, 4
    assert bars[1] == 0
    assert bars[5] == bars[2]  # b's 2 is as tall as a's 2
    assert '<title id="c-title">Ratings</title>' in svg


def test_labels_and_titles_are_escaped() -> None:
    svg = str(bar_chart("<script>x</script>", ["<b>"], [("<i>", [1])]))
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "&lt;script&gt;x&lt;/script&gt;" in svg


def test_a_month_of_days_writes_every_third_date() -> None:
    labels = [f"12-{d:02d}" for d in range(1, 31)]
    svg = str(bar_chart("Days", labels, [("n", [1] * 30)]))
    assert "12-01" in svg
    assert "12-04" in svg
    assert "12-02<" not in svg


def test_figures_read_as_people_read_them() -> None:
    assert percent(0.25) == "25.0%"
    assert percent(None) == "\u2013"
    assert duration(42) == "42 s"
    assert duration(210) == "3.5 min"
    assert duration(7200) == "2.0 h"
