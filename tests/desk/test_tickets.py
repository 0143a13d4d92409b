"""The ticket repository on both databases: life cycle, events, transcript, and the atomic take."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC
from functools import partial

import pytest
from sqlalchemy import Engine, select

from botkit.db.schema import conversations
from botkit.desk.records import add_turn, utc_now
from botkit.desk.ticket_types import Ticket
from botkit.desk.tickets import AlreadyOpen, AlreadyTaken, NoSuchTicket, TicketNotOpen, Tickets
from botkit.kb.types import Source
from tests.desk.engines import desk_engine

KEY = "telegram:42"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = desk_engine(database_url)
    try:
        yield made
    finally:
        made.dispose()


def mode_of(engine: Engine, key: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(conversations.c.mode).where(conversations.c.key == key)).scalar_one())


def test_life_cycle_writes_events_and_moves_the_mode(engine: Engine) -> None:
    tickets = Tickets(engine)
    with engine.begin() as conn:
        add_turn(conn, KEY, "user", "where is my parcel?", utc_now())
        add_turn(conn, KEY, "assistant", "I'm not sure.", utc_now())
    source = Source("policies/shipping.md", "Tracking", None)
    ticket = tickets.open(KEY, "asked", subject="where is my parcel?", sources=[source], actor="user:42")
    assert (ticket.status, ticket.assignee, ticket.sources) == ("waiting", None, (source,))
    assert ticket.created_at.tzinfo is UTC
    assert mode_of(engine, KEY) == "waiting"
    assert tickets.queue_position(ticket.id) == 1

    with pytest.raises(AlreadyOpen) as open_twice:
        tickets.open(KEY, "asked")
    assert open_twice.value.ticket_id == ticket.id

    taken = tickets.take(ticket.id, "alice")
    assert (taken.status, taken.assignee, mode_of(engine, KEY)) == ("assigned", "alice", "agent")
    assert tickets.queue_position(ticket.id) == 0

    first = tickets.record_agent_reply(ticket.id, "alice", "It ships tomorrow.")
    second = tickets.record_agent_reply(ticket.id, "alice", "Anything else?")
    assert first.first_reply_at is not None
    assert second.first_reply_at == first.first_reply_at  # set by the first reply only

    with pytest.raises(TicketNotOpen, match="still open"):
        tickets.rate(ticket.id, 5)
    tickets.tag(ticket.id, "shipping", "shipping", "late")
    resolved = tickets.resolve(ticket.id, "alice", ask_rating=True)
    assert resolved.status == "resolved"
    assert resolved.resolved_at is not None
    assert mode_of(engine, KEY) == "resolved"
    with pytest.raises(ValueError, match="from 1 to 5"):
        tickets.rate(ticket.id, 6)
    rated = tickets.rate(ticket.id, 4, "user:42")
    assert rated.rating == 4
    assert mode_of(engine, KEY) == "bot"
    closed = tickets.close(ticket.id, "alice")
    assert closed.status == "closed"
    assert closed.tags == ("shipping", "late")
    with pytest.raises(TicketNotOpen):
        tickets.close(ticket.id)

    kinds = [e.kind for e in tickets.events(ticket.id)]
    assert kinds == [
        "opened",
        "assigned",
        "agent_reply",
        "agent_reply",
        "tagged",
        "resolved",
        "rated",
        "closed",
    ]
    lines = [(line.speaker, line.content) for line in tickets.transcript(ticket.id)]
    assert lines == [
        ("user", "where is my parcel?"),
        ("bot", "I'm not sure."),
        ("agent:alice", "It ships tomorrow."),
        ("agent:alice", "Anything else?"),
    ]
    assert [t.id for t in tickets.list(status="closed", assignee="alice")] == [ticket.id]
    assert tickets.list(status=["waiting", "assigned"]) == []
    # a new handoff after the old ticket is done opens a new ticket
    assert tickets.open(KEY, "unsure").id != ticket.id


def test_queue_positions_and_unknown_tickets(engine: Engine) -> None:
    tickets = Tickets(engine)
    ids = [tickets.open(f"slack:D{i}", "asked").id for i in range(3)]
    assert [tickets.queue_position(i) for i in ids] == [1, 2, 3]
    tickets.take(ids[0], "bob")
    assert [tickets.queue_position(i) for i in ids] == [0, 1, 2]
    assert tickets.take(ids[0], "bob").assignee == "bob"  # taking one's own ticket again is harmless
    reassigned = tickets.assign(ids[0], "carol", actor="bob")
    assert reassigned.assignee == "carol"
    with pytest.raises(NoSuchTicket, match="no ticket #999"):
        tickets.take(999, "bob")
    tickets.close(ids[1])
    assert mode_of(engine, "slack:D1") == "bot"  # closing an open ticket hands back to the bot
    with pytest.raises(TicketNotOpen, match="is closed"):
        tickets.take(ids[1], "bob")


def race(*calls: Callable[[], object]) -> list[object]:
    """Run ``calls`` in threads released at the same instant; each one's result or exception, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_agents_taking_at_once_one_wins(database_url: str) -> None:
    # Each agent on its own engine (its own connections), both released at once, for many tickets.
    setup = desk_engine(database_url)
    alice, bob = (Tickets(desk_engine(database_url, create=False)) for _ in range(2))
    try:
        for i in range(10):
            ticket_id = Tickets(setup).open(f"test:c{i}", "asked").id
            outcomes = race(partial(alice.take, ticket_id, "alice"), partial(bob.take, ticket_id, "bob"))
            won = [o.assignee for o in outcomes if isinstance(o, Ticket)]
            lost = [o for o in outcomes if isinstance(o, AlreadyTaken)]
            assert len(won) == 1, outcomes
            assert len(lost) == 1, outcomes
            assert lost[0].winner == won[0]
            assert f"already taken by {won[0]}" in str(lost[0])  # what the losing agent is told
            assert Tickets(setup).get(ticket_id).assignee == won[0]
            assert [e.actor for e in Tickets(setup).events(ticket_id) if e.kind == "assigned"] == won
    finally:
        for engine in (setup, alice.engine, bob.engine):
            engine.dispose()


def test_two_handoffs_of_one_conversation_at_once_make_one_ticket(database_url: str) -> None:
    setup = desk_engine(database_url)
    first, second = (Tickets(desk_engine(database_url, create=False)) for _ in range(2))
    try:
        for i in range(5):
            key = f"test:race{i}"
            results = race(partial(first.open, key, "asked"), partial(second.open, key, "asked"))
            opened = [r.id for r in results if isinstance(r, Ticket)]
            refused = [r for r in results if isinstance(r, AlreadyOpen)]
            assert len(opened) == 1, results
            assert len(refused) == 1, results
            assert refused[0].ticket_id == opened[0]
    finally:
        for engine in (setup, first.engine, second.engine):
            engine.dispose()
