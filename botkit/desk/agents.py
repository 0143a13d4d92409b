"""``AgentDesk``: what people working the desk can do, as a Python API.

The Slack bridge (:mod:`botkit.desk.slack_agents`) and the web console both drive the desk through this
class, so that an agent's reply reaches the user the same way from either: on the user's own platform
(``bot.send_to``), stored as the conversation's assistant turn written by ``agent:<name>``.

Listeners (:class:`DeskListener`) hear of new tickets, of what users write while a person owns their
conversation, and of every change an agent makes; the Slack bridge is one. A failing listener is logged
and never stops the user's message or the agent's action.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from botkit.desk.records import ConversationLog, TranscriptLine
from botkit.desk.texts import language_of, say
from botkit.desk.ticket_types import AlreadyTaken, Ticket, TicketNotOpen
from botkit.desk.tickets import Tickets
from botkit.kb.types import Source
from botkit.message import Button, Reply
from botkit.plugin import BotView

log = logging.getLogger("botkit.desk")
T = TypeVar("T")

# Platforms whose messages cannot carry buttons: their users type what a button would have sent.
PLATFORMS_WITHOUT_BUTTONS = frozenset({"console"})
RATE_PREFIX = "desk:rate:"  # button data: desk:rate:<ticket id>:<1..5>


def has_buttons(platform: str) -> bool:
    """Whether replies on ``platform`` show buttons."""
    return platform not in PLATFORMS_WITHOUT_BUTTONS


class DeskListener(Protocol):
    """Told what happens on the desk (the Slack bridge posts it in the ticket's thread)."""

    async def ticket_opened(self, ticket: Ticket, transcript: list[TranscriptLine]) -> None:
        """A conversation was handed to people."""

    async def user_wrote(self, ticket: Ticket, text: str) -> None:
        """The user wrote while the ticket is open (the bot stayed silent)."""

    async def ticket_changed(self, ticket: Ticket, change: str, actor: str | None) -> None:
        """``change``: ``assigned``, ``agent_reply``, ``resolved`` or ``closed``, by ``actor``."""


class AgentDesk:
    """Queue, take, assign, reply, resolve and close; every method is async (the database work runs in a
    thread).

    Args:
        bot: the running bot (its adapters carry agents' replies to users).
        tickets: the ticket repository.
        conversations: the conversations' records (for a user's language).
        ask_rating: after resolving, ask the user to rate the help (``desk.ask_rating``).
        language: the bot's configured language, for users whose platform tells none.
    """

    def __init__(
        self,
        bot: BotView,
        tickets: Tickets,
        conversations: ConversationLog,
        *,
        ask_rating: bool = True,
        language: str | None = None,
    ) -> None:
        self.bot = bot
        self.tickets = tickets
        self.conversations = conversations
        self.ask_rating = ask_rating
        self.language = language
        self.listeners: list[DeskListener] = []

    async def _db(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(fn, *args)

    # -- reading ----------------------------------------------------------------------------------
    async def queue(self) -> list[Ticket]:
        """Tickets waiting for a person, longest waiting first."""
        return await asyncio.to_thread(self.tickets.list, status="waiting")

    async def open_tickets(self) -> list[Ticket]:
        """Waiting and assigned tickets, oldest first."""
        return await asyncio.to_thread(self.tickets.list, status=["waiting", "assigned"])

    async def ticket(self, ticket_id: int) -> Ticket:
        """One ticket. Raises :class:`~botkit.desk.tickets.NoSuchTicket`."""
        return await self._db(self.tickets.get, ticket_id)

    async def transcript(self, ticket_id: int) -> list[TranscriptLine]:
        """The ticket's conversation so far, with who said each turn."""
        return await self._db(self.tickets.transcript, ticket_id)

    async def sources(self, ticket_id: int) -> tuple[Source, ...]:
        """The sources the bot had retrieved last when it handed off."""
        return (await self.ticket(ticket_id)).sources

    # -- acting -----------------------------------------------------------------------------------
    async def take(self, ticket_id: int, agent: str) -> Ticket:
        """Take a waiting ticket.

        Raises:
            AlreadyTaken: another agent has it (``winner`` names them).
            TicketNotOpen: it is resolved or closed.
        """
        ticket = await self._db(self.tickets.take, ticket_id, agent)
        await self._changed(ticket, "assigned", agent)
        return ticket

    async def assign(self, ticket_id: int, agent: str, *, by: str | None = None) -> Ticket:
        """Give an open ticket to ``agent`` (``by``: who did it). Raises :class:`TicketNotOpen`."""
        ticket = await asyncio.to_thread(self.tickets.assign, ticket_id, agent, actor=by)
        await self._changed(ticket, "assigned", by)
        return ticket

    async def reply(self, ticket_id: int, agent: str, text: str) -> Ticket:
        """Send ``text`` to the ticket's user on their platform; the first agent to reply takes the ticket.

        Raises:
            AlreadyTaken: another agent has the ticket (nothing was sent).
            TicketNotOpen: the ticket is resolved or closed (nothing was sent).
            ValueError: ``text`` is empty.
            ConversationClosed: the user's platform refused (they blocked the bot); nothing was stored.
        """
        if not text.strip():
            raise ValueError("an agent's reply needs some text")
        ticket = await self.ticket(ticket_id)
        if not ticket.is_open:
            raise TicketNotOpen(ticket_id, ticket.status)
        if ticket.assignee is None:
            ticket = await self.take(ticket_id, agent)
        elif ticket.assignee != agent:
            raise AlreadyTaken(ticket_id, ticket.assignee)
        await self.bot.send_to(ticket.conversation, Reply(text))
        ticket = await self._db(self.tickets.record_agent_reply, ticket_id, agent, text)
        await self._changed(ticket, "agent_reply", agent)
        return ticket

    async def resolve(self, ticket_id: int, agent: str | None = None) -> Ticket:
        """Mark the ticket resolved; the user is told the bot is back and, with ``ask_rating``, asked to
        rate the help (buttons 1-5 where the platform has buttons, else a number to reply with).

        Raises:
            TicketNotOpen: it was already resolved or closed.
        """
        ticket = await asyncio.to_thread(self.tickets.resolve, ticket_id, agent, ask_rating=self.ask_rating)
        language = await self._language(ticket.conversation)
        text = say("resolved", language)
        buttons: list[list[Button]] = []
        if self.ask_rating:
            if has_buttons(ticket.platform):
                text += "\n\n" + say("rate_buttons", language)
                buttons = [[Button(str(n), data=f"{RATE_PREFIX}{ticket.id}:{n}") for n in range(1, 6)]]
            else:
                text += "\n\n" + say("rate_text", language)
        try:
            await self.bot.send_to(ticket.conversation, Reply(text, buttons))
        except Exception:  # resolved all the same: the agent's action must not fail on the user's side
            log.exception("could not tell %s that ticket #%s was resolved", ticket.conversation, ticket.id)
        await self._changed(ticket, "resolved", agent)
        return ticket

    async def close(self, ticket_id: int, agent: str | None = None) -> Ticket:
        """Close the ticket (an open one hands its conversation back to the bot, without a rating)."""
        ticket = await self._db(self.tickets.close, ticket_id, agent)
        await self._changed(ticket, "closed", agent)
        return ticket

    async def rate(self, ticket_id: int, rating: int, *, by: str | None = None) -> Ticket:
        """Store the user's rating (1..5). Raises ``ValueError`` or :class:`TicketNotOpen` (still open)."""
        return await asyncio.to_thread(self.tickets.rate, ticket_id, rating, by)

    # -- what the desk plugin reports -------------------------------------------------------------
    async def opened(self, ticket: Ticket) -> None:
        """Tell the listeners of a new ticket, with the transcript so far."""
        transcript = await self.transcript(ticket.id)
        for listener in list(self.listeners):
            try:
                await listener.ticket_opened(ticket, transcript)
            except Exception:
                log.exception("desk listener %r failed on new ticket #%s", listener, ticket.id)

    async def user_wrote(self, ticket: Ticket, text: str) -> None:
        """Relay what the user wrote while people own the conversation."""
        for listener in list(self.listeners):
            try:
                await listener.user_wrote(ticket, text)
            except Exception:
                log.exception("desk listener %r failed to relay to ticket #%s", listener, ticket.id)

    async def _changed(self, ticket: Ticket, change: str, actor: str | None) -> None:
        for listener in list(self.listeners):
            try:
                await listener.ticket_changed(ticket, change, actor)
            except Exception:
                log.exception("desk listener %r failed on %s of ticket #%s", listener, change, ticket.id)

    async def _language(self, key: str) -> str:
        return language_of(await self.conversations.language(key), self.language)
