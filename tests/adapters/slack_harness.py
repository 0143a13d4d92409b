"""What the Slack adapter tests share: the base of their probe plugins; a running bot that echoes files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from botkit.adapters.slack import SlackAdapter
from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.app import Bot
from botkit.config import LimitSettings, Settings, SlackSettings
from botkit.context import Context
from botkit.errors import AttachmentTooLarge
from botkit.message import Attachment, Button, Event, Message
from botkit.plugin import Plugin, on_command, on_event, on_message
from botkit.plugins.help import HelpPlugin
from botkit.types import SamplingParams


class SlackProbe(Plugin):
    """Records every message and button press; chats through the model with a streamed reply.

    Subclasses add the commands their tests need, recording each call in ``commands``.
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.events: list[Event] = []
        self.commands: list[tuple[str, tuple[str, ...]]] = []

    @on_event("button")
    async def button(self, ctx: Context) -> None:
        """A button press."""
        assert ctx.event is not None
        self.events.append(ctx.event)
        await ctx.reply(f"pressed {ctx.event.data}")

    @on_message()
    async def chat(self, ctx: Context) -> None:
        """Everything else goes to the model, streamed."""
        assert ctx.message is not None
        self.messages.append(ctx.message)
        await ctx.stream(ctx.model.stream([{"role": "user", "content": ctx.text}], SamplingParams()))


# A real 1x1 PNG, so the round trip carries an image's bytes, not text.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e5270ede0000000049454e44ae426082"
)
LIMIT = 1000  # limits.max_attachment_bytes in these tests


class Echo(Plugin):
    """Sends every attachment back as a file (``ctx.download``); says so when one is too large to read."""

    def __init__(self) -> None:
        self.seen: list[Message] = []

    @on_command("report")
    async def report(self, ctx: Context, mode: str = "") -> None:
        """A file with long text, or with buttons: the text goes in its own messages first."""
        text = ("word " * 1200).strip() if mode == "long" else "your report & summary"
        buttons = [[Button("Again", data="again")]] if mode == "buttons" else []
        file = Attachment(kind="file", name="report.csv", mime_type="text/csv", data=b"a,b\n1,2\n")
        await ctx.reply(text, buttons=buttons, files=[file])

    @on_command("slowfile")
    async def slowfile(self, ctx: Context) -> None:
        """Answers with a file after a while: the "…" placeholder shows meanwhile."""
        await asyncio.sleep(0.3)
        await ctx.reply("done", files=[Attachment(kind="file", name="slow.txt", data=b"slow")])

    @on_command("broken")
    async def broken(self, ctx: Context) -> None:
        """A file without bytes: the reply is refused before anything is posted."""
        await ctx.reply("here it is", files=[Attachment(kind="file", name="ghost.txt")])

    @on_message()
    async def echo(self, ctx: Context) -> None:
        """Download each attachment and send it back."""
        assert ctx.message is not None
        self.seen.append(ctx.message)
        for attachment in ctx.message.attachments:
            try:
                data = await ctx.download(attachment)
            except AttachmentTooLarge as exc:
                await ctx.reply(f"too large: {exc}")
                continue
            kind, name, mime = attachment.kind, attachment.name, attachment.mime_type
            await ctx.reply("same picture", files=[Attachment(kind, name=name, mime_type=mime, data=data)])


async def _start(fake: FakeSlackServer, **settings: Any) -> tuple[SlackAdapter, Bot, Echo]:
    config = SlackSettings.model_validate(
        {
            "bot_token": fake.bot_token,
            "signing_secret": fake.signing_secret,
            "api_base": fake.api_base,
            "port": 0,
            "typing_delay_s": 0,
            **settings,
        }
    )
    echo = Echo()
    bot = Bot([echo, HelpPlugin()], settings=Settings(limits=LimitSettings(max_attachment_bytes=LIMIT)))
    adapter = SlackAdapter(config)
    await adapter.start(bot)
    bot.attach(adapter)  # as `botkit run` does
    return adapter, bot, echo


class EchoSlack(NamedTuple):
    """A fake Slack and a started adapter whose bot (attached, as ``botkit run`` does) runs :class:`Echo`."""

    fake: FakeSlackServer
    adapter: SlackAdapter
    bot: Bot
    echo: Echo


@contextlib.asynccontextmanager
async def echo_slack(**settings: Any) -> AsyncIterator[EchoSlack]:
    """A running :class:`EchoSlack`; ``settings`` override the ``[slack]`` section."""
    async with FakeSlackServer() as fake:
        adapter, bot, echo = await _start(fake, **settings)
        try:
            yield EchoSlack(fake, adapter, bot, echo)
        finally:
            await adapter.stop()
