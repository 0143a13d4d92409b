"""``send_to`` returns the platform's id of the message it posted (the desk starts agent threads under it).

Real adapters against their fake servers: the id returned is the one the platform recorded.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

from botkit.adapters.console import ConsoleAdapter
from botkit.adapters.discord import DiscordAdapter
from botkit.adapters.discord.fake_server import FakeDiscordServer
from botkit.adapters.telegram import TelegramAdapter
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.app import Bot
from botkit.config import DiscordSettings
from botkit.message import Attachment, Reply, StreamingReply
from botkit.testing import BotTester
from tests.adapters.slack_harness import echo_slack
from tests.adapters.telegram_harness import TOKEN, settings


async def words() -> AsyncIterator[str]:
    for word in ("Your ", "order ", "shipped."):
        yield word


async def test_slack_returns_the_ts_of_the_root_message() -> None:
    async with echo_slack() as slack:
        ts = await slack.bot.send_to("slack:C0001", Reply("New ticket #7"))
        (root,) = slack.fake.thread("C0001", None)
        assert ts == root.ts
        reply_ts = await slack.bot.send_to("slack:C0001", StreamingReply(words()), thread_id=ts)
        (in_thread,) = slack.fake.thread("C0001", ts)
        assert (reply_ts, in_thread.text) == (in_thread.ts, "Your order shipped.")
        file = Attachment(kind="file", name="t.txt", data=b"t")
        assert await slack.bot.send_to("slack:C0001", Reply("", files=[file])) is None  # Slack names no ts


async def test_telegram_returns_the_message_id() -> None:
    async with FakeTelegramServer(TOKEN, bot_id=555000111, bot_username="BotkitTestBot") as tg:
        bot = Bot()
        adapter = TelegramAdapter(settings(tg))
        await adapter.start(bot)
        bot.attach(adapter)
        try:
            first = await bot.send_to("telegram:4242", Reply("An agent answered."))
            second = await bot.send_to("telegram:4242", StreamingReply(words()))
            file = Attachment(kind="file", name="t.txt", mime_type="text/plain", data=b"t")
            third = await bot.send_to("telegram:4242", Reply("a file", files=[file]))
        finally:
            await adapter.stop()
        ids = sorted(message_id for chat, message_id in tg.messages if chat == 4242)
        assert [first, second, third] == [str(i) for i in ids]


async def test_discord_returns_the_message_id() -> None:
    fake = FakeDiscordServer()
    await fake.start()
    options = {"guild_ready_timeout_s": 0.05, "stream_edit_interval_s": 0.02}
    adapter = DiscordAdapter(DiscordSettings(token=fake.token, api_base=fake.api_base, **options))
    bot = Bot()
    bot.attach(adapter)
    try:
        await adapter.start(bot)
        sent = await bot.send_to(f"discord:{fake.channel_id}", Reply("New ticket #7"))
        streamed = await bot.send_to(f"discord:{fake.channel_id}", StreamingReply(words()))
        assert [sent, streamed] == [m.id for m in fake.messages_in(fake.channel_id)]
    finally:
        await adapter.stop()
        await fake.stop()


async def test_console_and_the_fake_adapter() -> None:
    console = ConsoleAdapter(stdout=io.StringIO(), interactive=False)
    assert await console.send_to("console", Reply("hi")) is None  # a terminal's lines have no ids
    async with BotTester(Bot()) as tester:
        assert await tester.bot.send_to("test:c1", Reply("one")) == "1"
        assert await tester.bot.send_to("test:c2", Reply("two"), thread_id="1") == "2"
        assert tester.adapter.pushed == [("c1", None, "one"), ("c2", "1", "two")]
