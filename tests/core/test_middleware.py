"""Built-in middleware: input limits, rate limiting, admin-only commands, logging."""

from __future__ import annotations

import logging

import pytest

from botkit import Bot, Context, Plugin, on_command, on_message
from botkit.message import User
from botkit.middleware import (
    ADMIN_ONLY,
    EMPTY,
    AdminOnlyMiddleware,
    InputLimitsMiddleware,
    LoggingMiddleware,
    RateLimitMiddleware,
)
from botkit.testing import BotTester


class Echo(Plugin):
    @on_message()
    async def echo(self, ctx: Context) -> None:
        await ctx.reply(f"got {len(ctx.text)}")

    @on_command("shutdown", admin_only=True)
    async def shutdown(self, ctx: Context) -> None:
        """Admins only."""
        await ctx.reply("shutting down")


async def test_input_limits() -> None:
    async with BotTester(Bot([Echo()], middleware=[InputLimitsMiddleware(max_chars=50_000)])) as bot:
        await bot.send("")
        bot.assert_reply(EMPTY)
        await bot.send("   \n\t ")
        bot.assert_reply(EMPTY)
        await bot.send("x" * 100_000)
        bot.assert_reply(
            "That message is too long (100,000 characters; the limit is 50,000). Please shorten it."
        )
        await bot.send(b"caf\xe9 \xff".decode("utf-8", errors="surrogateescape"))
        bot.assert_reply(contains="not valid UTF-8")
        await bot.send("fine")
        bot.assert_reply("got 4")
        await bot.send("", addressed=False)  # an empty group message not meant for us: silence
        bot.assert_no_reply()


async def test_rate_limit_per_user_with_one_warning() -> None:
    now = [0.0]
    limiter = RateLimitMiddleware(messages=3, per_seconds=10, clock=lambda: now[0])
    alice, bob = User("alice"), User("bob")
    async with BotTester(Bot([Echo()], middleware=[limiter])) as bot:
        for _ in range(3):
            await bot.send("hi", user=alice)
            bot.assert_reply("got 2")
        await bot.send("hi", user=alice)
        bot.assert_reply("You're sending messages too fast. Please wait 10 s and try again.")
        await bot.send("hi", user=alice)
        bot.assert_no_reply()  # one warning per window, not one per message
        await bot.send("hi", user=bob)
        bot.assert_reply("got 2")  # bob has his own budget
        now[0] = 10.5
        await bot.send("hi", user=alice)
        bot.assert_reply("got 2")


async def test_admin_only_commands() -> None:
    bot_ = Bot([Echo()], middleware=[AdminOnlyMiddleware(["test:root"])])
    async with BotTester(bot_) as bot:
        await bot.send("/shutdown", user=User("mallory"))
        bot.assert_reply(ADMIN_ONLY.format(command="shutdown"))
        await bot.send("/shutdown", user=User("root"))
        bot.assert_reply("shutting down")


async def test_logging_middleware_logs_route_not_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="botkit.dispatch")
    async with BotTester(Bot([Echo()], middleware=[LoggingMiddleware()])) as bot:
        await bot.send("my secret diary")
        bot.assert_reply("got 15")
    messages = [r.getMessage() for r in caplog.records]
    assert any("test:c1 message from u1 handled in" in m for m in messages)
    assert not any("secret diary" in m for m in messages)
