"""Every Discord payload in shared/platform-payloads/discord.json, replayed at the adapter where that corpus
is checked out (the repository's own fixtures are replayed in test_discord_fixtures.py).

Gateway frames go through the fake gateway; interaction objects as INTERACTION_CREATE dispatches, or signed
with an Ed25519 test key to the HTTP interactions endpoint. One test per entry, asserting its ``expect``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from nacl.signing import SigningKey

from botkit.adapters.discord import DiscordAdapter
from botkit.adapters.discord.fake_server import FakeDiscordServer
from botkit.adapters.discord.format import modal_values
from botkit.adapters.discord.interactions import DiscordInteractionsEndpoint
from tests.adapters import corpus
from tests.adapters.test_discord import running, signed

ENTRIES = corpus.shared("discord")
Check = Callable[[dict[str, Any]], Awaitable[None]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(func: Check) -> Check:
        CHECKS[name] = func
        return func

    return register


async def probe(fake: FakeDiscordServer, adapter: DiscordAdapter) -> None:
    """A DM after the replayed payload; its answer shows the adapter is alive and got past the payload.

    The probe is read after the payload on the same socket, so once it is answered the payload was taken
    in; ``drain()`` then waits for whatever the payload started, in whichever channel.
    """
    before = len(fake.messages_in(fake.dm_channel_id))
    await fake.send_message("!who", dm=True)
    await fake.wait_for(lambda: len(fake.messages_in(fake.dm_channel_id)) > before)
    await adapter.drain()


def replies(fake: FakeDiscordServer) -> list[str]:
    """Everything the bot said outside the probe's DM channel."""
    return [m.content for m in fake.messages.values() if m.channel_id != fake.dm_channel_id and not m.deleted]


@pytest.mark.parametrize("present", corpus.whole_params("discord"))
def test_every_entry_has_a_check(present: str | None) -> None:
    assert set(CHECKS) == set(corpus.require_all("discord", present))


@pytest.mark.parametrize("name", corpus.shared_params("discord"))
async def test_payload(name: str | None) -> None:
    entry = corpus.require("discord", name)
    await CHECKS[entry["name"]](entry["payload"])


# -- gateway session frames ------------------------------------------------------------------------


async def _hello(payload: dict[str, Any], interval_s: float) -> None:
    async with running(FakeDiscordServer(hello=payload)) as (fake, adapter, _rec):
        assert [p["op"] for p in fake.received][:2] == [1, 2]  # first heartbeat at once, then IDENTIFY
        assert adapter.client is not None
        assert adapter.client.ws is not None
        assert adapter.client.ws._keep_alive is not None  # discord.py's heartbeat task (no public accessor)
        assert adapter.client.ws._keep_alive.interval == interval_s
        await probe(fake, adapter)
        assert replies(fake) == []


@check("dc_gateway_hello_docs")
async def _(payload: dict[str, Any]) -> None:
    await _hello(payload, 45.0)


@check("dc_gateway_hello_real_with_trace")
async def _(payload: dict[str, Any]) -> None:
    await _hello(payload, 41.25)


@check("dc_gateway_ready_real")
async def _(payload: dict[str, Any]) -> None:
    async with running(FakeDiscordServer(ready=payload["d"])) as (fake, adapter, _rec):
        assert adapter.client is not None
        assert adapter.client.ws is not None
        assert adapter.bot_user_id == "344487830824943618"
        assert adapter.client.ws.session_id == "c5adc7ce7f411cde10440df5f888dc22"
        assert str(adapter.client.ws.gateway) == "wss://gateway.discord.gg/"
        assert adapter.client.ws.sequence == 1
        assert fake.messages == {}


@check("dc_gateway_guild_create_real")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, adapter, _rec):
        await fake.send_frame(payload)
        assert adapter.client is not None
        await fake.wait_for(
            lambda: adapter.client is not None and adapter.client.get_guild(135197118292819968)
        )
        guild = adapter.client.get_guild(135197118292819968)
        assert guild is not None
        assert guild.name == "Test guild"
        assert [c.name for c in guild.text_channels][:2] == ["test1", "test2"]
        await probe(fake, adapter)
        assert replies(fake) == []


@check("dc_gateway_guild_create_unavailable")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, adapter, _rec):
        await fake.send_frame(payload)
        await probe(fake, adapter)
        assert adapter.client is not None
        assert adapter.client.get_guild(772862920081801217) is None  # not cached as an available guild
        assert replies(fake) == []
        assert len(fake.identifies) == 1


@check("dc_gateway_reconnect_docs")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, adapter, _rec):
        await fake.send_frame(payload)
        await fake.send_message("!who", dm=True)  # buffered or delivered: answered exactly once
        await fake.wait_for(lambda: fake.resumes)
        assert fake.resumes[0]["session_id"] == "fake-session-1"
        await probe(fake, adapter)
        assert [m.content for m in fake.messages_in(fake.dm_channel_id)] == ["I am botkit", "I am botkit"]
        assert len(fake.identifies) == 1


