"""The series behind ``botkit report --plots``: activity per UTC day, and each first-reply time.

Counted exactly as :func:`botkit.desk.report.support_figures` counts (the same windows, the same rows), so
that a plot and the table beside it never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from botkit.db.schema import tickets, turns
from botkit.desk.report import in_window, utc


@dataclass(frozen=True)
class DailyActivity:
    """One UTC day of the window (the first and last may be partial): the figures the daily plot shows."""

    day: datetime
    conversations: int
    handoffs: int


def first_reply_seconds(engine: Engine, since: datetime, until: datetime | None = None) -> list[float]:
    """Each first-reply time (seconds), in ticket order: what
    :attr:`~botkit.desk.report.SupportFigures.first_reply` summarises."""
    since = utc(since)
    until = utc(until) if until is not None else datetime.now(UTC)
    with engine.connect() as conn:
        rows = conn.execute(
            select(tickets.c.created_at, tickets.c.first_reply_at)
            .where(
                in_window(tickets.c.created_at, since, until),
                tickets.c.first_reply_at.is_not(None),
                tickets.c.first_reply_at < until,
            )
            .order_by(tickets.c.id)
        ).all()
    return [(utc(end) - utc(start)).total_seconds() for start, end in rows]


def daily_activity(engine: Engine, since: datetime, until: datetime | None = None) -> list[DailyActivity]:
    """Conversations and handoffs per UTC day of the window, counted as :class:`SupportFigures` counts them.

    A conversation active on two days counts on both. Days are cut in Python (one query each), because the
    databases disagree on which time zone a date is taken in.
    """
    since = utc(since)
    until = utc(until) if until is not None else datetime.now(UTC)
    days: list[DailyActivity] = []
    start = since
    with engine.connect() as conn:
        while start < until:
            midnight = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
            end = min(midnight, until)
            conversations = conn.scalar(
                select(func.count(func.distinct(turns.c.conversation))).where(
                    turns.c.role == "user", in_window(turns.c.created_at, start, end)
                )
            )
            handoffs = conn.scalar(
                select(func.count()).select_from(tickets).where(in_window(tickets.c.created_at, start, end))
            )
            days.append(
                DailyActivity(
                    start.replace(hour=0, minute=0, second=0, microsecond=0),
                    conversations or 0,
                    handoffs or 0,
                )
            )
            start = end
    return days
