"""Issue 10 on Discord: messages the bot starts, files in and out, the user's language.

Real discord.py and aiohttp against the fake Discord (REST, gateway and CDN) on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from botkit.adapters.discord import DiscordAdapter
from botkit.adapters.discord.fake_server import FakeDiscordServer
from botkit.adapters.discord.files import CHUNK_BYTES
from botkit.app import Bot
from botkit.config import DiscordSettings, LimitSettings, Settings
from botkit.context import Context
from botkit.errors import AttachmentTooLarge, ConversationClosed
from botkit.message import Attachment, Button, Message, Reply, StreamingReply
from botkit.plugin import Plugin, on_command
from botkit.plugins.help import HelpPlugin

IMAGE = b"\x89PNG\r\n\x1a\n" + os.urandom(300_000)  # several CDN chunks, and random: no lucky match


class Files(Plugin):
    """Sends attachments back, sends files, and says the user's language."""

    def __init__(self) -> None:
        self.seen: list[Message] = []

    @on_command("mirror")
    async def mirror(self, ctx: Context) -> None:
        """Send the attached image back."""
        assert ctx.message is not None
        self.seen.append(ctx.message)
        image = ctx.message.attachments[0]
        try:
            data = await ctx.download(image)
        except AttachmentTooLarge as exc:
            await ctx.reply(f"Too large for me: {exc}")
            return
        except LookupError as exc:
            await ctx.reply(f"Gone: {exc}")
            return
        back = Attachment(kind=image.kind, name=image.name, mime_type=image.mime_type, data=data)
        await ctx.reply("Here it is back.", files=[back])

    @on_command("report")
    async def report(self, ctx: Context, count: int, text: str = "") -> None:
        """Send ``count`` small text files."""
        files = [
            Attachment(kind="file", name=f"r{i}.txt", mime_type="text/plain", data=b"%d" % i)
            for i in range(count)
        ]
        await ctx.reply(text, files=files)

    @on_command("lang")
    async def lang(self, ctx: Context) -> None:
        """Say the user's language."""
        assert ctx.message is not None
        await ctx.reply(f"language: {ctx.message.author.language}")


@asynccontextmanager
async def running(
    max_attachment_bytes: int = 20 * 1024 * 1024,
) -> AsyncIterator[tuple[FakeDiscordServer, Bot, Files]]:
    """A fake Discord, the ``Files`` plugin's bot attached to a started adapter; all stopped afterwards."""
    fake = FakeDiscordServer()
    await fake.start()
    options: dict[str, Any] = {"guild_ready_timeout_s": 0.05, "stream_edit_interval_s": 0.02}
    adapter = DiscordAdapter(DiscordSettings(token=fake.token, api_base=fake.api_base, **options))
    plugin = Files()
    settings = Settings(limits=LimitSettings(max_attachment_bytes=max_attachment_bytes))
    bot = Bot([HelpPlugin(), plugin], settings=settings)
    bot.attach(adapter)
    try:
        await adapter.start(bot)
        yield fake, bot, plugin
    finally:
        await adapter.stop()
        await bot.stop()
        await fake.stop()


# -- files in and out --------------------------------------------------------------------------------


async def test_an_image_round_trips_byte_for_byte() -> None:
    async with running() as (fake, _bot, plugin):
        image = fake.host_file(IMAGE, "photo.png", "image/png")
        await fake.send_message("!mirror", attachments=[image])
        await fake.wait_for(lambda: fake.messages_in(fake.channel_id))
        (sent,) = fake.messages_in(fake.channel_id)
        assert sent.content == "Here it is back."
        (file,) = sent.files
        assert file.data == IMAGE
        assert (file.filename, file.content_type, file.metadata) == (
            "photo.png",
            "image/png",
            {"id": 0, "filename": "photo.png"},
        )
        (received,) = plugin.seen[0].attachments
        assert (received.kind, received.name, received.size) == ("image", "photo.png", len(IMAGE))
        assert fake.downloads == [image["url"].split(str(fake.port), 1)[1]]  # downloaded once, from the CDN
        (upload,) = [c for c in fake.calls if c.method == "POST" and c.path.endswith("/messages")]
        assert upload.status == 200
        assert upload.body["allowed_mentions"] == {"parse": []}  # payload_json is the usual message body


