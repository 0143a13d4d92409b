"""PNG plots of the support figures (``botkit report --plots DIR``), drawn with matplotlib's Agg backend.

- ``daily.png``: conversations and handoffs per UTC day of the window
  (:func:`~botkit.desk.report_series.daily_activity`);
- ``csat.png``: how many ratings of each value 1..5, with the mean in the title;
- ``first_reply.png``: a histogram of the times to the first human reply, in minutes, median and p90 marked.

A plot with nothing to show still gets written, saying so, so that a dashboard's image link never breaks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from botkit.desk.report_series import DailyActivity, daily_activity, first_reply_seconds

if TYPE_CHECKING:
    from botkit.desk.report import SupportFigures


def write_plots(engine: Engine, figures: SupportFigures, folder: Path) -> list[Path]:
    """Write the three plots of ``figures``' window into ``folder`` (made if missing); their paths.

    Raises:
        ImportError: matplotlib is not installed (it comes with the ``kb`` extra).
    """
    import matplotlib

    matplotlib.use("Agg")  # no display: a server or a CI job
    from matplotlib import pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    days = daily_activity(engine, figures.since, figures.until)
    replies = first_reply_seconds(engine, figures.since, figures.until)
    plots: list[tuple[str, Callable[[Any], None]]] = [
        ("daily.png", lambda ax: _daily(ax, days)),
        ("csat.png", lambda ax: _csat(ax, figures)),
        ("first_reply.png", lambda ax: _first_reply(ax, figures, replies)),
    ]
    written = []
    for name, draw in plots:
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        try:
            draw(ax)
            fig.tight_layout()
            path = folder / name
            fig.savefig(path)
            written.append(path)
        finally:
            plt.close(fig)
    return written


def _nothing(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this window", ha="center", va="center", transform=ax.transAxes)


def _daily(ax: Any, days: list[DailyActivity]) -> None:
    positions = range(len(days))
    width = 0.4
    ax.bar([p - width / 2 for p in positions], [d.conversations for d in days], width, label="conversations")
    ax.bar([p + width / 2 for p in positions], [d.handoffs for d in days], width, label="handoffs")
    step = max(1, len(days) // 14)  # at most about 14 date labels
    ax.set_xticks(list(positions)[::step], [f"{d.day:%m-%d}" for d in days][::step])
    ax.set_xlabel("day (UTC)")
    ax.set_ylabel("count")
    ax.set_title("Conversations and handoffs per day")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    if not any(d.conversations or d.handoffs for d in days):
        _nothing(ax, "conversations")


def _csat(ax: Any, figures: SupportFigures) -> None:
    ratings = list(figures.csat_distribution)
    ax.bar([str(r) for r in ratings], [figures.csat_distribution[r] for r in ratings], color="tab:green")
    mean = "no ratings" if figures.csat_mean is None else f"mean {figures.csat_mean:.2f}"
    ax.set_title(f"CSAT: {figures.csat_count} ratings, {mean}")
    ax.set_xlabel("rating")
    ax.set_ylabel("ratings")
    ax.yaxis.get_major_locator().set_params(integer=True)
    if not figures.csat_count:
        _nothing(ax, "ratings")


def _first_reply(ax: Any, figures: SupportFigures, replies: list[float]) -> None:
    minutes = [s / 60 for s in replies]
    ax.set_title(f"Time to the first human reply ({len(minutes)} tickets)")
    ax.set_xlabel("minutes")
    ax.set_ylabel("tickets")
    if not minutes:
        _nothing(ax, "first replies")
        return
    ax.hist(minutes, bins=min(30, max(5, len(minutes))), color="tab:blue")
    for value, label, style in (
        (figures.first_reply.median, "median", "--"),
        (figures.first_reply.p90, "p90", ":"),
    ):
        if value is not None:
            ax.axvline(value / 60, color="black", linestyle=style, label=f"{label} {value / 60:.1f} min")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend()