@check("dc_gateway_invalid_session_docs")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, adapter, _rec):
        await fake.send_frame(payload)
        await fake.wait_for(lambda: len(fake.identifies) == 2)  # a fresh IDENTIFY, not a RESUME
        assert fake.resumes == []
        await probe(fake, adapter)


# -- messages ---------------------------------------------------------------------------------------


@check("dc_message_create_guild_mention")
async def _(payload: dict[str, Any]) -> None:
    async with running(FakeDiscordServer(bot_user_id="725161345627979808")) as (fake, _adapter, rec):
        await fake.send_frame(payload)
        await fake.wait_for(
            lambda: [m for m in fake.messages_in("725220905646555149") if m.content == "echo: e"]
        )
        assert [(m.text, m.addressed) for m in rec.seen] == [("e", True)]


@check("dc_message_create_guild_not_addressed")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, adapter, rec):
        await fake.send_frame(payload)
        await probe(fake, adapter)
        assert next((m.text, m.addressed) for m in rec.seen) == ("d", False)
        assert replies(fake) == []


@check("dc_message_create_guild_prefix_command")
async def _(payload: dict[str, Any]) -> None:
    async with running(command_prefix="cookout") as (fake, adapter, rec):
        await fake.send_frame(payload)
        await fake.wait_for(lambda: fake.messages_in("725220905646555149"))
        assert rec.calls == [("who", ())]
        assert [m.content for m in fake.messages_in("725220905646555149")] == ["I am botkit"]
    async with running(command_prefix="!") as (fake, adapter, rec):
        await fake.send_frame(payload)
        await probe(fake, adapter)
        assert rec.calls == [("who", ())]  # only the probe's !who
        assert replies(fake) == []


@check("dc_channel_create_dm")
async def _(payload: dict[str, Any]) -> None:
    dm = ENTRIES["dc_message_create_dm"]["payload"]
    async with running() as (fake, adapter, rec):
        await fake.send_frame(payload)
        await probe(fake, adapter)
        assert replies(fake) == []
        # botkit needs no channel cache: a message without guild_id in that channel is a DM.
        await fake.send_frame(dm)
        await fake.wait_for(lambda: fake.messages_in("725222856266481664"))
        assert rec.seen[-1].conversation.kind == "private"


@check("dc_message_create_dm")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, _adapter, rec):
        await fake.send_frame(payload)
        await fake.wait_for(
            lambda: [m for m in fake.messages_in("725222856266481664") if m.content == "echo: f"]
        )
        (seen,) = rec.seen
        assert (seen.conversation.kind, seen.addressed, seen.author.id) == (
            "private",
            True,
            "466443389873815553",
        )


async def _edit(payload: dict[str, Any], policy: str) -> None:
    original = ENTRIES["dc_message_create_guild_prefix_command"]["payload"]
    async with running(command_prefix="cookout", edited_messages=policy) as (fake, adapter, rec):
        await fake.send_frame(original)
        await fake.wait_for(lambda: fake.messages_in("725220905646555149"))
        await fake.send_frame(payload)
        await probe(fake, adapter)
        assert [m.content for m in fake.messages_in("725220905646555149")] == ["I am botkit"]  # one answer
        edits = [m for m in rec.seen if m.edited]
        if policy == "ignore":
            assert edits == []
        else:  # handled as an edit; '!cookout who' does not start with the prefix, so nobody answers
            assert [(m.id, m.text, m.addressed) for m in edits] == [
                ("726612233945350224", "!cookout who", False)
            ]


@check("dc_message_update_edit")
async def _(payload: dict[str, Any]) -> None:
    await _edit(payload, "ignore")
    await _edit(payload, "handle")


@check("dc_message_update_partial_embed_only")
async def _(payload: dict[str, Any]) -> None:
    async with running(edited_messages="handle") as (fake, adapter, rec):
        await fake.send_frame(payload)
        await probe(fake, adapter)
        assert [m for m in rec.seen if m.edited] == []
        assert replies(fake) == []
        assert len(fake.identifies) == 1


@check("dc_message_create_reply_to_bot")
async def _(payload: dict[str, Any]) -> None:
    async with running(FakeDiscordServer(bot_user_id="344487830824943618")) as (fake, _adapter, rec):
        await fake.send_frame(payload)
        await fake.wait_for(
            lambda: [m for m in fake.messages_in("563557393640849437") if m.content == "echo: cool."]
        )
        (seen,) = rec.seen
        assert (seen.text, seen.addressed, seen.reply_to) == ("cool.", True, "775214933398782002")
        assert seen.raw["referenced_message"]["author"]["id"] == "344487830824943618"


async def _ignored(payload: dict[str, Any]) -> None:
    async with running(group_mode="all") as (fake, adapter, rec):  # even when answering everything
        await fake.send_frame(payload)
        await probe(fake, adapter)
        assert [m.text for m in rec.seen] == ["/who"]  # only the probe reached the bot
        assert replies(fake) == []


@check("dc_message_create_system_pin")
async def _(payload: dict[str, Any]) -> None:
    await _ignored(payload)