async def test_an_attachment_declared_too_large_is_not_downloaded() -> None:
    async with running(max_attachment_bytes=1000) as (fake, _bot, _plugin):
        await fake.send_message("!mirror", attachments=[fake.host_file(b"x" * 5000, "big.png")])
        await fake.wait_for(lambda: fake.messages_in(fake.channel_id))
        (sent,) = fake.messages_in(fake.channel_id)
        assert sent.content == "Too large for me: big.png is 5,000 bytes; the limit is 1,000"
        assert sent.files == []
        assert fake.downloads == []  # the declared size was enough to refuse it


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "no-length"])
async def test_a_download_stops_past_the_limit_when_the_declared_size_lies(chunked: bool) -> None:
    limit, data = 100_000, os.urandom(2_000_000)
    async with running(max_attachment_bytes=limit) as (fake, _bot, _plugin):
        lying = fake.host_file(data, "big.png", declared_size=10, chunked=chunked)
        await fake.send_message("!mirror", attachments=[lying])
        await fake.wait_for(lambda: fake.messages_in(fake.channel_id))
        (sent,) = fake.messages_in(fake.channel_id)
        found = re.fullmatch(
            r"Too large for me: big\.png is ([\d,]+) bytes; the limit is 100,000", sent.content
        )
        assert found is not None, sent.content
        counted = int(found.group(1).replace(",", ""))
        if chunked:  # no length to trust: the bytes were counted and reading stopped soon after the limit
            assert limit < counted <= limit + CHUNK_BYTES
        else:
            assert counted == len(data)  # the CDN's Content-Length, before any byte was read
        assert len(fake.downloads) == 1


async def test_an_expired_cdn_link_is_a_clear_error() -> None:
    async with running() as (fake, _bot, _plugin):
        image = fake.host_file(IMAGE, "old.png")
        fake.cdn.clear()  # Discord's signed CDN links expire (after about a day)
        await fake.send_message("!mirror", attachments=[image])
        await fake.wait_for(lambda: fake.messages_in(fake.channel_id))
        (sent,) = fake.messages_in(fake.channel_id)
        assert sent.content == "Gone: discord: could not download old.png: the CDN answered 404"


async def test_many_files_go_ten_to_a_message_after_the_text() -> None:
    async with running() as (fake, _bot, _plugin):
        await fake.send_message("!report 12 weekly", dm=True)
        await fake.wait_for(lambda: len(fake.messages_in(fake.dm_channel_id)) == 2)
        first, second = fake.messages_in(fake.dm_channel_id)
        assert (first.content, second.content) == ("weekly", "")
        assert [f.data for f in first.files] == [b"%d" % i for i in range(10)]
        assert [(f.filename, f.data) for f in second.files] == [("r10.txt", b"10"), ("r11.txt", b"11")]


async def test_a_slash_command_answers_with_a_file_in_its_original_response() -> None:
    async with running() as (fake, _bot, _plugin):
        options = [{"type": 3, "name": "args", "value": "1"}]
        slash = fake.make_interaction(2, {"id": "1", "name": "report", "type": 1, "options": options})
        await fake.dispatch("INTERACTION_CREATE", slash)
        await fake.wait_for(lambda: [m for m in fake.messages_in(fake.channel_id) if m.files])
        (answer,) = fake.messages_in(fake.channel_id)
        assert answer.interaction == slash["token"]  # "thinking..." became the message with the file
        assert [(f.filename, f.data) for f in answer.files] == [("r0.txt", b"0")]
        edit = next(c for c in fake.calls if c.method == "PATCH")
        assert edit.path.endswith("/messages/@original")
        assert edit.status == 200


# -- messages the bot starts -------------------------------------------------------------------------


async def test_send_to_posts_in_the_channel_with_buttons_and_files() -> None:
    async with running() as (fake, bot, _plugin):
        report = Attachment(kind="file", name="ticket.txt", mime_type="text/plain", data=b"ticket 42")
        reply = Reply("An agent answered ticket 42.", [[Button("Open", "open:42")]], [report])
        await bot.send_to(f"discord:{fake.channel_id}", reply)
        (sent,) = fake.messages_in(fake.channel_id)
        assert sent.content == "An agent answered ticket 42."
        assert sent.components[0]["components"][0]["custom_id"] == "open:42"
        assert [(f.filename, f.data) for f in sent.files] == [("ticket.txt", b"ticket 42")]


