"""The support figures: what a support lead asks of a desk, computed from the database over a time window.

Every figure is defined over the half-open window ``[since, until)`` in UTC (``until`` defaults to now), from
the tables of :mod:`botkit.db.schema` with SQL that runs the same on SQLite and PostgreSQL. Time differences
and percentiles are taken in Python on the fetched timestamps, because the two databases subtract times
differently; grouping questions by their normalised text is finished in Python for the same reason.

Definitions (the docstring of each field of :class:`SupportFigures` repeats its own):

- a conversation *counts* for the window when it has at least one ``turns`` row with ``role = 'user'`` and
  ``created_at`` in the window;
- a conversation is *contained* when it counts and no ticket of it was open at any moment of the window: no
  ticket with ``created_at < until`` that had not ended (``coalesce(resolved_at, closed_at)``) before
  ``since``;
- a *handoff* is a ticket with ``created_at`` in the window; the handoff rate is the share of counted
  conversations that got at least one;
- durations are measured on the tickets opened in the window whose end point (first reply, resolution) is
  known before ``until``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, exists, func, or_, select

from botkit.db.schema import desk_events, tickets, turns

RATINGS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Durations:
    """Seconds from a ticket's ``created_at`` to a later moment, over the tickets where it is known.

    ``median`` and ``p90`` interpolate linearly between the nearest ranks (numpy's default, and
    ``statistics.quantiles(method="inclusive")``); both are None when ``count`` is 0.
    """

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class Question:
    """A question the knowledge base was unsure about, as most often written, and how often it was asked."""

    text: str
    count: int


@dataclass(frozen=True)
class SupportFigures:
    """The desk's figures over ``[since, until)``; the module docstring defines the terms.

    Attributes:
        since: start of the window (UTC, included).
        until: end of the window (UTC, excluded).
        conversations: conversations with a user message in the window.
        contained: of those, the ones no ticket was open for at any moment of the window.
        containment_rate: ``contained / conversations``; None without conversations.
        handoffs: tickets opened in the window (whichever conversation they belong to).
        handed_off_conversations: counted conversations with at least one ticket opened in the window.
        handoff_rate: ``handed_off_conversations / conversations``; None without conversations.
        handoff_reasons: tickets opened in the window per ``tickets.reason``, most frequent first.
        first_reply: ``first_reply_at - created_at`` of tickets opened in the window and first answered by a
            person before ``until``.
        resolution: ``resolved_at - created_at`` of tickets opened in the window and resolved before
            ``until``.
        unanswered: the most frequent questions of ``desk_events`` of kind ``unsure`` in the window, grouped
            by normalised text (:func:`normalise_question`): what to write new knowledge-base entries for.
        answered_from_kb: ``desk_events`` of kind ``answered`` in the window.
        unhelpful: ``desk_events`` of kind ``unhelpful`` in the window (answers the user said did not help).
        csat_count: ratings 1..5 given in the window (``rated_at``, else the ticket's ``resolved_at``).
        csat_mean: their mean; None without ratings.
        csat_distribution: how many of them were 1, 2, 3, 4 and 5 (keys 1..5, zeros included).
    """

    since: datetime
    until: datetime
    conversations: int
    contained: int
    containment_rate: float | None
    handoffs: int
    handed_off_conversations: int
    handoff_rate: float | None
    handoff_reasons: dict[str, int]
    first_reply: Durations
    resolution: Durations
    unanswered: tuple[Question, ...]
    answered_from_kb: int
    unhelpful: int
    csat_count: int
    csat_mean: float | None
    csat_distribution: dict[int, int]

    def to_json(self) -> dict[str, Any]:
        """The figures as plain JSON values (times in ISO 8601, rating keys as strings)."""
        data = asdict(self)
        data["since"] = self.since.isoformat()
        data["until"] = self.until.isoformat()
        data["csat_distribution"] = {str(k): v for k, v in self.csat_distribution.items()}
        data["unanswered"] = [asdict(question) for question in self.unanswered]
        return data


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive time is taken to be UTC already (SQLite hands stored times back naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values``, linear between the nearest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


_SPACE = re.compile(r"\s+")
_TRAILING = "?？!！.。,，;；:： "


def normalise_question(text: str) -> str:
    """The key questions are grouped by: NFKC, case-folded, runs of spaces made one, trailing punctuation off.

    "Where is my ORDER?" and "where is  my order" group together; full-width Chinese punctuation is dropped as
    the ASCII one is.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", folded).strip().rstrip(_TRAILING)


def in_window(column: Any, since: datetime, until: datetime) -> ColumnElement[bool]:
    """``since <= column < until``: the half-open window every figure uses."""
    return and_(column >= since, column < until)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _durations(rows: Sequence[Any]) -> Durations:
    seconds = [(utc(end) - utc(start)).total_seconds() for start, end in rows]
    return Durations(len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.9))


