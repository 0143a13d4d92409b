"""The repository's own Discord payloads (``fixtures/discord.json``), replayed at the real adapter.

Gateway frames go through the fake gateway as dispatches; the PING goes signed to the HTTP interactions
endpoint. The fixtures use the fake server's default ids (bot ``...001``, guild ``...010``, channel
``...011``, DM channel ``...012``, thread ``...013``, user ``...020``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from nacl.signing import SigningKey

from botkit.adapters.discord import DiscordAdapter
from botkit.adapters.discord.fake_server import FakeDiscordServer
from tests.adapters import corpus
from tests.adapters.test_discord import Recorder, running, signed
from tests.adapters.test_discord_payloads import probe, replies

FIXTURES = corpus.fixtures("discord")
CHANNEL, DM, THREAD = "900000000000000011", "900000000000000012", "900000000000000013"
Check = Callable[[FakeDiscordServer, DiscordAdapter, Recorder], Awaitable[None]]


async def _deliver(fake: FakeDiscordServer, name: str) -> None:
    frame = FIXTURES[name]["payload"]
    await fake.dispatch(frame["t"], json.loads(json.dumps(frame["d"])))


def answered(name: str, channel: str, text: str) -> Check:
    async def check(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
        await _deliver(fake, name)
        await fake.wait_for(lambda: [m for m in fake.messages_in(channel) if m.content == text])
        await adapter.drain()
        assert [m.content for m in fake.messages_in(channel)] == [text]

    return check


def ignored(name: str, *, seen: str | None = None) -> Check:
    """Nothing is said; with ``seen`` the plugins still saw that text (as an unaddressed message)."""

    async def check(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
        await _deliver(fake, name)
        await probe(fake, adapter)
        assert replies(fake) == []
        besides_probe = [
            (m.text, m.addressed) for m in rec.seen if m.conversation.id != DM or m.text != "/who"
        ]
        assert besides_probe == ([(seen, False)] if seen is not None else [])
        assert rec.calls == [("who", ())]  # only the probe's command ran
        assert len(fake.identifies) == 1  # the connection stayed up

    return check


async def _dm_text(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
    await answered("dc_fx_dm_text", DM, "echo: hello there")(fake, adapter, rec)
    (seen,) = rec.seen
    assert (seen.conversation.kind, seen.addressed, seen.author.id) == ("private", True, "900000000000000020")


async def _prefix_command(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
    await answered("dc_fx_prefix_command", CHANNEL, "I am botkit")(fake, adapter, rec)
    assert rec.calls == [("who", ())]


async def _guild_mention(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
    await answered("dc_fx_guild_mention", CHANNEL, "echo: what is new?")(fake, adapter, rec)
    assert [(m.text, m.addressed) for m in rec.seen] == [("what is new?", True)]


async def _thread_mention(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
    await answered("dc_fx_thread_mention", THREAD, "echo: and in here?")(fake, adapter, rec)
    (seen,) = rec.seen
    assert (seen.thread_id, seen.conversation.kind) == (THREAD, "group")


async def _image_only(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
    await _deliver(fake, "dc_fx_image_only_dm")
    await fake.wait_for(lambda: rec.seen)
    await adapter.drain()
    (seen,) = rec.seen  # attachments reach the plugins (the chat plugin refuses what the model cannot read)
    assert [a.kind for a in seen.attachments] == ["image"]


async def _slash(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
    interaction = FIXTURES["dc_fx_slash_command"]["payload"]["d"]
    await _deliver(fake, "dc_fx_slash_command")
    await fake.wait_for(lambda: fake.messages.get(f"original:{interaction['token']}"))
    await fake.wait_for(lambda: fake.messages[f"original:{interaction['token']}"].content == "I am botkit")
    await adapter.drain()
    assert fake.callbacks[interaction["id"]]["type"] == 5
    assert rec.calls == [("who", ())]
    assert fake.messages_in(CHANNEL) == [fake.messages[f"original:{interaction['token']}"]]


async def _button(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
    interaction = FIXTURES["dc_fx_button"]["payload"]["d"]
    await _deliver(fake, "dc_fx_button")
    await fake.wait_for(lambda: fake.messages_in(CHANNEL))
    await adapter.drain()
    assert fake.callbacks[interaction["id"]]["type"] == 6
    assert [(e.kind, e.data, e.message_id) for e in rec.events] == [
        ("button", "plan:pro", "930000000000000013")
    ]
    assert [m.content for m in fake.messages_in(CHANNEL)] == ["pressed plan:pro"]


async def _ping(fake: FakeDiscordServer, adapter: DiscordAdapter, rec: Recorder) -> None:
    key = SigningKey.generate()
    body = json.dumps(FIXTURES["dc_fx_ping_http"]["payload"]).encode()
    async with running(public_key=key.verify_key.encode().hex(), interactions_port=0) as (_, served, _rec):
        assert served.endpoint is not None
        async with aiohttp.ClientSession() as http:
            async with http.post(served.endpoint.url, data=body, headers=signed(key, body)) as resp:
                assert (resp.status, await resp.json()) == (200, {"type": 1})
            unsigned = {"Content-Type": "application/json"}
            async with http.post(served.endpoint.url, data=body, headers=unsigned) as resp:
                assert resp.status == 401


CHECKS: dict[str, Check] = {
    "dc_fx_dm_text": _dm_text,
    "dc_fx_prefix_command": _prefix_command,
    "dc_fx_guild_mention": _guild_mention,
    "dc_fx_guild_chatter": ignored("dc_fx_guild_chatter", seen="anyone up for lunch?"),
    "dc_fx_thread_mention": _thread_mention,
    "dc_fx_message_edit": ignored("dc_fx_message_edit"),
    "dc_fx_own_message": ignored("dc_fx_own_message"),
    "dc_fx_other_bot": ignored("dc_fx_other_bot"),
    "dc_fx_image_only_dm": _image_only,
    "dc_fx_slash_command": _slash,
    "dc_fx_button": _button,
    "dc_fx_ping_http": _ping,
    "dc_fx_unknown_dispatch": ignored("dc_fx_unknown_dispatch"),
    "dc_fx_malformed_message": ignored("dc_fx_malformed_message"),
}


def test_every_fixture_has_a_check() -> None:
    assert sorted(CHECKS) == sorted(FIXTURES)


@pytest.mark.parametrize("name", sorted(FIXTURES))
async def test_fixture_payload(name: str) -> None:
    async with running() as (fake, adapter, rec):
        await CHECKS[name](fake, adapter, rec)
