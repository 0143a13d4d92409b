"""The Discord adapter end to end: real discord.py against the fake Discord server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from nacl.signing import SigningKey

from botkit.adapters.discord import DiscordAdapter
from botkit.adapters.discord.fake_server import FakeDiscordServer
from botkit.adapters.discord.format import MESSAGE_LIMIT
from botkit.app import Bot
from botkit.config import DiscordSettings
from botkit.context import Context
from botkit.message import Button, Event, Message
from botkit.plugin import Plugin, on_command, on_event, on_message
from botkit.testing import ScriptedModel
from botkit.types import SamplingParams

LONG_WORDS = " ".join(f"word{i % 97}" for i in range(1600))  # ~10,000 characters
MARKUP = "*_[]()~>#+-=|{}.!<>& `code` ``` @everyone @here <@123456789012345678> **bold** __u__ ||spoiler||"


class Recorder(Plugin):
    """Records what reaches the handlers and answers in a recognisable way."""

    def __init__(self) -> None:
        self.seen: list[Message] = []
        self.events: list[Event] = []
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    @on_message(addressed_only=False, priority=0, block=False)
    async def spy(self, ctx: Context) -> None:
        assert ctx.message is not None
        self.seen.append(ctx.message)

    @on_command("ask")
    async def ask(self, ctx: Context, *words: str) -> None:
        """Ask the model something."""
        self.calls.append(("ask", words))
        await ctx.stream(ctx.model.stream([{"role": "user", "content": " ".join(words)}], SamplingParams()))

    @on_command("who", aliases=("whois",))
    async def who(self, ctx: Context) -> None:
        """Say who the bot is."""
        self.calls.append(("who", ()))
        await ctx.reply("I am botkit")

    @on_command("payload")
    async def payload(self, ctx: Context, *args: str) -> None:
        """Echo the arguments."""
        self.calls.append(("payload", args))
        await ctx.reply("payload: " + " ".join(args))

    @on_command("cardsearch")
    async def cardsearch(self, ctx: Context, cardname: str) -> None:
        """Look a card up."""
        self.calls.append(("cardsearch", (cardname,)))
        await ctx.reply(f"found {cardname}")

    @on_command("menu")
    async def menu(self, ctx: Context) -> None:
        """Show buttons."""
        self.calls.append(("menu", ()))
        await ctx.reply("Pick one", buttons=[[Button("Yes", "pick:yes"), Button("No", "pick:no")]])

    @on_command("long")
    async def long(self, ctx: Context) -> None:
        """Answer at length."""
        await ctx.reply(LONG_WORDS)

    @on_command("markup")
    async def markup(self, ctx: Context) -> None:
        """Answer with markup characters."""
        await ctx.reply(MARKUP)

    @on_event("button")
    async def pressed(self, ctx: Context) -> None:
        assert ctx.event is not None
        self.events.append(ctx.event)
        await ctx.reply(f"pressed {ctx.event.data}")

    @on_event("modal")
    async def modal(self, ctx: Context) -> None:
        assert ctx.event is not None
        self.events.append(ctx.event)

    @on_event("context_menu")
    async def context_menu(self, ctx: Context) -> None:
        assert ctx.event is not None
        self.events.append(ctx.event)

    @on_message()
    async def chat(self, ctx: Context) -> None:
        await ctx.stream(ctx.model.stream([{"role": "user", "content": ctx.text}], SamplingParams()))


@asynccontextmanager
async def running(
    fake: FakeDiscordServer | None = None, *, word_delay: float = 0.01, **settings: Any
) -> AsyncIterator[tuple[FakeDiscordServer, DiscordAdapter, Recorder]]:
    """A fake Discord, a started adapter on it and the recording plugin; all stopped afterwards."""
    fake = fake or FakeDiscordServer()
    await fake.start()
    options: dict[str, Any] = {
        "stream_edit_interval_s": 0.02,
        "guild_ready_timeout_s": 0.05,
        "ready_timeout_s": 10,
    }
    options.update(settings)
    adapter = DiscordAdapter(DiscordSettings(token=fake.token, api_base=fake.api_base, **options))
    recorder = Recorder()
    bot = Bot([recorder], model=ScriptedModel(delay=word_delay))
    try:
        await adapter.start(bot)
        yield fake, adapter, recorder
    finally:
        await adapter.stop()
        await bot.stop()
        await fake.stop()


# -- messages and streaming -----------------------------------------------------------------------


async def test_dm_reply_streams_as_edits() -> None:
    async with running() as (fake, _adapter, _rec):
        await fake.send_message("tell me about the weather today", dm=True)
        final = "echo: tell me about the weather today"
        await fake.wait_for(lambda: [m for m in fake.messages_in(fake.dm_channel_id) if m.content == final])
        (sent,) = fake.messages_in(fake.dm_channel_id)
        assert len(sent.history) >= 3, sent.history  # created, edited at least once, final
        assert sent.history[0] != final
        assert final.startswith(sent.history[1])
        assert sent.history[-1] == final
        edits = [c for c in fake.calls if c.method == "PATCH" and c.path.startswith("/channels/")]
        assert edits
        assert all(c.status == 200 for c in edits)
        assert any(c.path == f"/channels/{fake.dm_channel_id}/typing" for c in fake.calls)


async def test_guild_message_needs_mention_and_mention_is_stripped() -> None:
    async with running() as (fake, _adapter, rec):
        await fake.send_message("just chatting")
        await fake.send_message("hello bot", mention=True)
        await fake.wait_for(
            lambda: any(m.content == "echo: hello bot" for m in fake.messages_in(fake.channel_id))
        )
        assert [m.content for m in fake.messages_in(fake.channel_id)] == ["echo: hello bot"]
        assert [(m.text, m.addressed, m.conversation.kind) for m in rec.seen] == [
            ("just chatting", False, "group"),
            ("hello bot", True, "group"),
        ]


async def test_reply_in_a_thread_stays_in_the_thread() -> None:
    async with running() as (fake, _adapter, rec):
        await fake.send_message("in a thread", mention=True, channel_id=fake.thread_id)
        await fake.wait_for(
            lambda: any(m.content == "echo: in a thread" for m in fake.messages_in(fake.thread_id))
        )
        assert fake.messages_in(fake.channel_id) == []
        assert rec.seen[0].thread_id == fake.thread_id


async def test_stop_finishes_a_reply_in_progress_and_leaves_no_tasks() -> None:
    async with running() as (fake, adapter, rec):
        await fake.send_message("a b c d e f g h", dm=True)
        await fake.wait_for(lambda: rec.seen)
        await adapter.stop()
        assert [m.content for m in fake.messages_in(fake.dm_channel_id)] == ["echo: a b c d e f g h"]
        assert adapter.client is not None
        assert adapter.client.is_closed()
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_one_conversation_is_answered_in_order() -> None:
    # A slow stream (about 1.2 s), so "the other channel did not wait" holds on a loaded machine too.
    async with running(word_delay=0.1) as (fake, adapter, _rec):
        await fake.send_message("!ask one two three four five six seven eight nine ten", dm=True)
        await fake.send_message("!who", dm=True)
        await fake.send_message("!who")  # another conversation is not held up
        await fake.wait_for(lambda: len(fake.messages_in(fake.dm_channel_id)) == 2, within=20)
        await fake.wait_for(lambda: len(fake.messages_in(fake.channel_id)) == 1, within=20)
        streamed, answered = fake.messages_in(fake.dm_channel_id)
        assert streamed.content == "echo: one two three four five six seven eight nine ten"
        assert answered.content == "I am botkit"
        last_edit = max(i for i, c in enumerate(fake.calls) if c.path.endswith(f"/messages/{streamed.id}"))
        second_post = [
            i
            for i, c in enumerate(fake.calls)
            if isinstance(c.body, dict) and c.body.get("content") == "I am botkit"
        ]
        assert second_post[0] < last_edit  # the other channel's answer did not wait
        assert second_post[1] > last_edit  # the same DM's second answer came after the first was complete
        await fake.wait_for(lambda: adapter._intake._lanes._locks == {}, within=5)  # nothing left behind


async def test_group_mode_all_answers_everything() -> None:
    async with running(group_mode="all") as (fake, _adapter, _rec):
        await fake.send_message("anyone here")
        await fake.wait_for(
            lambda: any(m.content == "echo: anyone here" for m in fake.messages_in(fake.channel_id))
        )


# -- commands, slash commands and buttons ----------------------------------------------------------


async def test_prefix_command_reaches_its_handler() -> None:
    async with running() as (fake, _adapter, rec):
        await fake.send_message("!!! wow")  # not a command, not addressed
        await fake.send_message("!ask what is up")
        await fake.wait_for(
            lambda: any(m.content == "echo: what is up" for m in fake.messages_in(fake.channel_id))
        )
        assert rec.calls == [("ask", ("what", "is", "up"))]
        assert [(m.text, m.addressed) for m in rec.seen] == [("!!! wow", False), ("/ask what is up", True)]


async def test_slash_commands_are_registered_from_plugins() -> None:
    async with running() as (fake, _adapter, _rec):
        by_name = {c["name"]: c for c in fake.commands}
        assert {"ask", "who", "payload", "cardsearch", "menu", "long", "markup"} <= set(by_name)
        assert "whois" not in by_name  # aliases are not registered twice
        assert by_name["ask"]["description"] == "Ask the model something."
        assert by_name["ask"]["options"][0]["name"] == "args"
        assert by_name["cardsearch"]["options"][0]["required"] is True
        assert "options" not in by_name["who"]
        put = [c for c in fake.calls if c.method == "PUT"]
        assert len(put) == 1
        assert put[0].status == 200


async def test_slash_command_is_acknowledged_then_answered() -> None:
    async with running() as (fake, _adapter, rec):
        options = [{"type": 3, "name": "args", "value": 'what "is up"'}]
        interaction = fake.make_interaction(2, {"id": "1", "name": "ask", "type": 1, "options": options})
        started = time.monotonic()
        await fake.dispatch("INTERACTION_CREATE", interaction)
        final = "echo: what is up"
        await fake.wait_for(lambda: any(m.content == final for m in fake.messages_in(fake.channel_id)))
        callback = fake.callbacks[interaction["id"]]
        assert callback["type"] == 5
        assert callback["at"] - started < 3.0
        (answer,) = fake.messages_in(fake.channel_id)
        assert answer.interaction == interaction["token"]  # the "thinking..." response was edited
        assert rec.calls == [("ask", ("what", "is up"))]


async def test_button_press_reaches_the_button_handler() -> None:
    async with running() as (fake, _adapter, rec):
        await fake.send_message("!menu")
        await fake.wait_for(lambda: fake.messages_in(fake.channel_id))
        (menu,) = fake.messages_in(fake.channel_id)
        buttons = menu.components[0]["components"]
        assert [(b["label"], b["custom_id"]) for b in buttons] == [("Yes", "pick:yes"), ("No", "pick:no")]
        press = fake.make_interaction(
            3,
            {"custom_id": "pick:no", "component_type": 2},
            message={"id": menu.id, "channel_id": fake.channel_id},
        )
        await fake.dispatch("INTERACTION_CREATE", press)
        await fake.wait_for(
            lambda: any(m.content == "pressed pick:no" for m in fake.messages_in(fake.channel_id))
        )
        assert fake.callbacks[press["id"]]["type"] == 6
        assert [(e.kind, e.data, e.message_id) for e in rec.events] == [("button", "pick:no", menu.id)]


# -- rate limits, duplicates, bad input ------------------------------------------------------------


async def test_429_is_waited_out_and_the_reply_still_arrives() -> None:
    async with running() as (fake, _adapter, _rec):
        fake.fail_next(2, method="POST", path=rf"/channels/{fake.dm_channel_id}/messages", retry_after=0.25)
        started = time.monotonic()
        await fake.send_message("!who", dm=True)
        await fake.wait_for(lambda: fake.messages_in(fake.dm_channel_id))
        assert time.monotonic() - started >= 0.5
        posts = [c.status for c in fake.calls if c.method == "POST" and c.path.endswith("/messages")]
        assert posts == [429, 429, 200]
        assert [m.content for m in fake.messages_in(fake.dm_channel_id)] == ["I am botkit"]


async def test_429_on_streaming_edits_keeps_the_final_text() -> None:
    async with running() as (fake, _adapter, _rec):
        fake.fail_next(1, method="PATCH", path=r"/channels/\d+/messages/\d+", retry_after=0.2)
        await fake.send_message("one two three four five", dm=True)
        final = "echo: one two three four five"
        await fake.wait_for(lambda: any(m.content == final for m in fake.messages_in(fake.dm_channel_id)))
        assert next(c.status for c in fake.calls if c.method == "PATCH") == 429


async def test_redelivered_message_gets_one_reply() -> None:
    async with running() as (fake, adapter, _rec):
        message = fake.make_message("!who", dm=True)
        await fake.dispatch("MESSAGE_CREATE", message)
        await fake.dispatch("MESSAGE_CREATE", message)
        # A later message in the same DM: its lane answers in arrival order, so once its reply is there a
        # redelivery that got through would have been answered before it; drain() bounds the rest.
        await fake.send_message("!ask later", dm=True)
        await fake.wait_for(
            lambda: "echo: later" in [m.content for m in fake.messages_in(fake.dm_channel_id)]
        )
        await adapter.drain()
        assert [m.content for m in fake.messages_in(fake.dm_channel_id)] == ["I am botkit", "echo: later"]


async def test_redelivered_interaction_is_acknowledged_once() -> None:
    async with running() as (fake, adapter, rec):
        press = fake.make_interaction(3, {"custom_id": "again", "component_type": 2})
        later = fake.make_interaction(3, {"custom_id": "later", "component_type": 2})
        await fake.dispatch("INTERACTION_CREATE", press)
        await fake.dispatch("INTERACTION_CREATE", press)
        await fake.dispatch("INTERACTION_CREATE", later)  # read after the redelivery on the same socket
        await fake.wait_for(lambda: [e.data for e in rec.events if e.data == "later"])
        await adapter.drain()  # whatever the redelivery started has finished now
        callbacks = [c for c in fake.calls if c.path.endswith("/callback")]
        assert [c.status for c in callbacks] == [204, 204]  # the press and the later one, not the copy
        assert sorted(e.data for e in rec.events) == ["again", "later"]


async def test_malformed_and_unknown_events_are_survived() -> None:
    async with running() as (fake, _adapter, _rec):
        await fake.dispatch("MESSAGE_CREATE", {"id": "1", "channel_id": "2"})  # no author, no content
        await fake.dispatch("MESSAGE_CREATE", {"garbage": True})
        await fake.dispatch("SOMETHING_NEW", {"x": 1})
        await fake.dispatch("INTERACTION_CREATE", {"type": 99, "id": "3", "token": "t"})
        await fake.send_message("!who", dm=True)
        await fake.wait_for(lambda: fake.messages_in(fake.dm_channel_id))
        assert len(fake.identifies) == 1  # still the same gateway session


async def test_attachment_only_message_reaches_the_plugins() -> None:
    async with running() as (fake, _adapter, rec):
        file = {
            "id": "5",
            "filename": "notes.pdf",
            "size": 10,
            "url": "https://cdn.example/notes.pdf",
            "content_type": "application/pdf",
        }
        await fake.send_message("", dm=True, attachments=[file])
        await fake.wait_for(lambda: rec.seen)
        (seen,) = rec.seen  # plugins may read it now; the chat plugin refuses what the model cannot
        assert [(a.kind, a.name) for a in seen.attachments] == [("file", "notes.pdf")]


# -- long and hostile text -------------------------------------------------------------------------


async def test_long_reply_is_split_at_word_boundaries() -> None:
    async with running() as (fake, _adapter, _rec):
        await fake.send_message("!long", dm=True)
        words = len(LONG_WORDS.split())
        await fake.wait_for(
            lambda: sum(len(m.content.split()) for m in fake.messages_in(fake.dm_channel_id)) >= words
        )
        assert len(LONG_WORDS) >= 10_000
        parts = [m.content for m in fake.messages_in(fake.dm_channel_id)]
        assert len(parts) >= 5
        assert all(0 < len(p) <= MESSAGE_LIMIT for p in parts)
        assert " ".join(parts).split() == LONG_WORDS.split()  # equal modulo whitespace at the cuts
        assert all(p == p.strip() and p.split()[0] in LONG_WORDS.split() for p in parts)  # no broken words


async def test_markup_and_mentions_in_model_output_are_sent_safely() -> None:
    async with running() as (fake, _adapter, _rec):
        await fake.send_message("!markup", dm=True)
        await fake.wait_for(lambda: fake.messages_in(fake.dm_channel_id))
        (sent,) = fake.messages_in(fake.dm_channel_id)
        assert [c.status for c in fake.calls if c.path.endswith("/messages")] == [200]
        assert not sent.pings_everyone
        assert sent.allowed_mentions == {"parse": []}
        assert "@\u200beveryone" in sent.content  # defused even if a client ignored allowed_mentions
        assert "\\*\\*bold\\*\\*" in sent.content
        assert "\\`code\\`" in sent.content
        assert sent.content.replace("\\", "").replace("\u200b", "") == MARKUP.replace("\\", "")


# -- gateway session -------------------------------------------------------------------------------


async def test_gateway_frames_are_zlib_stream_compressed_and_heartbeats_acked() -> None:
    async with running() as (fake, adapter, _rec):
        assert adapter.client is not None
        assert adapter.client.ws is not None
        assert fake.connections == [{"v": "10", "encoding": "json", "compress": "zlib-stream"}]
        assert fake.identifies[0]["intents"] & (1 << 15)  # MESSAGE_CONTENT
        assert [p["op"] for p in fake.received][:2] == [1, 2]  # heartbeat at once, then IDENTIFY
        assert adapter.bot_user_id == fake.bot_user["id"]


async def test_reconnect_resumes_and_an_event_sent_meanwhile_is_answered_once() -> None:
    async with running() as (fake, adapter, _rec):
        await fake.send_frame({"op": 7, "d": None})
        await fake.send_message("!who", dm=True)  # lands on the closing socket, or is replayed on RESUME
        await fake.wait_for(lambda: fake.resumes)
        await fake.wait_for(lambda: fake.messages_in(fake.dm_channel_id))
        await fake.send_message("!who", dm=True)
        await fake.send_message("!ask after", dm=True)  # its reply comes after any copy's (one DM lane)
        await fake.wait_for(
            lambda: "echo: after" in [m.content for m in fake.messages_in(fake.dm_channel_id)]
        )
        await adapter.drain()
        contents = [m.content for m in fake.messages_in(fake.dm_channel_id)]
        assert contents == ["I am botkit", "I am botkit", "echo: after"]
        assert len(fake.identifies) == 1


async def test_wrong_token_fails_start_cleanly() -> None:
    async with FakeDiscordServer() as fake:
        adapter = DiscordAdapter(DiscordSettings(token="not-the-token", api_base=fake.api_base))
        with pytest.raises(Exception, match="Improper token has been passed"):  # discord.LoginFailure
            await adapter.start(Bot([Recorder()]))
        assert fake.identifies == []
        assert [c.status for c in fake.calls] == [401]


# -- secrets ---------------------------------------------------------------------------------------


async def test_token_never_appears_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("discord", "discord.http", "discord.gateway", "discord.client", "aiohttp", "botkit"):
        caplog.set_level(logging.DEBUG, logger=name)
    async with running() as (fake, _adapter, _rec):
        fake.fail_next(1, method="POST", path=r"/channels/\d+/messages", retry_after=0.05)
        await fake.send_message("!ask hi there", dm=True)
        await fake.wait_for(
            lambda: any(m.content == "echo: hi there" for m in fake.messages_in(fake.dm_channel_id))
        )
        slash = fake.make_interaction(2, {"id": "1", "name": "who", "type": 1})
        await fake.dispatch("INTERACTION_CREATE", slash)
        await fake.wait_for(
            lambda: any(m.content == "I am botkit" for m in fake.messages_in(fake.channel_id))
        )
        logging.getLogger("discord.http").debug("a library line that mentions %s", fake.token)
        token = fake.token
    assert (
        "We are being rate limited" in caplog.text
    )  # the client library's DEBUG/WARNING lines were captured
    assert "INTERACTION_CREATE" in caplog.text  # discord.py logged the gateway payload...
    assert "/webhooks/" in caplog.text  # ...and the webhook URLs, but without the secrets:
    assert "a library line that mentions [redacted]" in caplog.text
    for secret in (token, slash["token"]):
        assert secret not in caplog.text
        assert all(secret not in str(r.args) for r in caplog.records)


# -- HTTP interactions endpoint --------------------------------------------------------------------


def signed(key: SigningKey, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = key.sign(stamp.encode() + body).signature.hex()
    return {
        "X-Signature-Ed25519": signature,
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }


async def test_http_interactions_verify_signatures() -> None:
    key, forger = SigningKey.generate(), SigningKey.generate()
    public_key = key.verify_key.encode().hex()
    async with running(public_key=public_key, interactions_port=0) as (fake, adapter, rec):
        assert adapter.endpoint is not None  # started from the settings
        url = adapter.endpoint.url
        ping = json.dumps({"id": "1", "token": "t", "type": 1, "version": 1}).encode()
        press = fake.make_interaction(3, {"custom_id": "http-press", "component_type": 2})
        fake.register_interaction(press, acked_over_http=6)
        body = json.dumps(press).encode()
        async with aiohttp.ClientSession() as http:

            async def post(data: bytes, headers: dict[str, str]) -> tuple[int, Any]:
                async with http.post(url, data=data, headers=headers) as response:
                    return response.status, await response.json()

            assert await post(ping, signed(key, ping)) == (200, {"type": 1})
            assert (await post(ping, {}))[0] == 401
            assert (await post(ping, signed(forger, ping)))[0] == 401
            assert (await post(body, signed(key, body, int(time.time()) - 3600)))[0] == 401  # stale
            tampered = body.replace(b"http-press", b"evil-press")
            assert (await post(tampered, signed(key, body)))[0] == 401
            await adapter.drain()
            assert rec.events == []  # a refused request is answered before anything is handed on
            assert await post(body, signed(key, body)) == (200, {"type": 6})
            assert await post(body, signed(key, body)) == (
                400,
                {"message": "unsupported interaction"},
            )  # replay
        await fake.wait_for(lambda: fake.messages_in(fake.channel_id))
        await adapter.drain()  # the press, and anything a refused or replayed request might have started
        assert [e.data for e in rec.events] == ["http-press"]
        assert [m.content for m in fake.messages_in(fake.channel_id)] == ["pressed http-press"]