def support_figures(
    engine: Engine, since: datetime, until: datetime | None = None, *, top_questions: int = 10
) -> SupportFigures:
    """The support figures over ``[since, until)`` (``until`` defaults to now); see :class:`SupportFigures`.

    Raises:
        ValueError: ``until`` is not after ``since``.
    """
    since = utc(since)
    until = utc(until) if until is not None else datetime.now(UTC)
    if until <= since:
        raise ValueError(
            f"the window's end ({until.isoformat()}) is not after its start ({since.isoformat()})"
        )
    active = (
        select(turns.c.conversation)
        .where(turns.c.role == "user", in_window(turns.c.created_at, since, until))
        .distinct()
        .subquery("active")
    )
    ended = func.coalesce(tickets.c.resolved_at, tickets.c.closed_at)
    open_in_window = exists().where(
        tickets.c.conversation == active.c.conversation,
        tickets.c.created_at < until,
        or_(ended.is_(None), ended >= since),
    )
    opened = in_window(tickets.c.created_at, since, until)
    with engine.connect() as conn:
        conversations = conn.scalar(select(func.count()).select_from(active)) or 0
        contained = conn.scalar(select(func.count()).select_from(active).where(~open_in_window)) or 0
        handed_off = (
            conn.scalar(
                select(func.count(func.distinct(tickets.c.conversation))).where(
                    opened, tickets.c.conversation.in_(select(active.c.conversation))
                )
            )
            or 0
        )
        reasons = conn.execute(
            select(tickets.c.reason, func.count()).where(opened).group_by(tickets.c.reason)
        ).all()
        first_reply = conn.execute(
            select(tickets.c.created_at, tickets.c.first_reply_at).where(
                opened, tickets.c.first_reply_at.is_not(None), tickets.c.first_reply_at < until
            )
        ).all()
        resolution = conn.execute(
            select(tickets.c.created_at, tickets.c.resolved_at).where(
                opened, tickets.c.resolved_at.is_not(None), tickets.c.resolved_at < until
            )
        ).all()
        unsure = conn.execute(
            select(desk_events.c.question, func.count())
            .where(
                desk_events.c.kind == "unsure",
                desk_events.c.question.is_not(None),
                in_window(desk_events.c.at, since, until),
            )
            .group_by(desk_events.c.question)
        ).all()
        event_counts: dict[str, int] = dict(
            conn.execute(
                select(desk_events.c.kind, func.count())
                .where(
                    desk_events.c.kind.in_(("answered", "unhelpful")),
                    in_window(desk_events.c.at, since, until),
                )
                .group_by(desk_events.c.kind)
            ).all()
        )
        ratings: dict[int, int] = dict(
            conn.execute(
                select(tickets.c.rating, func.count())
                .where(
                    tickets.c.rating.in_(RATINGS),
                    in_window(func.coalesce(tickets.c.rated_at, tickets.c.resolved_at), since, until),
                )
                .group_by(tickets.c.rating)
            ).all()
        )
    handoff_reasons = dict(sorted(((r, int(n)) for r, n in reasons), key=lambda item: (-item[1], item[0])))
    distribution = {rating: int(ratings.get(rating, 0)) for rating in RATINGS}
    csat_count = sum(distribution.values())
    return SupportFigures(
        since=since,
        until=until,
        conversations=conversations,
        contained=contained,
        containment_rate=_rate(contained, conversations),
        handoffs=sum(handoff_reasons.values()),
        handed_off_conversations=handed_off,
        handoff_rate=_rate(handed_off, conversations),
        handoff_reasons=handoff_reasons,
        first_reply=_durations(first_reply),
        resolution=_durations(resolution),
        unanswered=top_unanswered(unsure, top_questions),
        answered_from_kb=int(event_counts.get("answered", 0)),
        unhelpful=int(event_counts.get("unhelpful", 0)),
        csat_count=csat_count,
        csat_mean=sum(r * n for r, n in distribution.items()) / csat_count if csat_count else None,
        csat_distribution=distribution,
    )


def top_unanswered(counted: Sequence[Any], top: int) -> tuple[Question, ...]:
    """``(question, count)`` rows grouped by :func:`normalise_question`, the ``top`` most frequent first.

    A group is shown as its most frequent spelling (ties: the alphabetically first); groups with the same
    count are ordered by that text, so the list is the same on every database.
    """
    spellings: dict[str, Counter[str]] = {}
    for question, count in counted:
        key = normalise_question(question)
        if key:
            spellings.setdefault(key, Counter())[question.strip()] += int(count)
    groups = [
        Question(min(forms, key=lambda form: (-forms[form], form)), sum(forms.values()))
        for forms in spellings.values()
    ]
    groups.sort(key=lambda q: (-q.count, q.text))
    return tuple(groups[:top])


def ticket_counts(engine: Engine) -> dict[str, int]:
    """Tickets per status now (``waiting``, ``assigned``, ``resolved``, ``closed``), whatever their age."""
    with engine.connect() as conn:
        rows = conn.execute(select(tickets.c.status, func.count()).group_by(tickets.c.status)).all()
    return {status: int(n) for status, n in rows}
