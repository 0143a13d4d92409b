"""Bar charts as inline SVG, drawn here rather than by matplotlib: the dashboard needs no extra, no image
route and no script, the charts scale with the page, and screen readers get a title and a table of the
same figures beside them. Every label is escaped; the SVG uses presentation attributes only (the console's
Content-Security-Policy allows no inline styles)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 560, 250
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 34, 52
MAX_LABELS = 12
COLOURS = ("#2f6db5", "#e07b39", "#3a9a5b", "#9b59b6", "#c0392b")


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, chart_id: str = ""
) -> Markup:
    """Grouped bars: one group per label, one bar per series (``(name, values)``, values in label order).

    The y axis starts at 0 and ends at the largest value (at least 1), with the maximum written on it.
    """
    top = max([1.0, *(v for _, values in series for v in values)])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(len(labels), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    every = math.ceil(len(labels) / MAX_LABELS) or 1  # a month of days: every third date is written
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" id="{escape(chart_id)}" aria-labelledby="{escape(chart_id)}-title">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<text x="{LEFT}" y="20" font-size="16" font-weight="bold" fill="#222">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#888"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" font-size="12" text-anchor="end" fill="#555">{_num(top)}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" font-size="12" text-anchor="end" fill="#555">0</text>',
    ]
    for i, label in enumerate(labels):
        x0 = LEFT + i * group_w + group_w * 0.1
        for j, (name, values) in enumerate(series):
            value = values[i] if i < len(values) else 0
            h = plot_h * value / top
            x = x0 + j * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{max(bar_w - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[j % len(COLOURS)]}">'
                f"<title>{escape(name)} {escape(label)}: {_num(value)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{LEFT + (i + 0.5) * group_w:.1f}" y="{TOP + plot_h + 16}" font-size="12" '
                f'text-anchor="middle" fill="#333">{escape(label)}</text>'
            )
    for j, (name, _) in enumerate(series):  # the legend, under the axis
        x = LEFT + j * 140
        y = HEIGHT - 10
        parts.append(
            f'<rect x="{x}" y="{y - 11}" width="12" height="12" fill="{COLOURS[j % len(COLOURS)]}"/>'
        )
        parts.append(f'<text x="{x + 16}" y="{y}" font-size="13" fill="#333">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
