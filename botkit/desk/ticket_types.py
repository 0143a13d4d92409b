"""What the ticket repository hands out: tickets, their events, and the errors it raises."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botkit.desk.records import maybe_utc, utc
from botkit.kb.types import Source

OPEN_STATUSES = ("waiting", "assigned")
STATUSES = ("waiting", "assigned", "resolved", "closed")


class TicketError(Exception):
    """Base of the ticket repository's errors; the message is written for the agent who caused it."""


class NoSuchTicket(TicketError, LookupError):
    """No ticket has this id."""

    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"there is no ticket #{ticket_id}")
        self.ticket_id = ticket_id


class AlreadyTaken(TicketError):
    """Another agent took the ticket first.

    Attributes:
        ticket_id: the ticket.
        winner: the agent who has it.
    """

    def __init__(self, ticket_id: int, winner: str) -> None:
        super().__init__(f"ticket #{ticket_id} is already taken by {winner}")
        self.ticket_id = ticket_id
        self.winner = winner


class AlreadyOpen(TicketError):
    """The conversation already has an open ticket (``ticket_id``)."""

    def __init__(self, ticket_id: int, conversation: str) -> None:
        super().__init__(f"conversation {conversation} already has open ticket #{ticket_id}")
        self.ticket_id = ticket_id
        self.conversation = conversation


class TicketNotOpen(TicketError):
    """The change needs an open ticket (or, for a rating, one that is no longer open)."""

    def __init__(self, ticket_id: int, status: str, why: str = "") -> None:
        super().__init__(f"ticket #{ticket_id} {why or f'is {status}'}")
        self.ticket_id = ticket_id
        self.status = status


@dataclass(frozen=True)
class Ticket:
    """One handoff to people. Times are aware UTC; None until the step happened.

    Attributes:
        id: the ticket's number.
        conversation: the user's conversation (store key, ``"telegram:12345"``).
        status: ``waiting`` | ``assigned`` | ``resolved`` | ``closed``.
        reason: why the bot handed off (``asked``, ``button``, ``unsure``, ``unhelpful``, ``keyword``,
            ``plugin``).
        subject: a line for the queue (the user's last question).
        assignee: the agent who has it.
        tags: labels agents added.
        sources: the bot's last retrieved sources when it handed off.
        agent_thread: where agents discuss it (``"slack:C123"``) and ``agent_thread_id`` the thread there.
        rating: the user's rating, 1..5.
    """

    id: int
    conversation: str
    status: str
    reason: str
    subject: str
    assignee: str | None
    tags: tuple[str, ...]
    sources: tuple[Source, ...]
    agent_thread: str | None
    agent_thread_id: str | None
    rating: int | None
    created_at: datetime
    assigned_at: datetime | None
    first_reply_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    rated_at: datetime | None

    @property
    def is_open(self) -> bool:
        """Waiting or assigned."""
        return self.status in OPEN_STATUSES

    @property
    def platform(self) -> str:
        """The user's platform (the conversation key's prefix)."""
        return self.conversation.partition(":")[0]


@dataclass(frozen=True)
class TicketEvent:
    """One change of a ticket: ``opened``, ``assigned``, ``agent_reply``, ``resolved``, ``closed``,
    ``rated`` or ``tagged``, by ``actor`` (an agent, ``user:<id>``, or None for the bot)."""

    id: int
    ticket_id: int
    at: datetime
    kind: str
    actor: str | None
    data: Mapping[str, Any]


def source_dicts(sources: Iterable[Source]) -> list[dict[str, Any]]:
    """Sources as the ``tickets.sources`` JSON column keeps them."""
    return [{"document": s.document, "heading": s.heading, "url": s.url} for s in sources]


def _sources(raw: Sequence[Any] | None) -> tuple[Source, ...]:
    found: list[Source] = []
    for item in raw or ():
        if isinstance(item, Mapping) and item.get("document"):
            found.append(Source(str(item["document"]), str(item.get("heading") or ""), item.get("url")))
    return tuple(found)


def ticket_from_row(row: Any) -> Ticket:
    """A :class:`Ticket` from a ``tickets`` row."""
    return Ticket(
        id=int(row.id),
        conversation=row.conversation,
        status=row.status,
        reason=row.reason,
        subject=row.subject or "",
        assignee=row.assignee,
        tags=tuple(row.tags or ()),
        sources=_sources(row.sources),
        agent_thread=row.agent_thread,
        agent_thread_id=row.agent_thread_id,
        rating=row.rating,
        created_at=utc(row.created_at),
        assigned_at=maybe_utc(row.assigned_at),
        first_reply_at=maybe_utc(row.first_reply_at),
        resolved_at=maybe_utc(row.resolved_at),
        closed_at=maybe_utc(row.closed_at),
        rated_at=maybe_utc(row.rated_at),
    )


def event_from_row(row: Any) -> TicketEvent:
    """A :class:`TicketEvent` from a ``ticket_events`` row."""
    return TicketEvent(
        int(row.id), int(row.ticket_id), utc(row.at), row.kind, row.actor, dict(row.data or {})
    )
