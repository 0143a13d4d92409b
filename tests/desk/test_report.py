"""The support figures, each checked exactly on a scripted week, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import statistics
from datetime import timedelta, timezone

import pytest

from botkit.db.engine import open_engine
from botkit.db.schema import metadata
from botkit.desk.report import (
    Question,
    normalise_question,
    percentile,
    support_figures,
    ticket_counts,
)
from botkit.desk.report_series import daily_activity, first_reply_seconds
from tests.desk import report_history as history


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    # The tables straight from the schema: these tests check the figures, not the migrations (tested apart).
    engine = open_engine(database_url, migrate=False)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_every_figure_of_the_scripted_week(engine) -> None:  # type: ignore[no-untyped-def]
    history.fill(engine)
    figures = support_figures(engine, history.T0, history.UNTIL)

    assert figures.conversations == history.EXPECTED_CONVERSATIONS == 8
    assert figures.contained == history.EXPECTED_CONTAINED == 3
    assert figures.containment_rate == 3 / 8
    assert figures.handoffs == history.EXPECTED_HANDOFFS == 6
    assert figures.handed_off_conversations == history.EXPECTED_HANDED_OFF == 4
    assert figures.handoff_rate == 4 / 8
    assert figures.handoff_reasons == history.EXPECTED_REASONS
    assert list(figures.handoff_reasons) == ["asked", "keyword", "plugin", "unhelpful", "unsure"]

    # sorted first replies: 60, 120, 300, 600 -> median (120 + 300) / 2; p90 at rank 2.7: 300 + 0.7 * 300
    assert figures.first_reply.count == 4
    assert figures.first_reply.median == 210.0
    assert figures.first_reply.p90 == pytest.approx(510.0, abs=1e-9)
    assert statistics.quantiles(history.EXPECTED_FIRST_REPLY, n=10, method="inclusive")[8] == pytest.approx(
        510.0
    )
    # sorted resolutions: 1800, 3600, 7200 -> median 3600; p90 at rank 1.8: 3600 + 0.8 * 3600
    assert figures.resolution.count == 3
    assert figures.resolution.median == 3600.0
    assert figures.resolution.p90 == pytest.approx(6480.0, abs=1e-9)

    assert [(q.text, q.count) for q in figures.unanswered] == history.EXPECTED_UNANSWERED
    assert figures.answered_from_kb == 4
    assert figures.unhelpful == 2
    assert figures.csat_distribution == history.EXPECTED_CSAT
    assert figures.csat_count == 3
    assert figures.csat_mean == 3.0
    assert figures.since == history.T0
    assert figures.until == history.UNTIL


def test_top_questions_cuts_the_list(engine) -> None:  # type: ignore[no-untyped-def]
    history.fill(engine)
    figures = support_figures(engine, history.T0, history.UNTIL, top_questions=2)
    assert figures.unanswered == (Question("Where is my order?", 3), Question("Can I pay with bitcoin", 2))


def test_window_boundaries(engine) -> None:  # type: ignore[no-untyped-def]
    history.fill(engine)
    # The first day alone: telegram:1, telegram:2 and telegram:10 (at T0 exactly), tickets 2 and 9.
    day = support_figures(engine, history.T0, history.T0 + history.D)
    assert (day.conversations, day.contained, day.handoffs, day.handed_off_conversations) == (3, 2, 2, 1)
    assert day.handoff_reasons == {"asked": 1, "unhelpful": 1}
    assert (day.first_reply.count, day.resolution.count) == (2, 2)
    assert day.csat_distribution == {1: 1, 2: 0, 3: 0, 4: 0, 5: 1}
    # One second before the window: only telegram:9's message, and the unsure question and answer there.
    before = support_figures(engine, history.T0 - history.S, history.T0)
    assert (before.conversations, before.contained, before.handoffs) == (1, 1, 0)
    assert before.unanswered == (Question("Do you ship to Mars?", 1),)
    assert before.answered_from_kb == 1
    # A time zone other than UTC names the same instant.
    plus_eight = timezone(timedelta(hours=8))
    same = support_figures(engine, history.T0.astimezone(plus_eight), history.UNTIL.astimezone(plus_eight))
    assert same.conversations == 8
    assert same.since == history.T0
    # Ticket 7's first reply came 10 s after the window: a window reaching past it measures it.
    later = support_figures(engine, history.T0, history.UNTIL + timedelta(minutes=1))
    assert later.first_reply.count == 5
    assert later.handoffs == 7  # ticket 8, opened at UNTIL, is inside now


def test_empty_database_has_no_rates(engine) -> None:  # type: ignore[no-untyped-def]
    figures = support_figures(engine, history.T0, history.UNTIL)
    assert (figures.conversations, figures.contained, figures.handoffs) == (0, 0, 0)
    assert figures.containment_rate is None
    assert figures.handoff_rate is None
    assert figures.csat_mean is None
    assert figures.first_reply.median is None
    assert figures.first_reply.p90 is None
    assert figures.resolution.count == 0
    assert figures.unanswered == ()
    assert figures.csat_distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    assert figures.to_json()["containment_rate"] is None
    assert daily_activity(engine, history.T0, history.T0 + 2 * history.D)[1].conversations == 0
    assert ticket_counts(engine) == {}


def test_a_window_that_ends_before_it_starts_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="is not after its start"):
        support_figures(engine, history.UNTIL, history.T0)


def test_daily_activity_and_first_replies(engine) -> None:  # type: ignore[no-untyped-def]
    history.fill(engine)
    days = daily_activity(engine, history.T0, history.UNTIL)
    assert [d.day for d in days] == [history.T0 + i * history.D for i in range(7)]
    assert [(d.conversations, d.handoffs) for d in days] == history.EXPECTED_DAILY
    # A window starting mid-day: the first day is partial and still dated at its midnight.
    partial = daily_activity(
        engine, history.T0 + history.H + 60 * history.S, history.T0 + history.D + history.H
    )
    assert [(d.day, d.conversations, d.handoffs) for d in partial] == [
        (history.T0, 2, 2),  # telegram:1 (its 01:05 message), telegram:2; telegram:10 (at T0) is outside
        (history.T0 + history.D, 1, 1),
    ]
    assert first_reply_seconds(engine, history.T0, history.UNTIL) == history.EXPECTED_FIRST_REPLY
    assert ticket_counts(engine) == {"resolved": 4, "closed": 1, "assigned": 2, "waiting": 2}


def test_to_json_is_plain() -> None:
    from botkit.desk.report import Durations, SupportFigures

    figures = SupportFigures(
        since=history.T0,
        until=history.UNTIL,
        conversations=2,
        contained=1,
        containment_rate=0.5,
        handoffs=1,
        handed_off_conversations=1,
        handoff_rate=0.5,
        handoff_reasons={"asked": 1},
        first_reply=Durations(1, 5.0, 5.0),
        resolution=Durations(0, None, None),
        unanswered=(Question("x", 2),),
        answered_from_kb=0,
        unhelpful=0,
        csat_count=1,
        csat_mean=4.0,
        csat_distribution={1: 0, 2: 0, 3: 0, 4: 1, 5: 0},
    )
    data = figures.to_json()
    assert data["since"] == "2026-03-02T00:00:00+00:00"
    assert data["first_reply"] == {"count": 1, "median": 5.0, "p90": 5.0}
    assert data["unanswered"] == [{"text": "x", "count": 2}]
    assert data["csat_distribution"]["4"] == 1
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Where is my ORDER?", "where is my order"),
        ("  where   is my order ", "where is my order"),
        ("我的订单在哪里？", "我的订单在哪里"),
        ("\uff26\uff35\uff2c\uff2c width!!", "full width"),  # full-width letters
        ("?", ""),
    ],
)
def test_normalise_question(text: str, key: str) -> None:
    assert normalise_question(text) == key


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.9) == pytest.approx(3.7)
