"""The support desk end to end through ``BotTester``, on SQLite and PostgreSQL: what the user sees.

A question answered from the knowledge base with its citation; an unknown one gets "not sure" and the
offer of a person; "talk to a human" opens a ticket and the bot goes silent; an agent's reply reaches the
user; resolving hands back and asks for a rating, which is stored; two agents taking at once: one wins.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import Engine, select

from botkit.app import Bot
from botkit.config import DeskSettings, Settings
from botkit.db.schema import conversations, desk_events
from botkit.desk import AlreadyTaken, SupportDesk, Tickets
from botkit.kb import KnowledgeBase
from botkit.message import Conversation
from botkit.plugins.chat import ChatPlugin
from botkit.plugins.help import HelpPlugin
from botkit.testing import BotTester, ScriptedModel
from tests.desk.engines import desk_engine
from tests.desk.example_kb import Rows, example_kb

RETURN_WINDOW = "How long do I have to return an item?"
RETURN_ANSWER = "You can return most items within 60 days of delivery"  # the FAQ's own text begins so


@dataclass
class Rig:
    tester: BotTester
    desk: SupportDesk
    engine: Engine
    model: ScriptedModel

    @property
    def tickets(self) -> Tickets:
        return self.desk.agents.tickets

    def mode(self, key: str = "test:c1") -> str:
        with self.engine.connect() as conn:
            found = conn.execute(select(conversations.c.mode).where(conversations.c.key == key)).scalar()
            return str(found)

    def events(self) -> list[tuple[str, str | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(desk_events.c.kind, desk_events.c.question).order_by(desk_events.c.id))
            return [(r.kind, r.question) for r in rows]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = desk_engine(database_url)
    try:
        yield made
    finally:
        made.dispose()


def make_bot(kb: KnowledgeBase, engine: Engine) -> tuple[Bot, SupportDesk, ScriptedModel]:
    model = ScriptedModel(["(the chat model spoke)"])
    plugin = SupportDesk(kb, engine=engine)
    settings = Settings(desk=DeskSettings(enabled=True))
    return Bot([plugin, HelpPlugin(), ChatPlugin()], model=model, settings=settings), plugin, model


@pytest_asyncio.fixture
async def rig(engine: Engine, example_kb_rows: Rows) -> AsyncIterator[Rig]:
    bot, plugin, model = make_bot(example_kb(engine, example_kb_rows), engine)
    async with BotTester(bot) as tester:
        yield Rig(tester, plugin, engine, model)


async def test_a_question_is_answered_from_the_kb_with_its_citation(rig: Rig) -> None:
    await rig.tester.send("how long do I have to return an item?")
    sent = rig.tester.assert_reply(contains=RETURN_ANSWER)
    assert sent.text.endswith(f"Source: faq.csv > {RETURN_WINDOW}")
    labels = [b.label for row in sent.reply.buttons for b in row]  # type: ignore[union-attr]
    assert labels == ["Not helpful"]
    assert rig.model.calls == []  # the knowledge base answered, not the chat model
    assert rig.events() == [("answered", "how long do I have to return an item?")]
    with rig.engine.connect() as conn:
        row = conn.execute(select(conversations).where(conversations.c.key == "test:c1")).one()
    assert (row.platform, row.user_id, row.user_name, row.mode) == ("test", "u1", "Test User", "bot")
    assert row.last_seen_at >= row.created_at


async def test_the_whole_handoff_from_question_to_rating(rig: Rig) -> None:
    tester, agents = rig.tester, rig.desk.agents
    await tester.send("what is the airspeed of an unladen swallow")
    offer = tester.assert_reply(contains="I'm not sure")
    assert "A person from our team can help" in offer.text
    assert [b.data for row in offer.reply.buttons for b in row] == ["desk:handoff"]  # type: ignore[union-attr]
    assert rig.model.calls == []  # no guess from the chat model either

    await tester.send("Talk to a human!")
    tester.assert_reply(contains="You are number 1 in the queue")
    (ticket,) = await agents.queue()
    assert (ticket.conversation, ticket.reason, ticket.status) == ("test:c1", "asked", "waiting")
    assert ticket.subject == "what is the airspeed of an unladen swallow"
    assert rig.mode() == "waiting"

    # While people own the conversation the bot says nothing, to questions, commands or chat alike.
    for text in ("hello? anyone there?", "/help", RETURN_WINDOW):
        await tester.send(text)
        tester.assert_no_reply()
    assert rig.model.calls == []

    await agents.reply(ticket.id, "alice", "Hi, I'm Alice. Swallows are outside our shop's range!")
    assert tester.adapter.pushed[-1] == ("c1", None, "Hi, I'm Alice. Swallows are outside our shop's range!")
    assert rig.mode() == "agent"
    transcript = [(line.speaker, line.content) for line in await agents.transcript(ticket.id)]
    assert transcript[0] == ("user", "what is the airspeed of an unladen swallow")
    assert ("user", "hello? anyone there?") in transcript
    assert transcript[-1] == ("agent:alice", "Hi, I'm Alice. Swallows are outside our shop's range!")

    await agents.resolve(ticket.id, "alice")
    resolved_text = tester.adapter.pushed[-1][2]
    assert "marked your question as resolved" in resolved_text
    assert "Rate it from 1 (poor) to 5 (great)" in resolved_text
    await tester.press(f"desk:rate:{ticket.id}:5")
    tester.assert_reply("Thank you for rating us 5/5.")
    assert (await agents.ticket(ticket.id)).rating == 5
    assert rig.mode() == "bot"

    await tester.send("How long do I have to return an item?")  # the bot answers again
    tester.assert_reply(contains=RETURN_ANSWER)
    kinds = [e.kind for e in await asyncio.to_thread(rig.tickets.events, ticket.id)]
    assert kinds == ["opened", "assigned", "agent_reply", "resolved", "rated"]


async def test_a_rating_typed_as_a_number_and_anything_else_goes_back_to_the_bot(rig: Rig) -> None:
    tester, agents = rig.tester, rig.desk.agents
    await tester.send("agent")
    tester.assert_reply(contains="number 1 in the queue")
    (ticket,) = await agents.queue()
    await agents.reply(ticket.id, "bob", "Sorted.")
    await agents.resolve(ticket.id, "bob")
    await tester.send("\uff14")  # a full-width digit, as a Chinese keyboard types it
    tester.assert_reply("Thank you for rating us 4/5.")
    assert (await agents.ticket(ticket.id)).rating == 4

    await tester.send("人工客服")
    tester.assert_reply(contains="number 1")
    (second,) = await agents.queue()
    await agents.resolve(second.id, "bob")
    await tester.send("How long do I have to return an item?")  # no rating: answered as usual
    tester.assert_reply(contains=RETURN_ANSWER)
    assert (await agents.ticket(second.id)).rating is None
    assert rig.mode() == "bot"


async def test_unsure_answers_and_not_helpful_marks_hand_off_by_themselves(rig: Rig) -> None:
    tester = rig.tester
    await tester.send("How long do I have to return an item?")
    tester.assert_reply(contains="Source: faq.csv")
    await tester.press("desk:unhelpful")
    noted = tester.assert_reply(contains="Sorry that didn't help")
    assert [b.data for row in noted.reply.buttons for b in row] == ["desk:handoff"]  # type: ignore[union-attr]
    await tester.send("zzz qqq unknown words")  # the second miss (unsure_before_handoff = 2): hand off
    fresh = [s.text for s in tester.new_replies()]
    assert fresh[0].startswith("I'm not sure")
    assert "number 1 in the queue" in fresh[1]
    (ticket,) = await rig.desk.agents.queue()
    assert ticket.reason == "unsure"
    assert ticket.sources  # the sources the bot had retrieved go to the agent
    assert [kind for kind, _ in rig.events()] == ["answered", "unhelpful", "unsure"]
    await tester.press("desk:handoff")  # already waiting: silent (the button press is swallowed)
    tester.assert_no_reply()


async def test_two_agents_taking_at_once_one_wins_the_other_is_told(rig: Rig) -> None:
    tester, agents = rig.tester, rig.desk.agents
    await tester.send("talk to a person")
    (ticket,) = await agents.queue()
    for _ in range(5):
        results = await asyncio.gather(
            agents.reply(ticket.id, "alice", "alice here"),
            agents.reply(ticket.id, "bob", "bob here"),
            return_exceptions=True,
        )
        lost = [r for r in results if isinstance(r, AlreadyTaken)]
        assert len(lost) == 1, results
        winner = (await agents.ticket(ticket.id)).assignee
        assert lost[0].winner == winner
        assert f"already taken by {winner}" in str(lost[0])
        # only the winner's words reached the user
        assert [text for _, _, text in tester.adapter.pushed] == [f"{winner} here"]
        await agents.resolve(ticket.id, winner)
        tester.adapter.pushed.clear()
        await tester.send("4")
        tester.new_replies()
        await tester.send("talk to a person")
        tester.new_replies()
        (ticket,) = await agents.queue()


async def test_hand_off_without_a_desk_is_a_clear_error() -> None:
    from botkit.desk import DeskNotEnabled, hand_off
    from botkit.plugin import Plugin, on_command

    class Escalate(Plugin):
        @on_command("escalate")
        async def escalate(self, ctx) -> None:  # type: ignore[no-untyped-def]
            try:
                await hand_off(ctx, "plugin")
            except DeskNotEnabled as exc:
                await ctx.reply(str(exc))

    async with BotTester(Bot([Escalate()])) as tester:
        await tester.send("/escalate")
        tester.assert_reply(contains="set [desk] enabled = true")


async def test_a_platform_without_buttons_gets_words_to_type(engine: Engine, example_kb_rows: Rows) -> None:
    bot, plugin, _ = make_bot(example_kb(engine, example_kb_rows), engine)
    tester = BotTester(bot, conversation=Conversation("console", "console"))
    tester.adapter.name = "console"  # the terminal: its messages cannot carry buttons
    async with tester:
        await tester.send("what is the airspeed of an unladen swallow")
        offer = tester.assert_reply(contains="reply 'agent'")
        assert not offer.reply.buttons  # type: ignore[union-attr]
        await tester.send("How long do I have to return an item?")
        answer = tester.assert_reply(contains=RETURN_ANSWER)
        assert not answer.reply.buttons  # type: ignore[union-attr]
        await tester.send("Not helpful.")  # the button's words, typed: the second miss hands off
        tester.assert_reply(contains="number 1 in the queue")
        (ticket,) = await plugin.agents.queue()
        assert ticket.reason == "unhelpful"
        await plugin.agents.resolve(ticket.id, "carol")
        assert "Reply with a number from 1 (poor) to 5 (great)" in tester.adapter.pushed[-1][2]
        await tester.send("2")
        tester.assert_reply("Thank you for rating us 2/5.")
        assert (await plugin.agents.ticket(ticket.id)).rating == 2


async def test_a_plugin_hands_off_and_a_too_long_question_is_refused(
    engine: Engine, example_kb_rows: Rows
) -> None:
    from botkit.desk import hand_off
    from botkit.plugin import Plugin, on_command

    class Escalate(Plugin):
        @on_command("escalate")
        async def escalate(self, ctx) -> None:  # type: ignore[no-untyped-def]
            await hand_off(ctx, "plugin")

    kb = example_kb(engine, example_kb_rows)
    desk = SupportDesk(kb, engine=engine)
    async with BotTester(
        Bot([desk, Escalate()], settings=Settings(desk=DeskSettings(enabled=True)))
    ) as tester:
        question = ("where is my parcel? " * 100).strip()  # past kb.max_query_chars, within the input limit
        await tester.send(question)
        tester.assert_reply(
            contains=f"That question is too long for me ({len(question)} characters; at most 1000)"
        )
        await tester.send("/escalate")
        tester.assert_reply(contains="number 1 in the queue")
        (ticket,) = await desk.agents.queue()
        assert ticket.reason == "plugin"
        await tester.send("/escalate")  # silent now: even the plugin's command does not run
        tester.assert_no_reply()
