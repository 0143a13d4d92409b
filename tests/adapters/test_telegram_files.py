"""The Telegram adapter with files and unprompted messages: a photo in and back out byte for byte, limits on
downloads, captions, the user's language, and ``Bot.send_to`` to open, blocked, kicked and unknown chats;
real python-telegram-bot against the fake Bot API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from botkit.adapters.telegram import TelegramAdapter
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.app import Bot
from botkit.config import Settings
from botkit.context import Context
from botkit.errors import AttachmentTooLarge, ConversationClosed
from botkit.message import Attachment, Button, Message, Reply, StreamingReply
from botkit.plugin import Plugin, on_message
from botkit.plugins.chat import ATTACHMENTS_ONLY, ChatPlugin
from botkit.testing import ScriptedModel
from tests.adapters.telegram_harness import settings, tg_fixture  # noqa: F401  (the ``tg`` fixture)

pytestmark = [pytest.mark.timeout(30)]

# A real 1x1 PNG: what a user's phone might send, bytes that must come back unchanged.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201e1a5d1bb0000000049454e44ae426082"
)
LIMIT = 4096


class Mirror(Plugin):
    """Downloads what it is sent and sends it back as a file; says so clearly when a file is too large."""

    def __init__(self) -> None:
        self.seen: list[Message] = []

    @on_message()
    async def mirror(self, ctx: Context) -> None:
        message = ctx.message
        assert message is not None
        self.seen.append(message)
        if not message.attachments:
            await ctx.reply(f"text in {message.author.language}")
            return
        got = message.attachments[0]
        try:
            data = await ctx.download(got)
        except AttachmentTooLarge as exc:
            await ctx.reply(f"That file is too large for me ({exc}).")
            return
        back = Attachment(
            kind=got.kind, name=got.name or f"back.{got.kind}", mime_type=got.mime_type, data=data
        )
        await ctx.reply(message.text or "Here it is back.", files=[back], buttons=[[Button("Again")]])


@pytest_asyncio.fixture(name="mirror")
async def mirror_fixture(tg: FakeTelegramServer) -> AsyncIterator[tuple[Bot, Mirror, TelegramAdapter]]:
    plugin = Mirror()
    bot = Bot([plugin], settings=Settings(limits={"max_attachment_bytes": LIMIT}))  # type: ignore[arg-type]
    adapter = TelegramAdapter(settings(tg))
    bot.attach(adapter)
    await adapter.start(bot)
    try:
        yield bot, plugin, adapter
    finally:
        await adapter.stop()


async def roundtrip(tg: FakeTelegramServer, adapter: TelegramAdapter, update: dict[str, Any]) -> None:
    await tg.wait_confirmed(update["update_id"])
    await adapter.drain(5)


# -- files in and out -----------------------------------------------------------------------------------
async def test_a_photo_comes_back_byte_for_byte(
    tg: FakeTelegramServer, mirror: tuple[Bot, Mirror, TelegramAdapter]
) -> None:
    _, plugin, adapter = mirror
    await roundtrip(tg, adapter, tg.photo_update(PNG, chat_id=4242))
    ((call, upload),) = tg.uploads(4242)
    assert call.method == "sendPhoto"
    assert upload.data == PNG  # what the user sent is what the bot sent back
    assert call.params["caption"] == "Here it is back."
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Again"
    assert tg.sent(4242) == []  # the text went as the caption, not as a message of its own
    (image,) = plugin.seen[0].attachments
    assert (image.kind, image.mime_type, image.size) == ("image", "image/jpeg", len(PNG))
    (get_file,) = tg.calls_to("getFile")
    assert get_file.params["file_id"] == image.platform_id


async def test_a_document_keeps_its_name_and_a_long_text_goes_first(
    tg: FakeTelegramServer, mirror: tuple[Bot, Mirror, TelegramAdapter]
) -> None:
    _, _, adapter = mirror
    caption = "notes " * 200  # 1200 characters: past the 1024 of a caption
    update = tg.document_update(
        b"%PDF-1.4 tiny", name="notes.pdf", mime_type="application/pdf", caption=caption
    )
    await roundtrip(tg, adapter, update)
    ((call, upload),) = tg.uploads(1001)
    assert call.method == "sendDocument"
    assert (upload.filename, upload.data) == ("notes.pdf", b"%PDF-1.4 tiny")
    assert "caption" not in call.params
    assert tg.texts(1001) == [caption]  # the text as a message, then the file
    (text,) = tg.sent(1001)
    assert text.at <= call.at


async def test_a_voice_note_is_downloadable_too(
    tg: FakeTelegramServer, mirror: tuple[Bot, Mirror, TelegramAdapter]
) -> None:
    _, plugin, adapter = mirror
    ogg = b"OggS\x00\x02" + bytes(range(200))
    stored = tg.files.store(ogg, folder="voice", suffix=".oga")
    update = tg.message_update("", chat_id=12, push=False)
    del update["message"]["text"]
    update["message"]["voice"] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.unique_id,
        "duration": 2,
        "mime_type": "audio/ogg",
        "file_size": len(ogg),
    }
    await roundtrip(tg, adapter, tg.push_update(update))
    (voice,) = plugin.seen[0].attachments
    assert (voice.kind, voice.mime_type) == ("audio", "audio/ogg")
    ((call, upload),) = tg.uploads(12)
    assert (call.method, upload.filename, upload.data) == ("sendDocument", "back.audio", ogg)


async def test_a_file_past_the_declared_limit_is_refused_without_downloading(
    tg: FakeTelegramServer, mirror: tuple[Bot, Mirror, TelegramAdapter]
) -> None:
    _, _, adapter = mirror
    await roundtrip(tg, adapter, tg.photo_update(b"x" * (LIMIT + 1), chat_id=7))
    assert tg.texts(7) == [
        f"That file is too large for me (image is {LIMIT + 1:,} bytes; the limit is {LIMIT:,})."
    ]
    assert tg.calls_to("getFile") == []  # the declared size was enough to know
    assert tg.uploads() == []


async def test_a_file_of_unknown_size_stops_downloading_at_the_limit(
    tg: FakeTelegramServer, mirror: tuple[Bot, Mirror, TelegramAdapter]
) -> None:
    _, _, adapter = mirror
    big = b"y" * (LIMIT * 64)  # streamed in chunks; the download ends at the chunk that passes the limit
    await roundtrip(tg, adapter, tg.document_update(big, name="dump.bin", chat_id=8, declare_size=False))
    (reply,) = tg.texts(8)
    assert reply.startswith("That file is too large for me (dump.bin is ")
    assert reply.endswith(f"the limit is {LIMIT:,}).")
    assert len(tg.calls_to("getFile")) == 1
    assert tg.uploads() == []


async def test_the_users_language_reaches_the_plugin(
    tg: FakeTelegramServer, mirror: tuple[Bot, Mirror, TelegramAdapter]
) -> None:
    _, _, adapter = mirror
    await roundtrip(tg, adapter, tg.message_update("你好", chat_id=9, language_code="zh-hans"))
    await roundtrip(tg, adapter, tg.message_update("hi", chat_id=10))
    assert tg.texts(9) == ["text in zh-hans"]
    assert tg.texts(10) == ["text in None"]  # Telegram did not say: the config's default applies


# -- messages the bot starts ------------------------------------------------------------------------------
async def test_send_to_reaches_a_chat_and_a_topic(
    tg: FakeTelegramServer, mirror: tuple[Bot, Mirror, TelegramAdapter]
) -> None:
    bot, _, _ = mirror
    await bot.send_to("telegram:4242", Reply("An agent answered your ticket."))
    await bot.send_to("telegram:-1009876543210", Reply("A new ticket is waiting."), thread_id="77")
    assert tg.texts(4242) == ["An agent answered your ticket."]
    (topic,) = tg.sent(-1009876543210)
    assert int(topic.params["message_thread_id"]) == 77
    assert "reply_parameters" not in topic.params  # nothing to quote: nobody asked


async def test_send_to_streams_and_sends_files(
    tg: FakeTelegramServer, mirror: tuple[Bot, Mirror, TelegramAdapter]
) -> None:
    bot, _, _ = mirror

    async def words() -> AsyncIterator[str]:
        for word in ("Your ", "report ", "is ", "ready."):
            yield word

    await bot.send_to("telegram:31", StreamingReply(words()))
    report = Attachment(kind="file", name="report.csv", mime_type="text/csv", data=b"id,total\n1,42\n")
    await bot.send_to("telegram:31", Reply("Here it is.", files=[report]))
    assert tg.texts(31)[0] == "Your report is ready."
    ((call, upload),) = tg.uploads(31)
    assert (call.method, call.params["caption"], upload.data) == ("sendDocument", "Here it is.", report.data)


async def test_send_to_a_topic_that_is_not_a_number_is_a_clear_error(
    tg: FakeTelegramServer, mirror: tuple[Bot, Mirror, TelegramAdapter]
) -> None:
    bot, _, _ = mirror
    with pytest.raises(ValueError, match="must be a forum topic id"):
        await bot.send_to("telegram:4242", Reply("Hello"), thread_id="general")
    assert tg.messages == {}


@pytest.mark.parametrize(
    ("chat", "closed_as", "reason"),
    [
        (4243, "blocked_chats", "Forbidden: bot was blocked by the user"),
        (-1001234, "kicked_chats", "Forbidden: bot was kicked from the supergroup chat"),
        (4244, "missing_chats", "Chat not found"),
    ],
)
async def test_send_to_a_closed_chat_is_a_clear_error_and_is_remembered(
    tg: FakeTelegramServer,
    mirror: tuple[Bot, Mirror, TelegramAdapter],
    chat: int,
    closed_as: str,
    reason: str,
) -> None:
    bot, _, _ = mirror
    getattr(tg, closed_as).add(chat)
    with pytest.raises(ConversationClosed) as caught:
        await bot.send_to(f"telegram:{chat}", Reply("Are you still there?"))
    assert caught.value.key == f"telegram:{chat}"
    assert caught.value.reason == reason  # Telegram's words (python-telegram-bot drops "Bad Request: ")
    assert (await bot.store.get_state(f"telegram:{chat}"))["closed"] == {"reason": reason}
    assert tg.messages == {}


# -- the README's examples, run on Telegram ----------------------------------------------------------------
def _readme_plugin(block: str, name: str) -> type[Plugin]:
    from tests.core.test_readme import _blocks

    namespace: dict[str, Any] = {}
    exec(compile(_blocks()[block], "README.md", "exec"), namespace)
    plugin: type[Plugin] = namespace[name]
    return plugin


async def start_readme_bot(tg: FakeTelegramServer, plugin: Plugin, **limits: int) -> TelegramAdapter:
    model = ScriptedModel(["Happy to help."])
    config = Settings(limits=limits) if limits else None  # type: ignore[arg-type]
    bot = Bot([plugin, ChatPlugin()], model=model, settings=config)
    adapter = TelegramAdapter(settings(tg))
    bot.attach(adapter)
    await adapter.start(bot)
    return adapter


async def test_the_readme_send_to_example(tg: FakeTelegramServer) -> None:
    adapter = await start_readme_bot(tg, _readme_plugin("send-to", "Agents")())
    try:
        tg.blocked_chats.add(4243)
        await roundtrip(tg, adapter, tg.message_update("/answer telegram:4242 It ships today", chat_id=50))
        await roundtrip(tg, adapter, tg.message_update("/answer telegram:4243 Hello?", chat_id=50))
        assert tg.texts(4242) == ["An agent answered: It ships today"]
        assert tg.texts(50) == ["Delivered.", "Not delivered: Forbidden: bot was blocked by the user"]
    finally:
        await adapter.stop()


async def test_the_readme_files_example(tg: FakeTelegramServer) -> None:
    adapter = await start_readme_bot(tg, _readme_plugin("files", "Screenshots")(), max_attachment_bytes=LIMIT)
    try:
        await roundtrip(tg, adapter, tg.photo_update(PNG, chat_id=61))
        ((call, upload),) = tg.uploads(61)
        assert (call.method, call.params["caption"], upload.data) == (
            "sendPhoto",
            "Thanks! Is this the screen you mean?",
            PNG,
        )
        await roundtrip(tg, adapter, tg.photo_update(b"z" * (LIMIT + 1), chat_id=62))
        assert tg.texts(62) == ["That screenshot is too large for me; please send a smaller one."]
        await roundtrip(tg, adapter, tg.message_update("where is my order?", chat_id=63))
        assert tg.texts(63) == ["Happy to help."]  # no image: on to the chat model
        await roundtrip(tg, adapter, tg.document_update(b"log", name="app.log", chat_id=64))
        assert tg.texts(64) == [ATTACHMENTS_ONLY.format(kinds="file")]  # the chat plugin's polite refusal
    finally:
        await adapter.stop()
