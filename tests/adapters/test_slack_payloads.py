"""Slack payloads replayed at the adapter: the repository's fixtures (``fixtures/slack.json``), and every
documented payload in ``shared/platform-payloads/slack.json`` where that corpus is checked out.

Each entry is signed with the fake's secret and delivered the way Slack would deliver it (Events API JSON,
form-encoded slash commands and interactivity, or Socket Mode envelopes); the per-entry check below turns
the entry's ``expect`` sentence into assertions. Only ``response_url`` values are changed (pointed at the
fake, since the test may not reach hooks.slack.com or the fixture's localhost:8888).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from botkit.adapters.slack import SlackAdapter
from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.app import Bot
from botkit.config import SlackSettings
from botkit.context import Context
from botkit.plugin import on_command
from botkit.testing import ScriptedModel
from tests.adapters import corpus
from tests.adapters.slack_harness import SlackProbe

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]

MODEL_REPLY = "the model says hi"
FIXTURES = corpus.fixtures("slack")


class Recorder(SlackProbe):
    """The shared probe, plus the commands the payload entries call."""

    @on_command("hello_world")
    async def hello_world(self, ctx: Context, *words: str) -> None:
        """Hello."""
        self.commands.append(("hello_world", words))
        await ctx.reply(f"hello {' '.join(words)}")

    @on_command("weather")
    async def weather(self, ctx: Context, zip_code: str) -> None:
        """Weather."""
        self.commands.append(("weather", (zip_code,)))
        await ctx.reply(f"sunny at {zip_code}")

    @on_command("hello_socket_mode")
    async def hello_socket_mode(self, ctx: Context, name: str) -> None:
        """Needs an argument: an empty text shows the usage instead of reaching the model."""
        self.commands.append(("hello_socket_mode", (name,)))
        await ctx.reply(f"hello {name}")


@dataclass
class Outcome:
    """What replaying one entry did."""

    status: int
    body: str
    elapsed: float
    fake: FakeSlackServer
    recorder: Recorder
    model: ScriptedModel
    entry: dict[str, Any]
    ack: dict[str, Any] | None = None

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [c.params for c in self.fake.calls_to("chat.postMessage")]

    def nothing_happened(self) -> None:
        assert self.status == 200
        assert self.recorder.messages == []
        assert self.recorder.events == []
        assert self.recorder.commands == []
        assert self.model.calls == []
        assert self.fake.messages == {}
        assert self.fake.responses == []

    def answered(self, channel: str, thread_ts: str | None, text: str) -> None:
        assert self.status == 200
        assert self.elapsed < 1.0, "Slack must be acknowledged (well) within 3 seconds"
        assert [m.text for m in self.recorder.messages] == [text]
        [message] = self.fake.messages.values()
        assert (message.channel, message.thread_ts, message.text) == (channel, thread_ts, MODEL_REPLY)


def _point_response_url(payload: dict[str, Any], url: str) -> dict[str, Any]:
    return {**payload, "response_url": url} if "response_url" in payload else payload


async def replay(entry: dict[str, Any]) -> Outcome:
    socket = entry["kind"].startswith("Socket Mode")
    fake = FakeSlackServer()
    await fake.start()
    settings = SlackSettings.model_validate(
        {
            "bot_token": fake.bot_token,
            "signing_secret": fake.signing_secret,
            "app_token": fake.app_token,
            "api_base": fake.api_base,
            "port": 0,
            "mode": "socket" if socket else "http",
            "stream_edit_interval_s": 0.0,
        }
    )
    recorder, model = Recorder(), ScriptedModel([MODEL_REPLY])
    adapter = SlackAdapter(settings)
    await adapter.start(Bot([recorder], model=model))
    try:
        payload = entry["payload"]
        hook = fake.response_url(entry["name"])
        started = time.monotonic()
        ack = None
        status, body = 200, ""
        if socket:
            inner = _point_response_url(payload["payload"], hook)
            ack = await fake.push_envelope({**payload, "payload": inner})
        elif payload.get("type") == "block_actions":
            status, body = await fake.send_action(adapter.url, _point_response_url(payload, hook))
        elif "form" in entry:
            status, body = await fake.send_command(adapter.url, _point_response_url(entry["form"], hook))
        else:
            if "headers" in entry:  # a redelivery: the original delivery comes first
                await fake.send_event(adapter.url, payload)
                await adapter.drain()
                fake.calls.clear()
            status, body = await fake.send_event(adapter.url, payload, headers=entry.get("headers"))
        elapsed = time.monotonic() - started
        await adapter.drain()
        return Outcome(status, body, elapsed, fake, recorder, model, entry, ack)
    finally:
        await adapter.stop()
        await fake.stop()


def check_url_verification(o: Outcome) -> None:
    assert o.status == 200
    assert o.entry["payload"]["challenge"] in o.body
    o.nothing_happened()


def check_retry(o: Outcome) -> None:
    # The original delivery was answered once (see replay); the retry adds nothing.
    assert o.status == 200
    assert len(o.recorder.messages) == 1
    assert o.posts == []
    assert len(o.fake.messages) == 1


def check_block_actions_ephemeral(o: Outcome) -> None:
    assert o.status == 200
    [event] = o.recorder.events
    assert (event.kind, event.data, event.author.id, event.conversation.id) == (
        "button",
        "click_me_123",
        "W111",
        "C111",
    )
    assert o.posts == []  # an ephemeral message cannot be answered with chat.postMessage/update
    assert [(r["text"], r["response_type"]) for r in o.fake.responses] == [
        ("pressed click_me_123", "ephemeral")
    ]


def check_block_actions_message(o: Outcome) -> None:
    assert o.status == 200
    [event] = o.recorder.events
    assert (event.data, event.message_id) == ("clicked", "1678252213.679169")
    [message] = o.fake.messages.values()
    assert (message.channel, message.thread_ts, message.text) == (
        "C111",
        "1678252213.679169",
        "pressed clicked",
    )


def check_slash_command(o: Outcome) -> None:
    assert (o.status, o.body) == (200, "")
    assert o.elapsed < 1.0
    assert o.recorder.commands == [("hello_world", ("Hi",))]
    assert o.model.calls == []
    assert [(r["text"], r["response_type"]) for r in o.fake.responses] == [("hello Hi", "in_channel")]


def check_slash_command_legacy(o: Outcome) -> None:
    assert o.status == 200
    assert o.recorder.commands == [("weather", ("94070",))]
    assert json.loads(o.body)["text"] == "sunny at 94070"  # the synchronous answer: there is no response_url
    assert o.fake.responses == []


def check_socket_retry(o: Outcome) -> None:
    assert o.ack == {"envelope_id": "08cfc559-d933-402e-a5c1-79e135afaae4"}
    o.nothing_happened()


def check_socket_slash_empty(o: Outcome) -> None:
    assert o.ack is not None
    assert o.ack["envelope_id"] == "1d3c79ab-0ffb-41f3-a080-d19e85f53649"
    assert o.recorder.commands == []
    assert o.model.calls == []  # an empty argument never becomes an empty prompt
    [response] = o.fake.responses
    assert response["text"].startswith("Usage: /hello_socket_mode &lt;name&gt;")


CHECKS: dict[str, Callable[[Outcome], None]] = {
    "sl_url_verification_docs": check_url_verification,
    "sl_app_mention_channel_docs": lambda o: o.answered(
        "C123ABC456", "1515449522.000016", "is it everything a river should be?"
    ),
    "sl_app_mention_in_thread": lambda o: o.answered(
        "C1234567890",
        "1234567890.000001",
        "What is causing this issue? https://testserver/organizations/test-org/issues/123/",
    ),
    "sl_app_mention_rich_text_blocks": lambda o: o.answered("C111", "1678252212.229129", "hey"),
    "sl_app_mention_from_another_bot": Outcome.nothing_happened,
    "sl_message_im_docs": lambda o: o.answered("D024BE91L", None, "Hello hello can you hear me?"),
    "sl_message_im_retry_http": check_retry,
    "sl_message_channel_not_addressed": Outcome.nothing_happened,
    "sl_message_channel_thread_reply": Outcome.nothing_happened,
    "sl_message_im_assistant_thread": lambda o: o.answered(
        "D111", "1726133698.626339", "When Slack was released?"
    ),
    "sl_bot_message_subtype_classic": Outcome.nothing_happened,
    "sl_bot_message_modern_bot_id": Outcome.nothing_happened,
    "sl_message_changed": Outcome.nothing_happened,
    "sl_message_deleted": Outcome.nothing_happened,
    "sl_message_replied_docs": Outcome.nothing_happened,
    "sl_message_file_share": Outcome.nothing_happened,
    "sl_block_actions_button": check_block_actions_ephemeral,
    "sl_block_actions_button_with_message": check_block_actions_message,
    "sl_slash_command": check_slash_command,
    "sl_slash_command_legacy_docs": check_slash_command_legacy,
    "sl_socket_mode_events_api_retry": check_socket_retry,
    "sl_socket_mode_slash_command_empty_text": check_socket_slash_empty,
    "sl_app_uninstalled": Outcome.nothing_happened,
}


def check_image_reaches_plugins(o: Outcome) -> None:
    assert o.status == 200
    [seen] = o.recorder.messages  # the chat plugin, not the adapter, refuses what the model cannot read
    assert [a.kind for a in seen.attachments] == ["image"]


def check_fixture_block_action(o: Outcome) -> None:
    assert o.status == 200
    [event] = o.recorder.events
    assert (event.kind, event.data, event.author.id, event.conversation.id) == (
        "button",
        "plan:pro",
        "U0FX0001",
        "C0FX0001",
    )
    [message] = o.fake.messages.values()
    assert (message.channel, message.thread_ts, message.text) == (
        "C0FX0001",
        "1767225590.000010",
        "pressed plan:pro",
    )


def check_fixture_slash_command(o: Outcome) -> None:
    assert (o.status, o.body) == (200, "")
    assert o.recorder.commands == [("hello_world", ("there",))]
    assert o.model.calls == []
    assert [(r["text"], r["response_type"]) for r in o.fake.responses] == [("hello there", "in_channel")]


def check_malformed(o: Outcome) -> None:
    assert o.status == 400
    assert o.recorder.messages == []
    assert o.recorder.events == []
    assert o.model.calls == []
    assert o.fake.messages == {}


def check_socket_dm(o: Outcome) -> None:
    assert o.ack == {"envelope_id": "fx-envelope-0001"}
    o.answered("D0FX0002", None, "hello over the socket")


FIXTURE_CHECKS: dict[str, Callable[[Outcome], None]] = {
    "sl_fx_url_verification": check_url_verification,
    "sl_fx_dm_text": lambda o: o.answered("D0FX0001", None, "how do I reset my password?"),
    "sl_fx_channel_mention": lambda o: o.answered("C0FX0001", "1767225601.000200", "summarize this please"),
    "sl_fx_thread_mention": lambda o: o.answered("C0FX0001", "1767225500.000050", "and this one?"),
    "sl_fx_channel_chatter": Outcome.nothing_happened,
    "sl_fx_own_message": Outcome.nothing_happened,
    "sl_fx_message_edited": Outcome.nothing_happened,
    "sl_fx_dm_image_only": check_image_reaches_plugins,
    "sl_fx_block_action": check_fixture_block_action,
    "sl_fx_slash_command": check_fixture_slash_command,
    "sl_fx_unknown_event": Outcome.nothing_happened,
    "sl_fx_malformed_event": check_malformed,
    "sl_fx_socket_dm": check_socket_dm,
}


async def test_every_fixture_has_a_check() -> None:
    assert sorted(FIXTURE_CHECKS) == sorted(FIXTURES)


@pytest.mark.parametrize("name", sorted(FIXTURES))
async def test_fixture_payload(name: str) -> None:
    outcome = await replay(FIXTURES[name])
    FIXTURE_CHECKS[name](outcome)


@pytest.mark.parametrize("present", corpus.whole_params("slack"))
async def test_every_shared_entry_has_a_check(present: str | None) -> None:
    assert sorted(CHECKS) == sorted(corpus.require_all("slack", present))


@pytest.mark.parametrize("name", corpus.shared_params("slack"))
async def test_shared_payload(name: str | None) -> None:
    entry = corpus.require("slack", name)
    outcome = await replay(entry)
    CHECKS[entry["name"]](outcome)
