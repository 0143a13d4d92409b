"""``SupportDesk``: answers from the knowledge base with citations, an honest "not sure", and people.

Loaded when ``[desk] enabled = true`` (:func:`botkit.runtime.build_bot`), or given to a ``Bot`` in code::

    bot = Bot([SupportDesk(answerer, engine=engine)], settings=settings)

On setup it installs the desk's middleware (:mod:`botkit.desk.gate`) as the innermost one, so that the
bot stays silent while people own a conversation, and, when ``desk.agents_slack_channel`` is set, the
Slack bridge (:mod:`botkit.desk.slack_agents`). Its handlers:

- a whole message asking for a person ("talk to a human", "agent", "人工客服", "转人工"...) hands off;
- the desk's buttons: "Talk to a person", "Not helpful", and the 1-5 rating after an agent resolved;
- every other text message (not a command) is a question for the knowledge base, answered before the
  chat model would be: a sure answer with its citations and a "Not helpful" button, an unsure one with
  the offer of a person. The ``desk.unsure_before_handoff``-th unsure answer or "Not helpful" mark in a
  conversation hands off by itself.

Each answer writes a ``desk_events`` row (``answered`` with its confidence, ``unsure`` with the question:
the report's "unanswered questions", ``unhelpful``), and the question and answer as turns.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from botkit.context import Context
from botkit.db.engine import database_url, open_engine
from botkit.desk.agents import RATE_PREFIX, AgentDesk, has_buttons
from botkit.desk.answers import cited, fallback_sources
from botkit.desk.gate import AgentChannel, DeskGate
from botkit.desk.handoff import Handoff, desk_state
from botkit.desk.records import ConversationLog
from botkit.desk.slack_agents import SlackAgentBridge
from botkit.desk.texts import asks_for_person, language_of, say, says_unhelpful
from botkit.desk.ticket_types import TicketError, source_dicts
from botkit.desk.tickets import Tickets
from botkit.kb.errors import QueryTooLong
from botkit.kb.types import Answerer
from botkit.message import Button
from botkit.plugin import FALLBACK_PRIORITY, BotView, Plugin, on_event, on_message

if TYPE_CHECKING:
    from botkit.config import DeskSettings
    from botkit.desk.metrics import MetricsServer

INTENT_PRIORITY = 5  # before other plugins' patterns: "agent" must not reach a catch-all
ANSWER_PRIORITY = FALLBACK_PRIORITY - 10  # after every plugin's own handlers, before the chat model
HANDOFF_BUTTON = "desk:handoff"
UNHELPFUL_BUTTON = "desk:unhelpful"
# A question: some text that is not a command (commands go to their plugins, or to the chat plugin).
QUESTION = r"^(?!\s*/)\s*\S"


class SupportDesk(Plugin):
    """The support desk as a plugin. See the module docstring.

    Args:
        answerer: the knowledge base (None: :func:`botkit.kb.open_knowledge_base` on the bot's settings).
        engine: the database (None: the one the bot's settings name, opened and closed by the plugin).
        settings: the ``[desk]`` section (None: the bot's).

    Attributes:
        agents: the agents' Python API (the web console drives it), set up in :meth:`setup`.
        handoff: what :func:`botkit.desk.hand_off` calls.
    """

    name = "desk"

    def __init__(
        self,
        answerer: Answerer | None = None,
        *,
        engine: Engine | None = None,
        settings: DeskSettings | None = None,
    ) -> None:
        self.answerer = answerer
        self.engine = engine
        self._own_engine = False
        self._settings = settings
        self._gate: DeskGate | None = None
        self._middleware: list[object] | None = None
        self._metrics: MetricsServer | None = None

    async def setup(self, bot: BotView) -> None:
        """Open what the desk needs and install its middleware (see the module docstring).

        Raises:
            RuntimeError: the bot has no middleware list to join, or neither an engine nor settings.
        """
        from botkit.config import DeskSettings

        config = bot.settings
        self.settings = self._settings or (config.desk if config is not None else DeskSettings())
        self.language = config.language if config is not None else None
        if self.engine is None:
            if config is None:
                raise RuntimeError(
                    "the support desk needs an engine, or a bot with settings naming its database"
                )
            self.engine = await asyncio.to_thread(open_engine, database_url(config))
            self._own_engine = True
        if self.answerer is None:
            if config is None:
                raise RuntimeError(
                    "the support desk needs a knowledge base, or a bot with settings naming one"
                )
            # Imported when used: the knowledge base needs the kb extra (the embedding model, BM25).
            from botkit.kb import KnowledgeBase
            from botkit.kb.tune import tuned_model_dir

            # the desk's database, and the model `botkit kb tune` adapted where there is one (the stored
            # vectors were made with it, so questions must be embedded with it too)
            tuned = tuned_model_dir(config.data_dir)
            self.answerer = KnowledgeBase(self.engine, config.kb, generator=bot.model, tuned_dir=tuned)
        self.conversations = ConversationLog(self.engine)
        self.agents = AgentDesk(
            bot,
            Tickets(self.engine),
            self.conversations,
            ask_rating=self.settings.ask_rating,
            language=self.language,
        )
        self.handoff = Handoff(self.agents, self.conversations, language=self.language)
        channels: list[AgentChannel] = []
        if self.settings.agents_slack_channel:
            bridge = SlackAgentBridge(self.agents, self.settings.agents_slack_channel)
            self.agents.listeners.append(bridge)
            channels.append(bridge)
        middleware = getattr(bot, "middleware", None)
        if not isinstance(middleware, list):
            raise RuntimeError(
                "the support desk needs a botkit.app.Bot (it adds its middleware to bot.middleware)"
            )
        self._gate = DeskGate(self.agents, self.conversations, channels, language=self.language)
        middleware.append(self._gate)  # innermost: input limits and rate limits still apply first
        self._middleware = middleware
        if self.settings.metrics_port is not None:
            from botkit.desk.metrics import serve_metrics  # prometheus-client: the kb extra

            self._metrics = await asyncio.to_thread(serve_metrics, self.engine, self.settings.metrics_port)

    async def teardown(self) -> None:
        """Stop serving metrics, take the middleware out; close the engine if the desk opened it."""
        if self._metrics is not None:
            await asyncio.to_thread(self._metrics.close)
            self._metrics = None
        if self._middleware is not None and self._gate in self._middleware:
            self._middleware.remove(self._gate)
        if self._own_engine and self.engine is not None:
            self.engine.dispose()

    # -- handlers ---------------------------------------------------------------------------------
    @on_message(priority=INTENT_PRIORITY, block=False)
    async def person_asked_for(self, ctx: Context) -> None:
        """Hand off when the whole message asks for a person; "not helpful" typed counts as the button."""
        if asks_for_person(ctx.text):
            await self.handoff.hand_off(ctx, "asked")
            ctx.stop()
        elif says_unhelpful(ctx.text) and desk_state(ctx).get("question"):
            await self._unhelpful(ctx)
            ctx.stop()

    @on_event("button", priority=INTENT_PRIORITY, block=False)
    async def button(self, ctx: Context) -> None:
        """The desk's buttons: talk to a person, not helpful, a rating."""
        data = ctx.event.data if ctx.event is not None else ""
        if data == HANDOFF_BUTTON:
            await self.handoff.hand_off(ctx, "button", record_message=False)
        elif data == UNHELPFUL_BUTTON:
            await self._unhelpful(ctx)
        elif data.startswith(RATE_PREFIX):
            await self._rate(ctx, data.removeprefix(RATE_PREFIX))
        else:
            return  # someone else's button
        ctx.stop()

    @on_message(pattern=QUESTION, priority=ANSWER_PRIORITY)
    async def answer(self, ctx: Context) -> None:
        """Answer from the knowledge base, with citations; offer a person when unsure."""
        assert self.answerer is not None  # set in setup
        question = ctx.text.strip()
        author = ctx.incoming.author
        language = language_of(author.language, self.language)
        try:
            found = await self.answerer.answer(question, language=author.language)
        except QueryTooLong as exc:
            await ctx.reply(say("query_too_long", language, length=exc.length, limit=exc.limit))
            return
        state = desk_state(ctx)
        state["question"] = question
        state["sources"] = source_dicts(fallback_sources(found))
        await self.conversations.add_turn(ctx.key, "user", question)
        labels = [s["document"] + (f" > {s['heading']}" if s["heading"] else "") for s in state["sources"]]
        if found.sure:
            text, buttons = cited(found, ctx.incoming.platform, language)
            if has_buttons(ctx.incoming.platform):
                buttons.append([Button(say("unhelpful_button", language), data=UNHELPFUL_BUTTON)])
            await ctx.reply(text, buttons=buttons)
            await self.conversations.add_turn(ctx.key, "assistant", text)
            data = {"kind": found.kind, "sources": labels}
            await self.conversations.record_event(
                ctx.key, "answered", question=question, confidence=found.confidence, data=data
            )
            return
        await self.conversations.record_event(
            ctx.key, "unsure", question=question, confidence=found.confidence, data={"sources": labels}
        )
        if self._missed(ctx):
            await self._say(ctx, say("not_sure", language))
            await self.handoff.hand_off(ctx, "unsure", record_message=False)
            return
        await self._offer(ctx, say("not_sure", language), language)

    # -- the rest ---------------------------------------------------------------------------------
    def _missed(self, ctx: Context) -> bool:
        """Count an unsure answer or a "Not helpful" mark; True when it is time to hand off."""
        state = desk_state(ctx)
        state["misses"] = int(state.get("misses", 0)) + 1
        return bool(state["misses"] >= self.settings.unsure_before_handoff)

    async def _offer(self, ctx: Context, first: str, language: str) -> None:
        if has_buttons(ctx.incoming.platform):
            text = f"{first} {say('offer_button', language)}"
            buttons = [[Button(say("talk_button", language), data=HANDOFF_BUTTON)]]
        else:
            text, buttons = f"{first} {say('offer_text', language)}", []
        await ctx.reply(text, buttons=buttons)
        await self.conversations.add_turn(ctx.key, "assistant", text)

    async def _say(self, ctx: Context, text: str) -> None:
        await ctx.reply(text)
        await self.conversations.add_turn(ctx.key, "assistant", text)

    async def _unhelpful(self, ctx: Context) -> None:
        state = desk_state(ctx)
        language = language_of(ctx.incoming.author.language, self.language)
        question = str(state.get("question") or "") or None
        await self.conversations.record_event(ctx.key, "unhelpful", question=question)
        if self._missed(ctx):
            await self.handoff.hand_off(ctx, "unhelpful", record_message=False)
            return
        await self._offer(ctx, say("unhelpful_noted", language), language)

    async def _rate(self, ctx: Context, payload: str) -> None:
        ticket_id, _, value = payload.partition(":")
        if not (ticket_id.isdigit() and value.isdigit()):
            return
        ticket = await self.agents.ticket(int(ticket_id))
        if ticket.conversation != ctx.key:  # a button from another conversation's message: not theirs
            return
        try:
            await self.agents.rate(ticket.id, int(value), by=f"user:{ctx.incoming.author.id}")
        except (ValueError, TicketError):
            return
        language = language_of(ctx.incoming.author.language, self.language)
        await ctx.reply(say("rated", language, rating=int(value)))
