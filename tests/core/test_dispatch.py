"""Dispatch order: priorities, blocking, stop propagation, command arguments, events."""

from __future__ import annotations

import logging

import pytest

from botkit import Bot, Context, Plugin, on_command, on_event, on_message
from botkit.app import APOLOGY
from botkit.message import parse_command
from botkit.plugin import BotView
from botkit.testing import BotTester

ORDER: list[str] = []


class Ordered(Plugin):
    @on_message(r"hello", priority=10, block=False)
    async def first(self, ctx: Context) -> None:
        ORDER.append("first")

    @on_message(r"hello", priority=10, block=False)
    async def same_group(self, ctx: Context) -> None:
        ORDER.append("same_group")  # never runs: one handler per priority group

    @on_message(r"hello", priority=20, block=False)
    async def second(self, ctx: Context) -> None:
        ORDER.append("second")
        if "stop" in ctx.text:
            ctx.stop()

    @on_message(r"hello", priority=30)
    async def third(self, ctx: Context) -> None:
        ORDER.append("third")
        await ctx.reply("third")

    @on_message(priority=40)
    async def never(self, ctx: Context) -> None:
        ORDER.append("never")  # third blocks


@pytest.fixture(autouse=True)
def _clear_order() -> None:
    ORDER.clear()


async def test_priority_groups_run_in_order_and_block() -> None:
    async with BotTester(Bot([Ordered()])) as bot:
        await bot.send("hello")
        bot.assert_reply("third")
    assert ORDER == ["first", "second", "third"]


async def test_stop_propagation_ends_dispatch() -> None:
    async with BotTester(Bot([Ordered()])) as bot:
        await bot.send("hello, stop here")
        bot.assert_no_reply()
    assert ORDER == ["first", "second"]


class Calculator(Plugin):
    @on_command("add", aliases=("plus",))
    async def add(self, ctx: Context, a: int, b: int = 1) -> None:
        """Add two integers."""
        await ctx.reply(str(a + b))

    @on_command("say")
    async def say(self, ctx: Context, *words: str) -> None:
        """Repeat the words."""
        await ctx.reply("|".join(words))

    @on_event("button")
    async def pressed(self, ctx: Context) -> None:
        assert ctx.event is not None
        await ctx.reply(f"pressed {ctx.event.data}")

    @on_event("join")
    async def joined(self, ctx: Context) -> None:
        await ctx.reply("welcome")


async def test_command_arguments_are_converted_by_annotation() -> None:
    async with BotTester(Bot([Calculator()])) as bot:
        await bot.send("/add 2 40")
        bot.assert_reply("42")
        await bot.send("/plus 41")
        bot.assert_reply("42")
        await bot.send('/say one "two three" four')
        bot.assert_reply("one|two three|four")
        await bot.send("/ADD@mybot 1 1")
        bot.assert_reply("2")


async def test_bad_command_arguments_get_usage() -> None:
    async with BotTester(Bot([Calculator()])) as bot:
        await bot.send("/add x")
        bot.assert_reply("Usage: /add <a> [b] (<a> must be int, got 'x')")
        await bot.send("/add")
        bot.assert_reply("Usage: /add <a> [b] (missing <a>)")
        await bot.send("/add 1 2 3")
        bot.assert_reply(contains="unexpected extra argument '3'")


async def test_events_reach_their_handlers() -> None:
    async with BotTester(Bot([Calculator()])) as bot:
        await bot.press("yes")
        bot.assert_reply("pressed yes")
        await bot.press("", kind="join")
        bot.assert_reply("welcome")
        await bot.press("", kind="reaction")
        bot.assert_no_reply()


def test_match_is_separate_from_run() -> None:
    spec = Calculator.handler_specs["add"]
    from botkit.message import Conversation, Message, User

    msg = Message("t", Conversation("c", "t"), User("u"), "/add 1 2")
    matched = spec.match(msg)
    assert matched == parse_command("/add 1 2")
    assert not spec.match(Message("t", Conversation("c", "t"), User("u"), "add 1 2"))


async def test_unaddressed_group_messages_are_ignored_by_default() -> None:
    class Any_(Plugin):
        @on_message()
        async def any_(self, ctx: Context) -> None:
            await ctx.reply("heard")

    async with BotTester(Bot([Any_()])) as bot:
        await bot.send("chatter between others", addressed=False)
        bot.assert_no_reply()
        await bot.send("hey bot", addressed=True)
        bot.assert_reply("heard")


def test_handlers_must_be_async() -> None:
    with pytest.raises(TypeError, match="must be an async function"):

        class Broken(Plugin):
            @on_command("x")  # type: ignore[type-var]
            def x(self, ctx: Context) -> None:
                pass


class Crashy(Plugin):
    @on_command("boom")
    async def boom(self, ctx: Context) -> None:
        raise RuntimeError("kaboom")

    @on_command("ok")
    async def ok(self, ctx: Context) -> None:
        await ctx.reply("fine")


async def test_crashing_handler_apologises_logs_and_bot_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="botkit")
    async with BotTester(Bot([Crashy()])) as bot:
        await bot.send("/boom")
        sent = bot.assert_reply(contains=APOLOGY)
        await bot.send("/ok")
        bot.assert_reply("fine")
    record = next(r for r in caplog.records if "handler error" in r.getMessage())
    assert "test:c1" in record.getMessage()  # the conversation id
    assert record.exc_info is not None
    assert "kaboom" in str(record.exc_info[1])
    error_id = sent.text.rsplit("error ", 1)[1].rstrip(")")
    assert error_id in record.getMessage()


async def test_plugin_failing_setup_is_dropped_and_others_work() -> None:
    class BadSetup(Plugin):
        async def setup(self, bot: BotView) -> None:
            raise ConnectionError("database unreachable")

        @on_command("bad")
        async def bad(self, ctx: Context) -> None:
            await ctx.reply("should not run")

    bot_ = Bot([BadSetup(), Calculator()])
    async with BotTester(bot_) as bot:
        assert "badsetup" in bot_.load_errors
        assert "database unreachable" in bot_.load_errors["badsetup"]
        await bot.send("/add 1 1")
        bot.assert_reply("2")
        assert "bad" not in bot_.commands
