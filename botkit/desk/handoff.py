"""Handing a conversation to people: ``hand_off(ctx, reason)``, and the desk's own :class:`Handoff`.

The conversation's mode goes ``bot`` -> ``waiting`` (a ticket is open, no agent yet) -> ``agent`` (an agent
took it) -> ``resolved`` (the bot is back and asks for a rating) -> ``bot``; :mod:`botkit.desk.tickets`
moves it with each ticket change. While it is ``waiting`` or ``agent`` the bot says nothing: the desk's
middleware (:mod:`botkit.desk.gate`) stores the user's messages and relays them to the agents.
"""

from __future__ import annotations

import asyncio
from typing import Any

from botkit.context import Context
from botkit.desk.agents import AgentDesk
from botkit.desk.records import ConversationLog
from botkit.desk.texts import language_of, say
from botkit.desk.ticket_types import AlreadyOpen, Ticket
from botkit.kb.types import Source

USER_REASONS = frozenset({"asked", "button"})  # handoffs the user asked for (the ticket's actor is them)


class DeskNotEnabled(LookupError):
    """``hand_off`` was called on a bot without the support desk (``[desk] enabled = true``)."""


def desk_state(ctx: Context) -> dict[str, Any]:
    """The desk's part of the conversation's state: last question, its sources, misses since a handoff."""
    found = ctx.state.get("desk")
    if not isinstance(found, dict):
        found = ctx.state["desk"] = {}
    return found


class Handoff:
    """Opens tickets for conversations and tells their users where they stand.

    Args:
        agents: the agents' desk (it tells the listeners, e.g. the Slack bridge, of the new ticket).
        conversations: the conversations' records (the user's message goes into the transcript).
        language: the bot's configured language, for users whose platform tells none.
    """

    def __init__(
        self, agents: AgentDesk, conversations: ConversationLog, *, language: str | None = None
    ) -> None:
        self.agents = agents
        self.conversations = conversations
        self.language = language

    async def hand_off(self, ctx: Context, reason: str, *, record_message: bool = True) -> Ticket:
        """Open a ticket for ``ctx``'s conversation (or find its open one) and tell the user.

        Args:
            reason: ``asked``, ``button``, ``unsure``, ``unhelpful``, ``keyword``, ``plugin``...
            record_message: store the incoming message as the user's turn (False when the caller has).
        """
        tickets = self.agents.tickets
        state = desk_state(ctx)
        author = ctx.incoming.author
        language = language_of(author.language, self.language)
        # Who the user is, for the agents: safety rules hand off before the desk's middleware records it.
        await self.conversations.seen(
            ctx.key, user_id=author.id, user_name=author.name, language=author.language
        )
        if record_message and ctx.text.strip():
            await self.conversations.add_turn(ctx.key, "user", ctx.text)
        sources = [
            Source(s["document"], s.get("heading", ""), s.get("url")) for s in state.get("sources", ())
        ]
        subject = str(state.get("question") or ctx.text)[:500]
        actor = f"user:{author.id}" if reason in USER_REASONS else None
        try:
            ticket = await asyncio.to_thread(
                tickets.open, ctx.key, reason, subject=subject, sources=sources, actor=actor
            )
        except AlreadyOpen as exc:
            ticket = await asyncio.to_thread(tickets.get, exc.ticket_id)
            position = await asyncio.to_thread(tickets.queue_position, ticket.id)
            text = (
                say("already_waiting", language, position=position)
                if position
                else say("with_agent", language)
            )
            await self._say(ctx, text)
            return ticket
        state["misses"] = 0
        position = await asyncio.to_thread(tickets.queue_position, ticket.id)
        await self._say(ctx, say("handed_off", language, position=position))
        await self.agents.opened(ticket)
        return ticket

    async def _say(self, ctx: Context, text: str) -> None:
        await ctx.reply(text)
        await self.conversations.add_turn(ctx.key, "assistant", text)


async def hand_off(ctx: Context, reason: str) -> None:
    """Move ``ctx``'s conversation to a person: open a ticket with the bot's last retrieved sources and the
    transcript, tell the user a person will answer and their place in the queue, and notify the agents.
    From now on the bot stays silent in this conversation until an agent resolves the ticket.

    Safety rules call it with ``reason="keyword"``; plugins with their own reason (``"plugin"``). When the
    conversation already has an open ticket, the user is told where they stand instead.

    Raises:
        DeskNotEnabled: the bot runs no support desk (set ``[desk] enabled = true``).
    """
    for plugin in ctx.bot.plugins:
        handoff = getattr(plugin, "handoff", None)
        if isinstance(handoff, Handoff):
            await handoff.hand_off(ctx, reason)
            return
    raise DeskNotEnabled(
        "no support desk is loaded: set [desk] enabled = true to hand conversations to people"
    )