async def test_send_to_streams_a_reply_as_edits_into_a_thread() -> None:
    async def words() -> AsyncIterator[str]:
        for word in ("Your ", "order ", "has ", "shipped."):
            yield word

    async with running() as (fake, bot, _plugin):
        await bot.send_to(f"discord:{fake.channel_id}", StreamingReply(words()), thread_id=fake.thread_id)
        (sent,) = fake.messages_in(fake.thread_id)
        assert sent.content == "Your order has shipped."
        assert len(sent.history) >= 2  # posted with the first words, then edited
        assert fake.messages_in(fake.channel_id) == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (50001, "Missing Access"),
        (50013, "Missing Permissions"),
        (10003, "Unknown Channel"),
        (50007, "Cannot send messages to this user"),
    ],
)
async def test_send_to_a_channel_that_refuses_the_bot_marks_it_closed(code: int, reason: str) -> None:
    async with running() as (fake, bot, _plugin):
        channel = fake.dm_channel_id if code == 50007 else fake.channel_id
        fake.refuse(channel, code)
        key = f"discord:{channel}"
        with pytest.raises(ConversationClosed) as closed:
            await bot.send_to(key, Reply("Are you still there?"))
        assert (closed.value.key, closed.value.reason) == (key, reason)
        assert (await bot.store.get_state(key))["closed"] == {"reason": reason}
        assert fake.messages_in(channel) == []
        refused = [c for c in fake.calls if c.path == f"/channels/{channel}/messages"]
        assert [c.status for c in refused] == [404 if code == 10003 else 403]


async def test_send_to_refuses_bad_input_before_calling_discord() -> None:
    async with running() as (fake, bot, _plugin):
        before = len(fake.calls)
        with pytest.raises(ValueError, match="'general' is not a channel id"):
            await bot.send_to("discord:general", Reply("hello"))
        empty = Attachment(kind="file", name="lost.txt")  # no bytes: nothing to upload
        with pytest.raises(ValueError, match=r"reply file 0 \(lost.txt\) holds no data"):
            await bot.send_to(f"discord:{fake.channel_id}", Reply("see the file", files=[empty]))
        assert fake.calls[before:] == []
        assert (await bot.store.get_state(f"discord:{fake.channel_id}")).get("closed") is None


# -- the user's language -----------------------------------------------------------------------------


async def test_an_interaction_carries_the_users_language_and_a_message_none() -> None:
    async with running() as (fake, _bot, _plugin):
        slash = fake.make_interaction(2, {"id": "1", "name": "lang", "type": 1}, locale="zh-CN")
        await fake.dispatch("INTERACTION_CREATE", slash)
        await fake.send_message("!lang", dm=True)

        def shown(channel: str) -> list[str]:
            return [m.content for m in fake.messages_in(channel)]

        # The slash command's "thinking..." response is there at once; the answer edits it.
        await fake.wait_for(lambda: shown(fake.channel_id) == ["language: zh-CN"])
        await fake.wait_for(lambda: shown(fake.dm_channel_id) == ["language: None"])


async def test_a_chinese_discord_user_gets_chinese_help() -> None:
    async with running() as (fake, _bot, _plugin):
        slash = fake.make_interaction(2, {"id": "1", "name": "help", "type": 1}, locale="zh-CN")
        await fake.dispatch("INTERACTION_CREATE", slash)
        await fake.send_message("!help", dm=True)  # a message says no language: the config's, English
        await fake.wait_for(lambda: [m for m in fake.messages_in(fake.channel_id) if m.content])
        await fake.wait_for(lambda: fake.messages_in(fake.dm_channel_id))
        (chinese,) = fake.messages_in(fake.channel_id)
        (english,) = fake.messages_in(fake.dm_channel_id)
        assert chinese.content.startswith("命令：")
        assert english.content.startswith("Commands:")
