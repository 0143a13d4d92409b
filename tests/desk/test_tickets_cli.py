"""``botkit tickets list | show | close`` through the installed executable, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from botkit.db.engine import open_engine
from botkit.db.schema import conversations, ticket_events, tickets
from botkit.desk.records import add_turn
from botkit.desk.tickets import Tickets
from botkit.kb.types import Source
from tests.core.installed import run_botkit

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """Each call is one minute after the previous one, from 09:00 UTC on 2026-03-02."""

    def __init__(self) -> None:
        self.ticks = itertools.count()

    def __call__(self) -> datetime:
        return START + timedelta(minutes=next(self.ticks))


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Path:
    """A project whose database holds three tickets: #1 assigned to alice and answered, #2 waiting,
    #3 resolved by bob."""
    engine = open_engine(database_url)
    clock = Clock()
    desk = Tickets(engine, clock=clock)
    with engine.begin() as conn:
        add_turn(conn, "telegram:42", "user", "my parcel never came", clock())
        add_turn(conn, "telegram:42", "assistant", "I'm not sure; shall I get a person?", clock())
    first = desk.open(
        "telegram:42",
        "asked",
        subject="my parcel never came",
        sources=[Source("policies/shipping.md", "Delivery > Lost parcels")],
        actor="user:42",
    )
    desk.take(first.id, "alice")
    desk.record_agent_reply(first.id, "alice", "Sorry! I have sent a new one.")
    desk.open("slack:U7", "unsure", subject="Do you ship to the moon?\nAsking for a friend who lives there")
    third = desk.open("discord:9", "keyword", subject="refund")
    desk.take(third.id, "bob")
    desk.resolve(third.id, "bob")
    engine.dispose()
    (tmp_path / "botkit.toml").write_text(f'database_url = "{database_url}"\n', encoding="utf-8")
    return tmp_path


def test_list(project: Path) -> None:
    done = run_botkit(["tickets", "list"], cwd=project)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().splitlines() == [
        "ID  STATUS    REASON   ASSIGNEE  OPENED (UTC)         CONVERSATION  SUBJECT",
        " 1  assigned  asked    alice     2026-03-02 09:02:00  telegram:42   my parcel never came",
        # one line, cut to 48 characters
        " 2  waiting   unsure   -         2026-03-02 09:05:00  slack:U7      "
        "Do you ship to the moon? Asking for a friend wh…",
        " 3  resolved  keyword  bob       2026-03-02 09:06:00  discord:9     refund",
    ]

    def ids(*args: str) -> list[str]:
        out = run_botkit(["tickets", "list", *args], cwd=project)
        assert out.returncode == 0, out.stderr.decode()
        return [line.split()[0] for line in out.stdout.decode().splitlines()[1:]]

    assert ids("--status", "waiting") == ["2"]
    assert ids("--status", "open") == ["1", "2"]
    assert ids("--assignee", "bob") == ["3"]
    assert ids("--status", "open", "--assignee", "alice") == ["1"]
    none = run_botkit(["tickets", "list", "--status", "closed"], cwd=project)
    assert none.stdout.decode() == "no tickets\n"
    bad = run_botkit(["tickets", "list", "--status", "lost"], cwd=project)
    assert bad.returncode == 2
    assert "invalid choice: 'lost'" in bad.stderr.decode()


def test_show(project: Path) -> None:
    done = run_botkit(["tickets", "show", "1"], cwd=project)
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "Ticket #1 (times in UTC)"
    assert "  status:         assigned" in lines
    assert "  assignee:       alice" in lines
    assert "  opened:         2026-03-02 09:02:00" in lines
    assert "  first reply:    2026-03-02 09:04:00" in lines
    assert "  resolved:       -" in lines
    assert "  policies/shipping.md > Delivery > Lost parcels" in lines
    transcript = lines[lines.index("Transcript (3 turns):") + 1 : lines.index("Events (3):")]
    assert transcript == [
        "  [2026-03-02 09:00:00] user: my parcel never came",
        "  [2026-03-02 09:01:00] bot: I'm not sure; shall I get a person?",
        "  [2026-03-02 09:04:00] agent:alice: Sorry! I have sent a new one.",
    ]
    assert lines[lines.index("Events (3):") + 1 :] == [
        "  [2026-03-02 09:02:00] opened by user:42 (reason=asked)",
        "  [2026-03-02 09:03:00] assigned by alice (assignee=alice, took=True)",
        "  [2026-03-02 09:04:00] agent_reply by alice (chars=29)",
    ]
    empty = run_botkit(["tickets", "show", "2"], cwd=project)
    assert "Transcript: empty" in empty.stdout.decode()
    assert "Sources the bot had: none" in empty.stdout.decode()


def test_close_hands_the_conversation_back(project: Path, database_url: str) -> None:
    done = run_botkit(["tickets", "close", "1", "--actor", "lead"], cwd=project)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == (
        "closed ticket #1 (was assigned); telegram:42 is answered by the bot again\n"
    )
    engine = open_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(tickets).where(tickets.c.id == 1)).one()
            assert row.status == "closed"
            assert row.closed_at is not None
            last = conn.execute(
                select(ticket_events)
                .where(ticket_events.c.ticket_id == 1)
                .order_by(ticket_events.c.id.desc())
            ).first()
            assert last is not None
            assert (last.kind, last.actor, last.data) == ("closed", "lead", {"from": "assigned"})
            mode = conn.execute(select(conversations.c.mode).where(conversations.c.key == "telegram:42"))
            assert mode.scalar() == "bot"
            # the other tickets are untouched
            assert conn.execute(select(tickets.c.status).order_by(tickets.c.id)).scalars().all() == [
                "closed",
                "waiting",
                "resolved",
            ]
    finally:
        engine.dispose()

    again = run_botkit(["tickets", "close", "1"], cwd=project)
    assert again.returncode == 1
    assert again.stderr.decode() == "botkit tickets: ticket #1 is closed already; nothing changed\n"
    resolved = run_botkit(["tickets", "close", "3"], cwd=project)
    assert resolved.stdout.decode() == "closed ticket #3 (was resolved)\n"


def test_unknown_ids_and_bad_input(project: Path, tmp_path: Path) -> None:
    for action in ("show", "close"):
        done = run_botkit(["tickets", action, "99"], cwd=project)
        assert done.returncode == 1
        assert done.stderr.decode() == "botkit tickets: there is no ticket #99\n"
    not_a_number = run_botkit(["tickets", "show", "first"], cwd=project)
    assert not_a_number.returncode == 2
    assert "invalid int value: 'first'" in not_a_number.stderr.decode()
    bare = run_botkit(["tickets"], cwd=project)
    assert bare.returncode == 2
    assert bare.stderr.decode().startswith("usage: botkit tickets [-h] ACTION ...")
    for action in ("list", "show", "close"):
        assert f"\n    {action} " in bare.stderr.decode()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = run_botkit(["tickets", "list"], cwd=elsewhere)
    assert missing.returncode == 1
    assert (
        "botkit tickets: no database at .botkit/botkit.sqlite3 (has the bot run here?"
        in missing.stderr.decode()
    )
