"""The desk's middleware: the bot stays silent while people own a conversation.

Why a middleware and not a first-priority handler: it must see every message before anything answers
it, including what a handler parked in ``ctx.ask`` or a form in progress would take (the bot routes
those before any handler runs), commands (``/help`` would otherwise answer), and the agents' own
``/resolve`` typed in a Slack thread (which the command parser would hand to a ``/resolve`` command).

For each message it records the conversation (platform, user, language, last seen) and then:

- in the agents' Slack channel: the Slack bridge handles it; the bot never answers there;
- in mode ``waiting`` or ``agent``: the message is stored as the user's turn and relayed to the agents
  (through :class:`~botkit.desk.agents.AgentDesk`); nothing else sees it;
- in mode ``resolved`` (the bot just asked for a rating): a number 1..5 is the rating; anything else
  hands the conversation back to the bot and goes on as usual;
- otherwise it goes on to the handlers.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from botkit.context import Context
from botkit.desk.agents import AgentDesk
from botkit.desk.records import SILENT_MODES, ConversationLog
from botkit.desk.texts import language_of, parse_rating, say
from botkit.types import Next


class AgentChannel(Protocol):
    """Where agents work on another platform (the Slack bridge)."""

    def owns(self, ctx: Context) -> bool:
        """Whether ``ctx`` came from the agents' side."""

    async def handle(self, ctx: Context) -> None:
        """Act on an agent's message."""


class DeskGate:
    """``async (ctx, call_next)``: see the module docstring.

    Args:
        agents: the agents' desk (tickets, relaying, ratings).
        conversations: the conversations' records.
        channels: where agents work (the Slack bridge, when configured).
        language: the bot's configured language.
    """

    def __init__(
        self,
        agents: AgentDesk,
        conversations: ConversationLog,
        channels: list[AgentChannel] | None = None,
        *,
        language: str | None = None,
    ) -> None:
        self.agents = agents
        self.conversations = conversations
        self.channels = channels if channels is not None else []
        self.language = language

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> None:
        for channel in self.channels:
            if channel.owns(ctx):
                await channel.handle(ctx)
                return
        author = ctx.incoming.author
        if author.is_bot:
            await call_next(ctx)
            return
        mode = await self.conversations.seen(
            ctx.key, user_id=author.id, user_name=author.name, language=author.language
        )
        message = ctx.message
        if mode in SILENT_MODES:
            if message is not None and message.addressed and message.text.strip():
                if await self._relay(ctx, message.text):
                    return
                await self.conversations.set_mode(ctx.key, "bot")  # no open ticket: the mode was stale
                await call_next(ctx)
            return  # button presses and group chatter: silence
        if mode == "resolved" and message is not None and message.addressed:
            if await self._rated(ctx, message.text):
                return
            await self.conversations.set_mode(ctx.key, "bot")
        await call_next(ctx)

    async def _relay(self, ctx: Context, text: str) -> bool:
        ticket = await asyncio.to_thread(self.agents.tickets.open_for, ctx.key)
        if ticket is None:
            return False
        await self.conversations.add_turn(ctx.key, "user", text)
        await self.agents.user_wrote(ticket, text)
        return True

    async def _rated(self, ctx: Context, text: str) -> bool:
        rating = parse_rating(text)
        if rating is None:
            return False
        ticket = await asyncio.to_thread(self.agents.tickets.latest_for, ctx.key)
        if ticket is None or ticket.is_open:
            return False
        await self.agents.rate(ticket.id, rating, by=f"user:{ctx.incoming.author.id}")
        await ctx.reply(say("rated", language_of(ctx.incoming.author.language, self.language), rating=rating))
        return True
