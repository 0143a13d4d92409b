"""What the Telegram adapter tests share: the fake Bot API, a probe plugin, and a running adapter (the rig).

The fixtures are declared under their pytest names (``tg``, ``rig``); a test module imports
``tg_fixture`` and ``rig_fixture`` to make them available.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from pydantic import SecretStr

from botkit.adapters.telegram import TelegramAdapter
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.app import Bot
from botkit.config import TelegramSettings
from botkit.context import Context
from botkit.message import Button, Event, Message
from botkit.plugin import Plugin, on_command, on_event, on_message
from botkit.plugins.chat import ChatPlugin
from botkit.testing import ScriptedModel
from botkit.types import SamplingParams

TOKEN = "987654321:AAF-very-secret-token-0123456789abcdef"
MARKUP = "Try *bold* _it_ ~s~ `x` ```py\nprint(1)\n``` [a](b) #+-=|{}.! <tag> & &amp; > quote \\ done"
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def long_text() -> str:
    """About 10,000 characters: paragraphs, long lines, a code block crossing the 4096 limit."""
    words = " ".join(WORDS[i % len(WORDS)] + str(i) for i in range(400))
    code = "```python\n" + "\n".join(f"print({i})  # line {i}" for i in range(150)) + "\n```"
    text = f"{words}\n\n{code}\n\n{words}"
    assert 10_000 <= len(text) <= 12_000
    return text


class Probe(Plugin):
    """Records what reached it; chats through the model with a streamed reply."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Message | Event]] = []

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]

    @on_command("start")
    async def start(self, ctx: Context) -> None:
        """Say hello."""
        self.seen.append(("start", ctx.incoming))
        await ctx.reply(
            "Welcome!", buttons=[[Button("Yes", data="answer:yes"), Button("Docs", url="https://x.y")]]
        )

    @on_command("report")
    async def report(self, ctx: Context, *words: str) -> None:
        """Report a message to the admins."""
        self.seen.append(("report", ctx.incoming))
        await ctx.reply("Reported.")

    @on_command("long")
    async def long(self, ctx: Context) -> None:
        """A long, whole reply."""
        self.seen.append(("long", ctx.incoming))
        await ctx.reply(long_text(), buttons=[[Button("x" * 80, data="d" * 100)]])

    @on_command("slow")
    async def slow(self, ctx: Context) -> None:
        """Think for a while, then answer in one piece."""
        await asyncio.sleep(0.8)
        await ctx.reply("Done thinking.")

    @on_command("markup")
    async def markup(self, ctx: Context) -> None:
        """Markup characters in a whole reply."""
        await ctx.reply(MARKUP)

    @on_event("button")
    async def button(self, ctx: Context) -> None:
        self.seen.append(("button", ctx.incoming))
        assert ctx.event is not None
        if ctx.event.data != "*":  # "*" is a keyboard's header button: nothing to do
            await ctx.reply(f"You chose {ctx.event.data}")

    @on_event("join")
    async def join(self, ctx: Context) -> None:
        self.seen.append(("join", ctx.incoming))

    @on_event("leave")
    async def leave(self, ctx: Context) -> None:
        self.seen.append(("leave", ctx.incoming))

    @on_message(pattern=r"\S")  # text only: an attachment alone goes on to the chat plugin's refusal
    async def chat(self, ctx: Context) -> None:
        self.seen.append(("chat", ctx.incoming))
        await ctx.stream(ctx.model.stream([{"role": "user", "content": ctx.text}], SamplingParams()))


@dataclass
class Rig:
    tg: FakeTelegramServer
    adapter: TelegramAdapter
    probe: Probe
    model: ScriptedModel

    def message(self, index: int = 0) -> Message:
        got = self.probe.seen[index][1]
        assert isinstance(got, Message)
        return got

    def event(self, index: int = 0) -> Event:
        got = self.probe.seen[index][1]
        assert isinstance(got, Event)
        return got

    async def roundtrip(self, update: dict[str, Any]) -> None:
        """Queue ``update``, wait until the adapter fetched it and finished handling it."""
        self.tg.push_update(update)
        await self.tg.wait_confirmed(update["update_id"])
        await self.adapter.drain(5)


def settings(tg: FakeTelegramServer, **extra: Any) -> TelegramSettings:
    values: dict[str, Any] = {"token": SecretStr(tg.token), "base_url": tg.base_url, "poll_timeout_s": 5}
    values["stream_edit_interval_s"] = 0.1
    return TelegramSettings(**{**values, **extra})


@pytest_asyncio.fixture(name="tg")
async def tg_fixture() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(TOKEN, bot_id=555000111, bot_username="BotkitTestBot") as server:
        yield server


async def start_rig(tg: FakeTelegramServer, model: ScriptedModel, **extra: Any) -> tuple[Rig, Bot]:
    probe = Probe()
    bot = Bot([probe, ChatPlugin()], model=model)
    adapter = TelegramAdapter(settings(tg, **extra))
    await adapter.start(bot)
    return Rig(tg, adapter, probe, model), bot


@pytest_asyncio.fixture(name="rig")
async def rig_fixture(tg: FakeTelegramServer) -> AsyncIterator[Rig]:
    made, _ = await start_rig(tg, ScriptedModel(delay=0.03))
    try:
        yield made
    finally:
        await made.adapter.stop()
