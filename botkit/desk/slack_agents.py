"""Agents answer from a Slack channel: one thread per ticket.

When ``desk.agents_slack_channel`` is set and the bot has a ``slack`` adapter, each new ticket posts a
root message in that channel (ticket, user, platform, reason, the transcript so far, the bot's last
sources) and its ``ts`` becomes the ticket's agent thread. What the user writes afterwards is posted into
the thread. In the thread, agents:

- reply: the text reaches the user on their own platform; the first agent to reply takes the ticket, and
  a second one is told in the thread who has it (their text is not sent);
- type ``/resolve`` (hand back to the bot, ask the user for a rating), ``/assign @name``, ``/take`` or
  ``/close``. Slack delivers such text typed in a thread as a plain message; the desk's middleware sees
  it before the bot's command dispatch does.

Nothing said in the agents' channel is ever answered by the bot.
"""

from __future__ import annotations

import asyncio
import logging

from botkit.context import Context
from botkit.desk.agents import AgentDesk, DeskListener
from botkit.desk.records import TranscriptLine
from botkit.desk.ticket_types import AlreadyTaken, NoSuchTicket, Ticket, TicketNotOpen
from botkit.errors import ConversationClosed
from botkit.message import Reply, parse_command

log = logging.getLogger("botkit.desk")

PLATFORM = "slack"
TRANSCRIPT_TURNS = 30  # the root message shows the last turns; the whole transcript is on the ticket
TURN_CHARS = 500
COMMANDS = "/resolve, /assign @name, /take or /close (anything else you write goes to the user)"


class SlackAgentBridge(DeskListener):
    """Posts tickets to the agents' Slack channel and turns agents' thread messages into desk actions.

    Args:
        agents: the agents' desk.
        channel: the Slack channel id (``desk.agents_slack_channel``).
    """

    def __init__(self, agents: AgentDesk, channel: str) -> None:
        self.agents = agents
        self.channel = channel
        self.thread_place = f"{PLATFORM}:{channel}"  # tickets.agent_thread of the tickets posted here
        self._quiet: set[int] = set()  # tickets whose change came from this thread (no echo)

    # -- desk -> Slack ----------------------------------------------------------------------------
    async def ticket_opened(self, ticket: Ticket, transcript: list[TranscriptLine]) -> None:
        """Post the ticket's root message and remember its ``ts`` as the ticket's thread."""
        who = await self.agents.conversations.user_label(ticket.conversation)
        lines = [
            f"Ticket #{ticket.id}: {ticket.platform} user {who or '?'} ({ticket.conversation})",
            f"Reason: {ticket.reason}" + (f" | Question: {ticket.subject}" if ticket.subject else ""),
            "",
            "Transcript:",
            *(f"{line.speaker}: {line.content[:TURN_CHARS]}" for line in transcript[-TRANSCRIPT_TURNS:]),
        ]
        if ticket.sources:
            lines += ["", "The bot's last sources:", *(f"- {s.label()}" for s in ticket.sources)]
        lines += [
            "",
            "Reply in this thread to answer the user; /resolve when done, /assign @name to hand over.",
        ]
        try:
            ts = await self.agents.bot.send_to(self.thread_place, Reply("\n".join(lines)))
        except LookupError:
            log.warning(
                "desk: agents_slack_channel is set but no slack adapter is attached; ticket #%s", ticket.id
            )
            return
        if ts is None:
            log.error("desk: Slack did not return the ts of ticket #%s's root message", ticket.id)
            return
        await asyncio.to_thread(self.agents.tickets.set_agent_thread, ticket.id, self.thread_place, ts)

    async def user_wrote(self, ticket: Ticket, text: str) -> None:
        """Post the user's message into the ticket's thread."""
        await self._post(ticket, f"user: {text}")

    async def ticket_changed(self, ticket: Ticket, change: str, actor: str | None) -> None:
        """Say in the thread what an agent did elsewhere (the web console), or who took the ticket."""
        if change == "agent_reply":
            if ticket.id not in self._quiet:
                lines = await asyncio.to_thread(self.agents.tickets.transcript, ticket.id, 1)
                await self._post(ticket, f"{actor} (console): {lines[-1].content if lines else ''}")
            return
        notes = {
            "assigned": f"Ticket #{ticket.id} is now with {ticket.assignee}.",
            "resolved": f"Resolved by {actor or 'the desk'}; the user is back with the bot.",
            "closed": f"Closed by {actor or 'the desk'}.",
        }
        if change in notes:
            await self._post(ticket, notes[change])

    async def _post(self, ticket: Ticket, text: str) -> None:
        if ticket.agent_thread != self.thread_place or not ticket.agent_thread_id:
            fresh = await asyncio.to_thread(self.agents.tickets.get, ticket.id)  # the thread may be newer
            if fresh.agent_thread != self.thread_place or not fresh.agent_thread_id:
                return
            ticket = fresh
        await self.agents.bot.send_to(self.thread_place, Reply(text), thread_id=ticket.agent_thread_id)

    # -- Slack -> desk ----------------------------------------------------------------------------
    def owns(self, ctx: Context) -> bool:
        """Whether ``ctx`` happened in the agents' channel."""
        incoming = ctx.incoming
        return incoming.platform == PLATFORM and incoming.conversation.id == self.channel

    async def handle(self, ctx: Context) -> None:
        """Act on a message in a ticket's thread; anything else in the channel is left alone."""
        message = ctx.message
        if message is None or not message.thread_id or message.author.is_bot:
            return
        ticket = await asyncio.to_thread(
            self.agents.tickets.by_agent_thread, self.thread_place, message.thread_id
        )
        if ticket is None:
            return
        agent = message.author.name or message.author.id
        command = parse_command(message.text)
        self._quiet.add(ticket.id)
        try:
            if command is not None and command.name == "resolve":
                await self.agents.resolve(ticket.id, agent)
            elif command is not None and command.name == "close":
                await self.agents.close(ticket.id, agent)
            elif command is not None and command.name == "take":
                await self.agents.take(ticket.id, agent)
            elif command is not None and command.name == "assign":
                if not command.args:
                    await ctx.reply("Usage: /assign @name")
                    return
                await self.agents.assign(ticket.id, command.args[0].lstrip("@"), by=agent)
            elif command is not None:  # a typo must not reach the user as a message
                await ctx.reply(f"Unknown command /{command.name}: {COMMANDS}")
            elif message.text.strip():
                await self.agents.reply(ticket.id, agent, message.text)
        except AlreadyTaken as exc:
            await ctx.reply(f"{exc.winner} has ticket #{ticket.id}; your message was not sent to the user.")
        except (TicketNotOpen, NoSuchTicket) as exc:
            await ctx.reply(f"Nothing was done: {exc}.")
        except ConversationClosed as exc:
            await ctx.reply(f"The user's platform refused the message ({exc.reason}); it was not delivered.")
        finally:
            self._quiet.discard(ticket.id)
