"""``ctx.ask``: the question is sent, the next message answers it, and nothing else sees that answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from botkit import Bot, Context, Plugin, on_command
from botkit.adapters.telegram import TelegramAdapter
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.plugins.chat import ChatPlugin
from botkit.stores import SqliteStore
from botkit.testing import BotTester, ScriptedModel
from tests.adapters.telegram_harness import settings, tg_fixture  # noqa: F401  (the ``tg`` fixture)

QUESTION = "Your order number?"


class Orders(Plugin):
    """Asks for an order number; ``/slowask`` waits only a moment."""

    def __init__(self) -> None:
        self.finished: list[str] = []

    @on_command("order")
    async def order(self, ctx: Context) -> None:
        number = await ctx.ask(QUESTION, timeout=30, parse=int)
        ctx.state["last_order"] = number  # changed after the answer: must be saved
        quantity = await ctx.ask("How many?", parse=int)
        self.finished.append(f"{number}x{quantity}")
        await ctx.reply(f"Order {number}: {quantity} more.")

    @on_command("slowask")
    async def slow_ask(self, ctx: Context) -> None:
        try:
            await ctx.ask(QUESTION, timeout=0.2)
        finally:
            self.finished.append("slowask ended")

    @on_command("name")
    async def name(self, ctx: Context) -> None:
        answer = await ctx.ask("Your name?", parse=_name)
        await ctx.reply(f"Hello, {answer}.")


def _name(text: str) -> str:
    if not text.strip().isalpha():
        raise ValueError("A name has letters only.")
    return text.strip()


def chat_bot(model: ScriptedModel, store: SqliteStore | None = None) -> tuple[Bot, Orders]:
    orders = Orders()
    return Bot([orders, ChatPlugin()], model=model, store=store), orders


async def test_the_next_message_answers_and_never_reaches_the_model() -> None:
    model = ScriptedModel(["model says hi"])
    bot, orders = chat_bot(model)
    async with BotTester(bot) as tester:
        await tester.send("/order")
        tester.assert_reply(QUESTION)
        answered = await tester.send("12345")
        asked = tester.assert_reply("How many?")
        assert asked.to is answered.incoming  # the next question answers the answer, not the command
        assert [reply.text for reply in answered.replies] == ["How many?"]
        await tester.send("3")
        tester.assert_reply("Order 12345: 3 more.")
        assert orders.finished == ["12345x3"]
        assert model.calls == []  # none of the answers went to the chat model
        assert (await bot.store.get_state("test:c1")) == {"last_order": 12345}
        await tester.send("hello")  # once answered, messages go to the model again
        tester.assert_reply("model says hi")
        assert len(model.calls) == 1


async def test_a_bad_answer_is_asked_again_with_the_reason() -> None:
    model = ScriptedModel()
    bot, _ = chat_bot(model)
    async with BotTester(bot) as tester:
        await tester.send("/order")
        tester.assert_reply(QUESTION)
        await tester.send("twelve")
        tester.assert_reply(f"That is not a whole number. {QUESTION}")
        await tester.send("12")
        tester.assert_reply("How many?")
        await tester.send("/name")  # a command is an answer too, here a bad one
        tester.assert_reply("That is not a whole number. How many?")
        await tester.send("2")
        tester.assert_reply("Order 12: 2 more.")
        await tester.send("/name")
        tester.assert_reply("Your name?")
        await tester.send("R2D2")
        tester.assert_reply("A name has letters only. Your name?")  # a parser's own ValueError message
        await tester.send("Ada")
        tester.assert_reply("Hello, Ada.")
        assert model.calls == []


async def test_cancel_ends_the_question_quietly() -> None:
    model = ScriptedModel()
    bot, orders = chat_bot(model)
    async with BotTester(bot) as tester:
        await tester.send("/order")
        tester.assert_reply(QUESTION)
        await tester.send("/cancel")
        tester.assert_reply(f'Cancelled: I am no longer waiting for your answer to "{QUESTION}".')
        assert orders.finished == []  # the handler ended with Cancelled, and without an apology
        assert (await bot.store.get_state("test:c1")) == {}
        await tester.send("/cancel")
        tester.assert_reply("There is nothing to cancel: I am not waiting for an answer.")
        assert model.calls == []


async def test_no_answer_in_time_ends_the_question() -> None:
    model = ScriptedModel(["model reply"])
    bot, orders = chat_bot(model)
    async with BotTester(bot) as tester:
        await tester.send("/slowask")
        tester.assert_reply(QUESTION)
        notice = await tester.next_reply()
        assert notice.text.startswith(f'I stopped waiting for your answer to "{QUESTION}".')
        assert orders.finished == ["slowask ended"]
        assert (await bot.store.get_state("test:c1")) == {}
        await tester.send("42")  # too late: an ordinary message now
        tester.assert_reply("model reply")


async def test_conversations_wait_apart() -> None:
    from botkit.message import Conversation

    bot, _ = chat_bot(ScriptedModel(["model"]))
    async with BotTester(bot) as tester:
        other = Conversation("c2", tester.adapter.name)
        await tester.send("/order")
        tester.assert_reply(QUESTION)
        await tester.send("hi", conversation=other)  # the other conversation is not waiting
        tester.assert_reply("model")
        await tester.send("7")
        tester.assert_reply("How many?")


async def test_an_ask_cut_off_by_a_restart_is_explained(tmp_path: Path) -> None:
    model = ScriptedModel(["model reply"])
    first, _ = chat_bot(model, SqliteStore(tmp_path / "bot.sqlite3"))
    async with BotTester(first) as tester:
        await tester.send("/order")
        tester.assert_reply(QUESTION)
    # The process is gone; a new one over the same store gets the answer.
    second, orders = chat_bot(model, SqliteStore(tmp_path / "bot.sqlite3"))
    async with BotTester(second) as tester:
        await tester.send("12345")
        tester.assert_reply(
            f'I was restarted while waiting for your answer to "{QUESTION}"; please start again.'
        )
        assert orders.finished == []
        await tester.send("hello")  # the marker is gone: ordinary messages again
        tester.assert_reply("model reply")
    assert [call[-1]["content"] for call in model.calls] == ["hello"]  # "12345" never reached it


@pytest.mark.timeout(30)
async def test_ask_through_telegram_s_one_lane_per_chat(tg: FakeTelegramServer) -> None:
    """The adapter's lane awaits ``Bot.handle``: it must return while the handler waits for the answer."""
    model = ScriptedModel(["model"])
    bot, orders = chat_bot(model)
    adapter = TelegramAdapter(settings(tg))
    await adapter.start(bot)
    try:

        async def said(text: str) -> None:
            await tg.wait_for("sendMessage", where=lambda call: call.params["text"] == text)

        tg.message_update("/order", chat_id=42)
        await said(QUESTION)
        tg.message_update("abc", chat_id=42)
        await said(f"That is not a whole number. {QUESTION}")
        tg.message_update("12345", chat_id=42)
        await said("How many?")
        tg.message_update("2", chat_id=42)
        await said("Order 12345: 2 more.")
        await adapter.drain(5)
        asked = [QUESTION, f"That is not a whole number. {QUESTION}", "How many?", "Order 12345: 2 more."]
        assert tg.texts(42) == asked
        assert orders.finished == ["12345x2"]
        assert model.calls == []
    finally:
        await adapter.stop()
        await bot.stop()


