"""Plugin set-up and tear-down: a failed or interrupted start releases what was opened (discord.py's rule)."""

from __future__ import annotations

import asyncio

import pytest

from botkit import Bot, Context, Plugin, on_command
from botkit.plugin import BotView
from botkit.testing import BotTester


class Resource(Plugin):
    """Opens a "connection" in setup (optionally failing after it), and logs each step in ``journal``."""

    def __init__(self, name: str, journal: list[str], *, fail: BaseException | None = None) -> None:
        self.label = name
        self.journal = journal
        self.fail = fail
        self.open = False

    async def setup(self, bot: BotView) -> None:
        self.open = True
        self.journal.append(f"open {self.label}")
        if self.fail is not None:
            raise self.fail

    async def teardown(self) -> None:
        if self.open:  # copes with a half-done setup, as Plugin.setup asks
            self.open = False
            self.journal.append(f"close {self.label}")

    @on_command("ping")
    async def ping(self, ctx: Context) -> None:
        await ctx.reply(f"pong {self.label}")


async def test_a_failing_setup_is_torn_down_and_the_others_run_and_stop_in_reverse() -> None:
    journal: list[str] = []
    first, broken, last = (
        Resource("a", journal),
        Resource("b", journal, fail=ConnectionError("database unreachable")),
        Resource("c", journal),
    )
    bot_ = Bot([first, broken, last])
    async with BotTester(bot_) as bot:
        assert journal == ["open a", "open b", "close b", "open c"]
        assert bot_.plugins == [first, last]
        assert bot_.load_errors == {"resource": "setup failed: ConnectionError: database unreachable"}
        await bot.send("/ping")
        bot.assert_reply("pong a")
    assert journal[4:] == ["close c", "close a"]
    assert [first.open, broken.open, last.open] == [False, False, False]


@pytest.mark.parametrize("interruption", [asyncio.CancelledError(), KeyboardInterrupt()])
async def test_an_interrupted_start_tears_down_everything_opened_in_reverse(
    interruption: BaseException,
) -> None:
    journal: list[str] = []
    plugins = [Resource("a", journal), Resource("b", journal), Resource("c", journal, fail=interruption)]
    bot = Bot(plugins)
    with pytest.raises(type(interruption)):
        await bot.start()
    assert journal == ["open a", "open b", "open c", "close c", "close b", "close a"]
    assert not any(plugin.open for plugin in plugins)


async def test_a_failing_teardown_is_reported_and_the_others_still_run() -> None:
    journal: list[str] = []

    class Sticky(Plugin):
        async def teardown(self) -> None:
            raise OSError("socket already closed")

    bot = Bot([Resource("a", journal), Sticky(), Resource("c", journal)])
    await bot.start()
    await bot.stop()
    assert journal == ["open a", "open c", "close c", "close a"]
    assert bot.teardown_errors == {"sticky": "teardown failed: OSError: socket already closed"}