@check("dc_message_create_webhook_bot")
async def _(payload: dict[str, Any]) -> None:
    await _ignored(payload)


@check("dc_message_create_spoiler_image_attachment")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, adapter, rec):
        await fake.send_frame(payload)
        await probe(fake, adapter)
        seen = rec.seen[0]
        assert (seen.text, seen.addressed) == ("", False)
        (attachment,) = seen.attachments
        assert attachment.kind == "image"
        assert attachment.name == "SPOILER_1122943867721875456.png"
        assert attachment.url is not None
        assert attachment.url.startswith("https://cdn.discordapp.com/attachments/")
        assert replies(fake) == []


# -- interactions -----------------------------------------------------------------------------------


async def _slash(payload: dict[str, Any], words: tuple[str, ...]) -> None:
    async with running() as (fake, _adapter, rec):
        started = time.monotonic()
        await fake.send_frame(payload)
        interaction = payload["d"]
        await fake.wait_for(lambda: any(m.content.startswith("payload:") for m in fake.messages.values()))
        callback = fake.callbacks[interaction["id"]]
        assert callback["type"] == 5
        assert callback["at"] - started < 3.0
        assert rec.calls == [("payload", words)]
        (answer,) = [m for m in fake.messages.values() if m.interaction == interaction["token"]]
        assert answer.content == "payload: " + " ".join(words)
        assert answer.channel_id == interaction["channel_id"]


@check("dc_interaction_create_slash_gateway_real")
async def _(payload: dict[str, Any]) -> None:
    words = ("hello", "52", "false", "609370233916096514", "339318275320184833", "352205866889641984")
    await _slash(payload, words)


@check("dc_interaction_create_subcommand_group_real")
async def _(payload: dict[str, Any]) -> None:
    await _slash(payload, ("group", "cmd", "hello"))


async def _over_http(payload: dict[str, Any], ack: int | None) -> tuple[int, Any]:
    key = SigningKey.generate()
    async with running() as (fake, adapter, rec):
        endpoint = DiscordInteractionsEndpoint(key.verify_key.encode().hex(), adapter)
        await endpoint.start()
        try:
            fake.register_interaction(payload, acked_over_http=ack)
            body = json.dumps(payload).encode()
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    endpoint.url, data=body, headers={"Content-Type": "application/json"}
                ) as resp:
                    assert resp.status == 401  # unsigned
                async with http.post(
                    endpoint.url, data=body, headers=signed(SigningKey.generate(), body)
                ) as resp:
                    assert resp.status == 401  # signed by someone else
                started = time.monotonic()
                async with http.post(endpoint.url, data=body, headers=signed(key, body)) as resp:
                    answer = resp.status, await resp.json()
                assert time.monotonic() - started < 3.0
            if ack is not None:
                await fake.wait_for(lambda: rec.calls)
                await fake.wait_for(
                    lambda: [m for m in fake.messages.values() if m.content.startswith("found")]
                )
                assert rec.calls == [("cardsearch", ("The Gitrog Monster",))]
                original = fake.messages[f"original:{payload['token']}"]
                assert original.content == "found The Gitrog Monster"
            return answer
        finally:
            await endpoint.stop()


@check("dc_interaction_slash_command_docs")
async def _(payload: dict[str, Any]) -> None:
    assert await _over_http(payload, 5) == (200, {"type": 5})


@check("dc_interaction_ping_http")
async def _(payload: dict[str, Any]) -> None:
    assert await _over_http(payload, None) == (200, {"type": 1})


@check("dc_interaction_message_command_docs")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, _adapter, rec):
        await fake.dispatch("INTERACTION_CREATE", payload)
        await fake.wait_for(lambda: rec.events)
        (event,) = rec.events
        assert (event.kind, event.data, event.message_id) == (
            "context_menu",
            "context-menu-message-2",
            "867793854505943041",
        )
        assert fake.callbacks[payload["id"]]["type"] == 5
        # nothing was said, so the "thinking..." response is removed rather than left spinning
        await fake.wait_for(lambda: fake.messages[f"original:{payload['token']}"].deleted)


@check("dc_interaction_button_docs")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, _adapter, rec):
        await fake.dispatch("INTERACTION_CREATE", payload)
        await fake.wait_for(lambda: fake.messages_in("345626669114982999"))
        assert fake.callbacks[payload["id"]]["type"] == 6
        assert [(e.kind, e.data, e.message_id) for e in rec.events] == [
            ("button", "click_one", "844397162624450620")
        ]
        assert fake.messages_in("345626669114982999")[0].content == "pressed click\\_one"


@check("dc_interaction_modal_submit_docs")
async def _(payload: dict[str, Any]) -> None:
    async with running() as (fake, _adapter, rec):
        await fake.dispatch("INTERACTION_CREATE", payload)
        await fake.wait_for(lambda: rec.events)
        (event,) = rec.events
        assert (event.kind, event.data) == ("modal", "cool_modal")
        assert modal_values(event.raw) == {"name": "John"}
        assert fake.callbacks[payload["id"]]["type"] == 6