async def test_in_a_group_only_the_one_asked_answers() -> None:
    from botkit.message import Conversation, User

    model = ScriptedModel(["model"])
    bot, orders = chat_bot(model)
    group = Conversation("g1", "test", "group")
    async with BotTester(bot, conversation=group) as tester:
        other = User("u2", "Someone Else")
        await tester.send("/order")
        tester.assert_reply(QUESTION)
        await tester.send("what is this?", user=other)  # another member talks on as usual
        tester.assert_reply("model")
        await tester.send("12345")
        tester.assert_reply("How many?")
        await tester.send("2")
        tester.assert_reply("Order 12345: 2 more.")
    assert orders.finished == ["12345x2"]
    assert [call[-1]["content"] for call in model.calls] == ["what is this?"]


async def test_a_stale_marker_of_this_process_s_own_ask_is_dropped_silently() -> None:
    """A message handled while an ask timed out may save the marker back; the bot knows its own asks."""
    model = ScriptedModel(["model"])
    bot, _ = chat_bot(model)
    async with BotTester(bot) as tester:
        await tester.send("/slowask")
        tester.assert_reply(QUESTION)
        marker = (await bot.store.get_state("test:c1"))["asking"]
        await tester.next_reply()  # timed out
        await bot.store.set_state("test:c1", {"asking": marker})  # what the race leaves behind
        await tester.send("hello")
        tester.assert_reply("model")
        assert (await bot.store.get_state("test:c1")) == {}
