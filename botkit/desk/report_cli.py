"""``botkit report``: the support figures of a time window as a table, as JSON, or as PNG plots.

Registered through the ``botkit.commands`` entry points; the figures (:mod:`botkit.desk.report`), the
database and matplotlib are imported only when the command runs, so that ``botkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from botkit.desk.report import Durations, SupportFigures

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """A point in time from the command line: ``30m``, ``12h``, ``7d``, ``2w`` ago, or an ISO date or time.

    A date or time without a zone is UTC.

    Raises:
        argparse.ArgumentTypeError: with what was wrong and what is accepted.
    """
    now = now or datetime.now(UTC)
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a span (30m, 12h, 7d, 2w) nor an ISO date or time (2026-03-02, "
            "2026-03-02T09:00)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``botkit report``: containment, handoffs, reply and resolution times, unanswered questions,
    CSAT."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="the support desk's figures over a time window (table, --json, --plots)",
        description=(
            "Containment and handoff rates, handoff reasons, time to the first human reply, resolution time, "
            "the questions the knowledge base could not answer, and CSAT, from the bot's database."
        ),
    )
    parser.add_argument(
        "--config", metavar="FILE", help="botkit.toml (default: $BOTKIT_CONFIG or ./botkit.toml)"
    )
    parser.add_argument(
        "--since",
        type=parse_moment,
        default="7d",
        metavar="WHEN",
        help="start of the window: 30m, 12h, 7d, 2w ago, or an ISO date/time in UTC (default: 7d)",
    )
    parser.add_argument(
        "--until", type=parse_moment, metavar="WHEN", help="end of the window, same forms (default: now)"
    )
    parser.add_argument("--top", type=int, default=10, metavar="N", help="unanswered questions to list")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument(
        "--plots", type=Path, metavar="DIR", help="also write PNG plots there (needs matplotlib: botkit[kb])"
    )
    parser.set_defaults(handler=run)
    return parser


def open_database(config: str | None, command: str) -> Engine | int:
    """The engine of the bot's database named by ``config``, or the exit code after saying why not.

    An SQLite file that does not exist is not created: a report on an empty database made by mistake
    (the wrong folder, a missing ``--config``) would read as a quiet week.
    """
    from botkit.config import ConfigError, load_settings
    from botkit.db.engine import database_url, open_engine

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        print(f"botkit {command}: {exc}", file=sys.stderr)
        return 2
    url = database_url(settings)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        print(
            f"botkit {command}: no database at {url.removeprefix('sqlite:///')} (has the bot run here? "
            "--config names the project's botkit.toml)",
            file=sys.stderr,
        )
        return 1
    try:
        return open_engine(url)
    except Exception as exc:  # any driver's error (server down, bad URL) becomes one line, not a traceback
        from sqlalchemy.engine import make_url

        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if shown not in reason:  # botkit's own errors name the database already
            reason = f"cannot open the database {shown}: {reason}"
        print(f"botkit {command}: {reason}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    """``botkit report``: print the figures (and write the plots); returns the exit status."""
    from botkit.desk.report import support_figures

    if args.top < 0:
        print("botkit report: --top must be 0 or more", file=sys.stderr)
        return 2
    engine = open_database(args.config, "report")
    if isinstance(engine, int):
        return engine
    try:
        try:
            figures = support_figures(engine, args.since, args.until, top_questions=args.top)
        except ValueError as exc:
            print(f"botkit report: {exc}", file=sys.stderr)
            return 2
        print(
            json.dumps(figures.to_json(), ensure_ascii=False, indent=2)
            if args.json
            else format_table(figures)
        )
        if args.plots is not None:
            from botkit.desk.report_plots import write_plots

            try:
                written = write_plots(engine, figures, args.plots)
            except ImportError:
                print("botkit report: --plots needs matplotlib: pip install 'botkit[kb]'", file=sys.stderr)
                return 1
            for path in written:
                print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    finally:
        engine.dispose()
    return 0


def format_duration(seconds: float | None) -> str:
    """``95`` -> ``1m 35s``; ``7260`` -> ``2h 1m``; ``None`` -> ``-`` (nothing measured)."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def _times(label: str, durations: Durations, what: str) -> list[tuple[str, str, str]]:
    return [
        (f"{label}, median", format_duration(durations.median), f"over {durations.count} {what}"),
        (f"{label}, p90", format_duration(durations.p90), ""),
    ]


def format_table(figures: SupportFigures) -> str:
    """The figures as an aligned plain-text table, then the unanswered questions."""
    days = (figures.until - figures.since).total_seconds() / 86400
    rows: list[tuple[str, str, str]] = [
        ("conversations", str(figures.conversations), "with a user message in the window"),
        ("contained", str(figures.contained), f"{_percent(figures.containment_rate)}, no person involved"),
        (
            "handed off",
            str(figures.handed_off_conversations),
            f"{_percent(figures.handoff_rate)} of conversations; {figures.handoffs} tickets opened",
        ),
    ]
    rows += [(f"  reason: {reason}", str(n), "") for reason, n in figures.handoff_reasons.items()]
    rows += _times("first human reply", figures.first_reply, "tickets answered")
    rows += _times("resolution", figures.resolution, "tickets resolved")
    rows += [
        ("answered from the KB", str(figures.answered_from_kb), ""),
        ("marked unhelpful", str(figures.unhelpful), ""),
        (
            "CSAT",
            "-" if figures.csat_mean is None else f"{figures.csat_mean:.2f}",
            f"mean of {figures.csat_count} ratings (1..5): "
            + "  ".join(f"{k}:{v}" for k, v in figures.csat_distribution.items()),
        ),
    ]
    label_width = max(len(label) for label, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    lines = [
        f"Support desk, {figures.since:%Y-%m-%d %H:%M} to {figures.until:%Y-%m-%d %H:%M} UTC "
        f"({days:.1f} days)",
        "",
        *(f"{label:<{label_width}}  {value:>{value_width}}  {note}".rstrip() for label, value, note in rows),
        "",
        "Unanswered questions (the knowledge base was unsure):",
    ]
    if not figures.unanswered:
        lines.append("  none")
    count_width = max((len(str(q.count)) for q in figures.unanswered), default=1)
    lines += [f"  {q.count:>{count_width}}  {q.text}" for q in figures.unanswered]
    return "\n".join(lines)
