"""Tickets: the repository of handoffs to people, on the shared engine (``tickets``, ``ticket_events``).

A ticket's life: ``waiting`` (opened, no agent) -> ``assigned`` (an agent took it) -> ``resolved`` ->
``closed``; closing is allowed from any status but ``closed``. A conversation has at most one open
(waiting or assigned) ticket. Every change writes a ``ticket_events`` row in the same transaction, and
keeps the conversation's handoff mode (:mod:`botkit.desk.records`) in step: open -> ``waiting``, take or
assign -> ``agent``, resolve -> ``resolved`` (a rating is being asked) or ``bot``, close -> ``bot``.

The methods are synchronous (the ``botkit tickets`` and ``botkit report`` commands call them as they are);
async code runs them with ``asyncio.to_thread``, as :class:`botkit.desk.agents.AgentDesk` does.

Taking is atomic: ``UPDATE tickets SET assignee=... WHERE id=? AND assignee IS NULL`` and its row count
decide; two agents taking the same ticket at once get one winner, and the other an :class:`AlreadyTaken`
naming the winner, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from botkit.db.schema import conversations, ticket_events, tickets
from botkit.desk.records import (
    add_turn,
    ensure_conversation,
    get_mode,
    set_mode,
)
from botkit.desk.ticket_reads import TicketReader, load_ticket
from botkit.desk.ticket_types import (
    OPEN_STATUSES,
    AlreadyOpen,
    AlreadyTaken,
    NoSuchTicket,
    Ticket,
    TicketEvent,
    TicketNotOpen,
    source_dicts,
)
from botkit.kb.types import Source

__all__ = ["AlreadyOpen", "AlreadyTaken", "NoSuchTicket", "Ticket", "TicketEvent", "TicketNotOpen", "Tickets"]


class Tickets(TicketReader):
    """Open, take, answer, resolve, close and rate tickets (and read them: :class:`TicketReader`).

    Args:
        engine: the database, schema in place (:func:`botkit.db.open_engine`).
        clock: what "now" is (aware UTC; tests pass their own).
    """

    # -- changing ---------------------------------------------------------------------------------
    def open(
        self,
        conversation: str,
        reason: str,
        *,
        subject: str = "",
        sources: Iterable[Source] = (),
        actor: str | None = None,
    ) -> Ticket:
        """Open a waiting ticket for ``conversation`` (store key) and set its mode to ``waiting``.

        Args:
            reason: why: ``asked``, ``button``, ``unsure``, ``unhelpful``, ``keyword`` or ``plugin``.
            subject: a line for the agents' queue (usually the user's last question).
            sources: the bot's last retrieved sources, for the agent.
            actor: who opened it (``user:<id>``, a plugin's name), for the event.

        Raises:
            AlreadyOpen: the conversation has an open ticket (its id is on the error).
        """
        now = self.clock()
        values = {
            "conversation": conversation,
            "status": "waiting",
            "reason": reason[:32],
            "subject": subject,
            "tags": [],
            "sources": source_dicts(sources),
            "created_at": now,
        }
        with self.engine.begin() as conn:
            ensure_conversation(conn, conversation, now)
            # An UPDATE of the conversation's row is its lock, on both databases: PostgreSQL locks the row,
            # SQLite takes its write lock before the check below reads; two handoffs of one conversation
            # at once therefore make one ticket.
            conn.execute(
                update(conversations)
                .where(conversations.c.key == conversation)
                .values(last_seen_at=conversations.c.last_seen_at)
            )
            existing = conn.execute(
                select(tickets.c.id).where(
                    tickets.c.conversation == conversation, tickets.c.status.in_(OPEN_STATUSES)
                )
            ).scalar()
            if existing is not None:
                raise AlreadyOpen(int(existing), conversation)
            inserted = conn.execute(insert(tickets).values(**values)).inserted_primary_key
            assert inserted is not None
            ticket_id = int(inserted[0])
            _event(conn, ticket_id, now, "opened", actor, {"reason": reason})
            set_mode(conn, conversation, "waiting", now)
            return load_ticket(conn, ticket_id)

    def take(self, ticket_id: int, agent: str) -> Ticket:
        """Give an unassigned, open ticket to ``agent`` (the first to take it wins).

        Taking a ticket one already holds returns it unchanged.

        Raises:
            AlreadyTaken: another agent holds it (``winner`` names them).
            TicketNotOpen: it is resolved or closed.
            NoSuchTicket: there is no such ticket.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            won = conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id, tickets.c.assignee.is_(None), tickets.c.status == "waiting")
                .values(assignee=agent, status="assigned", assigned_at=now)
            ).rowcount
            ticket = load_ticket(conn, ticket_id)
            if won != 1:
                if ticket.assignee == agent and ticket.is_open:
                    return ticket
                if ticket.assignee is not None and ticket.is_open:
                    raise AlreadyTaken(ticket_id, ticket.assignee)
                raise TicketNotOpen(ticket_id, ticket.status)
            _event(conn, ticket_id, now, "assigned", agent, {"assignee": agent, "took": True})
            set_mode(conn, ticket.conversation, "agent", now)
            return ticket

    def assign(self, ticket_id: int, agent: str, *, actor: str | None = None) -> Ticket:
        """Give an open ticket to ``agent``, whoever held it (``/assign @name``).

        Raises:
            TicketNotOpen, NoSuchTicket: as for :meth:`take`.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            before = _require_open(conn, ticket_id)
            assigned_at = before.assigned_at or now
            conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id)
                .values(assignee=agent, status="assigned", assigned_at=assigned_at)
            )
            _event(conn, ticket_id, now, "assigned", actor, {"assignee": agent, "previous": before.assignee})
            set_mode(conn, before.conversation, "agent", now)
            return load_ticket(conn, ticket_id)

    def record_agent_reply(self, ticket_id: int, agent: str, text: str) -> Ticket:
        """Store an agent's answer as the conversation's assistant turn (author ``agent:<agent>``).

        The ticket's ``first_reply_at`` is set by its first reply only.

        Raises:
            TicketNotOpen, NoSuchTicket: as for :meth:`take`.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            ticket = _require_open(conn, ticket_id)
            conn.execute(
                update(tickets)
                .where(and_(tickets.c.id == ticket_id, tickets.c.first_reply_at.is_(None)))
                .values(first_reply_at=now)
            )
            add_turn(conn, ticket.conversation, "assistant", text, now, author=f"agent:{agent}")
            _event(conn, ticket_id, now, "agent_reply", agent, {"chars": len(text)})
            return load_ticket(conn, ticket_id)

    def set_agent_thread(self, ticket_id: int, agent_thread: str, agent_thread_id: str) -> Ticket:
        """Remember where agents discuss the ticket (``"slack:C123"``, the root message's ts)."""
        with self.engine.begin() as conn:
            load_ticket(conn, ticket_id)
            conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id)
                .values(agent_thread=agent_thread, agent_thread_id=agent_thread_id)
            )
            return load_ticket(conn, ticket_id)

    def resolve(self, ticket_id: int, actor: str | None = None, *, ask_rating: bool = False) -> Ticket:
        """Mark an open ticket resolved; the conversation goes back to the bot (mode ``resolved`` when a
        rating is about to be asked, else ``bot``).

        Raises:
            TicketNotOpen, NoSuchTicket: as for :meth:`take`.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            ticket = _require_open(conn, ticket_id)
            conn.execute(
                update(tickets).where(tickets.c.id == ticket_id).values(status="resolved", resolved_at=now)
            )
            _event(conn, ticket_id, now, "resolved", actor, {})
            set_mode(conn, ticket.conversation, "resolved" if ask_rating else "bot", now)
            return load_ticket(conn, ticket_id)

    def close(self, ticket_id: int, actor: str | None = None) -> Ticket:
        """Close a ticket (from any status but closed); an open one hands its conversation back to the bot.

        Raises:
            TicketNotOpen: it is already closed.
            NoSuchTicket: there is no such ticket.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            ticket = load_ticket(conn, ticket_id)
            if ticket.status == "closed":
                raise TicketNotOpen(ticket_id, ticket.status)
            conn.execute(
                update(tickets).where(tickets.c.id == ticket_id).values(status="closed", closed_at=now)
            )
            _event(conn, ticket_id, now, "closed", actor, {"from": ticket.status})
            if ticket.is_open or get_mode(conn, ticket.conversation) == "resolved":
                set_mode(conn, ticket.conversation, "bot", now)
            return load_ticket(conn, ticket_id)

    def rate(self, ticket_id: int, rating: int, actor: str | None = None) -> Ticket:
        """Store the user's rating (1..5) of a resolved or closed ticket; a later rating replaces it.

        Raises:
            ValueError: ``rating`` is not a whole number from 1 to 5.
            TicketNotOpen: the ticket is still open (it is rated after a person resolved it).
            NoSuchTicket: there is no such ticket.
        """
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValueError(f"a rating is a whole number from 1 to 5, not {rating!r}")
        now = self.clock()
        with self.engine.begin() as conn:
            ticket = load_ticket(conn, ticket_id)
            if ticket.is_open:
                raise TicketNotOpen(ticket_id, ticket.status, "is still open; it is rated once resolved")
            conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(rating=rating, rated_at=now))
            _event(conn, ticket_id, now, "rated", actor, {"rating": rating})
            if get_mode(conn, ticket.conversation) == "resolved":
                set_mode(conn, ticket.conversation, "bot", now)
            return load_ticket(conn, ticket_id)

    def tag(self, ticket_id: int, *tags: str, actor: str | None = None) -> Ticket:
        """Add ``tags`` to the ticket (each once; order kept)."""
        now = self.clock()
        with self.engine.begin() as conn:
            ticket = load_ticket(conn, ticket_id)
            merged = list(dict.fromkeys([*ticket.tags, *(t.strip() for t in tags if t.strip())]))
            conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(tags=merged))
            _event(conn, ticket_id, now, "tagged", actor, {"tags": list(tags)})
            return load_ticket(conn, ticket_id)


def _require_open(conn: Connection, ticket_id: int) -> Ticket:
    ticket = load_ticket(conn, ticket_id)
    if not ticket.is_open:
        raise TicketNotOpen(ticket_id, ticket.status)
    return ticket


def _event(
    conn: Connection, ticket_id: int, at: datetime, kind: str, actor: str | None, data: dict[str, Any]
) -> None:
    conn.execute(insert(ticket_events).values(ticket_id=ticket_id, at=at, kind=kind, actor=actor, data=data))
