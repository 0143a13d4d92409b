"""Files in and out through BotTester: what a plugin sees of an attachment, the limit, and the reply's files.

Each adapter's own tests replay the same round trip against its fake platform server; these pin the
platform-neutral part (``ctx.download``, ``limits.max_attachment_bytes``, ``ctx.reply(files=...)``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from botkit import Attachment, Bot, Context, Plugin, on_message
from botkit.config import Settings
from botkit.errors import AttachmentTooLarge
from botkit.plugins.chat import ChatPlugin
from botkit.testing import BotTester, ScriptedModel

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class Mirror(Plugin):
    """Sends every image it receives straight back, or says why it could not."""

    @on_message(r"", priority=10)
    async def mirror(self, ctx: Context) -> None:
        message = ctx.message
        assert message is not None
        images = [a for a in message.attachments if a.kind == "image"]
        if not images:
            await ctx.reply("no image")
            return
        try:
            data = await ctx.download(images[0])
        except AttachmentTooLarge as exc:
            await ctx.reply(f"too large: {exc}")
            return
        await ctx.reply(
            "here it is", files=[Attachment("image", name="back.png", mime_type="image/png", data=data)]
        )


async def test_an_image_comes_back_byte_for_byte() -> None:
    async with BotTester(Bot([Mirror()])) as bot:
        await bot.send(
            "look", attachments=[Attachment("image", name="in.png", mime_type="image/png", data=PNG)]
        )
        bot.assert_reply("here it is")
        (sent,) = bot.adapter.sent
        (file,) = sent.reply.files  # type: ignore[union-attr]
        assert (file.name, file.mime_type, file.data) == ("back.png", "image/png", PNG)


async def test_the_configured_limit_refuses_a_larger_file_before_fetching_it() -> None:
    fetched: list[int] = []

    async def fetch(max_bytes: int) -> bytes:
        fetched.append(max_bytes)
        return PNG

    settings = Settings(limits={"max_attachment_bytes": 100})  # type: ignore[arg-type]
    big = Attachment("image", name="big.png", size=len(PNG), fetch=fetch)
    async with BotTester(Bot([Mirror()], settings=settings)) as bot:
        await bot.send("look", attachments=[big])
        bot.assert_reply(f"too large: big.png is {len(PNG):,} bytes; the limit is 100")
    assert fetched == []  # the declared size was enough to refuse it


async def test_a_fetch_gets_the_limit_so_an_undeclared_size_stops_at_it() -> None:
    async def fetch(max_bytes: int) -> bytes:
        # What an adapter's download does: read at most max_bytes, refuse past it.
        if len(PNG) > max_bytes:
            raise AttachmentTooLarge("undeclared.png", max_bytes + 1, max_bytes)
        return PNG

    settings = Settings(limits={"max_attachment_bytes": 512})  # type: ignore[arg-type]
    async with BotTester(Bot([Mirror()], settings=settings)) as bot:
        await bot.send("look", attachments=[Attachment("image", name="undeclared.png", fetch=fetch)])
        bot.assert_reply("too large: undeclared.png is 513 bytes; the limit is 512")


async def test_the_chat_plugin_politely_refuses_an_image_alone() -> None:
    model = ScriptedModel(["should not be asked"])
    async with BotTester(Bot([ChatPlugin()], model=model)) as bot:
        await bot.send("", attachments=[Attachment("image", name="cat.png", data=PNG)])
    assert model.calls == []
    (sent,) = bot.adapter.sent
    assert "I can only read text" in sent.text


def test_from_path_reads_a_file_and_names_its_kind(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("hello")
    image = Attachment.from_path(tmp_path / "a.png")
    text = Attachment.from_path(tmp_path / "notes.txt")
    assert (image.kind, image.mime_type, image.size, image.data) == ("image", "image/png", len(PNG), PNG)
    assert (text.kind, text.mime_type, text.name) == ("file", "text/plain", "notes.txt")


async def test_an_attachment_with_nothing_to_read_says_so() -> None:
    with pytest.raises(LookupError, match="cannot be downloaded"):
        await Attachment("image", name="gone.png").read(100)
