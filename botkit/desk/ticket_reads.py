"""Reading tickets: the queries of :class:`botkit.desk.tickets.Tickets` (which adds the changes)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from botkit.db.schema import ticket_events, tickets
from botkit.desk.records import Clock, TranscriptLine, read_transcript, utc_now
from botkit.desk.ticket_types import (
    OPEN_STATUSES,
    NoSuchTicket,
    Ticket,
    TicketEvent,
    event_from_row,
    ticket_from_row,
)


class TicketReader:
    """Queries over ``tickets`` and ``ticket_events``; synchronous (run them in a thread from async code).

    Args:
        engine: the database, schema in place (:func:`botkit.db.open_engine`).
        clock: what "now" is (aware UTC; tests pass their own).
    """

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def get(self, ticket_id: int) -> Ticket:
        """The ticket. Raises :class:`NoSuchTicket`."""
        with self.engine.connect() as conn:
            return load_ticket(conn, ticket_id)

    def open_for(self, conversation: str) -> Ticket | None:
        """The conversation's open (waiting or assigned) ticket, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tickets).where(
                    tickets.c.conversation == conversation, tickets.c.status.in_(OPEN_STATUSES)
                )
            ).first()
            return ticket_from_row(row) if row is not None else None

    def latest_for(self, conversation: str) -> Ticket | None:
        """The conversation's most recent ticket, whatever its status."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tickets).where(tickets.c.conversation == conversation).order_by(tickets.c.id.desc())
            ).first()
            return ticket_from_row(row) if row is not None else None

    def by_agent_thread(self, agent_thread: str, agent_thread_id: str) -> Ticket | None:
        """The ticket whose agents' thread is ``agent_thread`` / ``agent_thread_id`` (Slack channel, ts)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tickets).where(
                    tickets.c.agent_thread == agent_thread, tickets.c.agent_thread_id == agent_thread_id
                )
            ).first()
            return ticket_from_row(row) if row is not None else None

    def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        assignee: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[Ticket]:
        """Tickets, oldest first: those with ``status`` (one or several), ``assignee``, created ``since``."""
        query = select(tickets).order_by(tickets.c.created_at, tickets.c.id)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            query = query.where(tickets.c.status.in_(statuses))
        if assignee is not None:
            query = query.where(tickets.c.assignee == assignee)
        if since is not None:
            query = query.where(tickets.c.created_at >= since)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [ticket_from_row(row) for row in conn.execute(query)]

    def queue_position(self, ticket_id: int) -> int:
        """1 for the longest-waiting ticket, and so on; 0 when the ticket is not waiting."""
        with self.engine.connect() as conn:
            ticket = load_ticket(conn, ticket_id)
            if ticket.status != "waiting":
                return 0
            waiting = conn.execute(
                select(tickets.c.id)
                .where(tickets.c.status == "waiting")
                .order_by(tickets.c.created_at, tickets.c.id)
            ).scalars()
            return [int(i) for i in waiting].index(ticket_id) + 1

    def events(self, ticket_id: int) -> builtins.list[TicketEvent]:
        """The ticket's events, oldest first."""
        with self.engine.connect() as conn:
            load_ticket(conn, ticket_id)
            rows = conn.execute(
                select(ticket_events)
                .where(ticket_events.c.ticket_id == ticket_id)
                .order_by(ticket_events.c.id)
            )
            return [event_from_row(row) for row in rows]

    def transcript(self, ticket_id: int, limit: int | None = None) -> builtins.list[TranscriptLine]:
        """The ticket's conversation, turn by turn with who said it (user, bot, ``agent:<name>``)."""
        with self.engine.connect() as conn:
            return read_transcript(conn, load_ticket(conn, ticket_id).conversation, limit)


def load_ticket(conn: Connection, ticket_id: int) -> Ticket:
    """The ticket, read on ``conn`` (inside the caller's transaction). Raises :class:`NoSuchTicket`."""
    row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
    if row is None:
        raise NoSuchTicket(ticket_id)
    return ticket_from_row(row)
