"""The Slack adapter end to end: real slack-bolt / slack_sdk against the fake Slack on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from botkit.adapters.slack import SlackAdapter
from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.adapters.slack.format import TEXT_LIMIT, escape, split_escaped, unescape
from botkit.app import Bot
from botkit.config import SlackSettings
from botkit.context import Context
from botkit.message import Button
from botkit.plugin import on_command
from botkit.testing import ScriptedModel
from tests.adapters.slack_harness import SlackProbe

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]

MARKUP = "Try *bold* _it_ ~s~ `x` ```py\nprint(1)\n``` [a](b) #+-=|{}.! <tag> & &amp; > quote <@U1> done"


class Probe(SlackProbe):
    """The shared probe, plus the commands these tests use."""

    @on_command("ping")
    async def ping(self, ctx: Context, *words: str) -> None:
        """Answer with buttons."""
        self.commands.append(("ping", words))
        await ctx.reply("pong " + " ".join(words), buttons=[[Button("Again", data="again:1")]])

    @on_command("hello_world")
    async def hello_world(self, ctx: Context, *words: str) -> None:
        """A slash command with dashes in Slack."""
        self.commands.append(("hello_world", words))
        await ctx.reply(f"hello {' '.join(words)} <3")

    @on_command("weather")
    async def weather(self, ctx: Context, place: str) -> None:
        """A legacy slash command."""
        self.commands.append(("weather", (place,)))
        await ctx.reply(f"sunny in {place}")

    @on_command("long")
    async def long(self, ctx: Context) -> None:
        """A whole (not streamed) reply that needs splitting."""
        await ctx.reply(long_text())

    @on_command("choose")
    async def choose(self, ctx: Context) -> None:
        """A streamed reply that ends with buttons."""
        from botkit.types import SamplingParams

        deltas = ctx.model.stream([{"role": "user", "content": "choose"}], SamplingParams())
        await ctx.stream(deltas, buttons=[[Button("Yes", data="y"), Button("Docs", url="https://x.org")]])

    @on_command("slow")
    async def slow(self, ctx: Context, answer: str = "yes") -> None:
        """Answers in one piece after a while (a slow, non-streamed model call); "no" answers nothing."""
        await asyncio.sleep(0.3)
        if answer != "no":
            await ctx.reply(f"done: {answer}")


@dataclass
class Harness:
    fake: FakeSlackServer
    adapter: SlackAdapter
    probe: Probe
    model: ScriptedModel

    async def event(self, payload: dict[str, Any], **kw: Any) -> tuple[int, str]:
        """Deliver an event, then wait until the adapter has handled it."""
        status, body = await self.fake.send_event(self.adapter.url, payload, **kw)
        await self.adapter.drain()
        return status, body

    def posted(self, method: str = "chat.postMessage") -> list[dict[str, Any]]:
        return [c.params for c in self.fake.calls_to(method)]


def long_text() -> str:
    words = [f"word{i}{'&' if i % 7 == 0 else ''}" for i in range(1400)]
    text = " ".join(words)
    return text[:10_000].rsplit(" ", 1)[0] + " <end>"


async def running(
    replies: list[str] | None = None, delay: float = 0.0, **settings: Any
) -> tuple[FakeSlackServer, SlackAdapter, Probe, ScriptedModel]:
    fake = FakeSlackServer()
    await fake.start()
    config = SlackSettings.model_validate(
        {
            "bot_token": fake.bot_token,
            "signing_secret": fake.signing_secret,
            "app_token": fake.app_token,
            "api_base": fake.api_base,
            "port": 0,
            "stream_edit_interval_s": 0.02,
            **settings,
        }
    )
    probe, model = Probe(), ScriptedModel(replies or ["one two three four five six seven eight"], delay=delay)
    adapter = SlackAdapter(config)
    await adapter.start(Bot([probe], model=model))
    return fake, adapter, probe, model


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[Harness]:
    fake, adapter, probe, model = await running(delay=0.03)
    yield Harness(fake, adapter, probe, model)
    await adapter.stop()
    await fake.stop()


# -- messages in, replies out -----------------------------------------------------------------------
async def test_dm_reply_is_streamed_as_edits(slack: Harness) -> None:
    started = time.monotonic()
    status, _ = await slack.fake.send_event(slack.adapter.url, slack.fake.message_event("hi there"))
    acked = time.monotonic() - started
    await slack.adapter.drain()
    assert status == 200
    assert acked < 1.0, "the HTTP ack must come before the reply is generated"
    assert slack.probe.messages[0].text == "hi there"
    [message] = slack.fake.messages.values()
    final = "one two three four five six seven eight"
    assert message.channel == "D0001"
    assert message.thread_ts is None  # top-level DMs are answered top-level
    assert unescape(message.texts[0]) == "\u2026"  # the placeholder doubles as typing indicator
    assert message.text == final
    drafts = [unescape(t) for t in message.texts[1:-1]]
    assert drafts, "at least one edit must show the reply growing before the final text"
    assert all(final.startswith(d.removesuffix(" \u2026")) for d in drafts)
    assert len(slack.fake.calls_to("chat.update")) == len(message.texts) - 1


async def test_channel_mention_is_stripped_threaded_and_answered_once(slack: Harness) -> None:
    fake = slack.fake
    as_message = fake.message_event(f"<@{fake.bot_user_id}> what's up?", channel="C0001", im=False)
    as_mention = fake.event_callback({**as_message["event"], "type": "app_mention"})
    del as_mention["event"]["channel_type"]
    await slack.event(as_mention)
    await slack.event(as_message)  # Slack sends both for one message; only one reply
    ts = as_message["event"]["ts"]
    assert [m.text for m in slack.probe.messages] == ["what's up?"]
    assert slack.probe.messages[0].addressed
    assert [m.thread_ts for m in fake.messages.values()] == [ts]


async def test_reply_in_bot_thread_addresses_bot_but_chatter_does_not(slack: Harness) -> None:
    fake = slack.fake
    await slack.event(fake.message_event("chatter", channel="C0001", im=False))
    assert slack.probe.messages == []
    mention = fake.message_event(f"<@{fake.bot_user_id}> start", channel="C0001", im=False)
    await slack.event(mention)
    thread = mention["event"]["ts"]
    await slack.event(fake.message_event("and more", channel="C0001", im=False, thread_ts=thread))
    assert [m.text for m in slack.probe.messages] == ["start", "and more"]
    assert len(fake.thread("C0001", thread)) == 2


async def test_one_conversation_is_answered_in_order(slack: Harness) -> None:
    first, second = slack.fake.message_event("first"), slack.fake.message_event("second")
    await slack.fake.send_event(slack.adapter.url, first)
    await slack.fake.send_event(slack.adapter.url, second)
    await slack.adapter.drain()
    posts = [c for c in slack.fake.calls if c.method in ("chat.postMessage", "chat.update")]
    first_ts = next(iter(slack.fake.messages))
    first_done = max(i for i, c in enumerate(posts) if c.params.get("ts") == first_ts)
    second_started = [i for i, c in enumerate(posts) if c.method == "chat.postMessage"][1]
    assert first_done < second_started, "the second reply must wait until the first one is complete"
    assert [m.text for m in slack.probe.messages] == ["first", "second"]


async def test_a_reply_that_comes_while_the_placeholder_is_being_posted_replaces_it() -> None:
    # Slack takes 0.4 s to post: the "…" goes out at 0.1 s and the reply is ready at 0.3 s, before Slack
    # has said where the "…" is. The reply must wait for it and edit it, not post a second message.
    fake, adapter, _, _ = await running(typing_delay_s=0.1)
    fake.delays["chat.postMessage"] = 0.4
    try:
        await fake.send_event(adapter.url, fake.message_event("/slow"))
        await adapter.drain()
        (reply,) = fake.messages.values()
        assert [unescape(t) for t in reply.texts] == ["\u2026", "done: yes"]
        assert len(fake.calls_to("chat.postMessage")) == 1
        assert fake.calls_to("chat.delete") == []
    finally:
        await adapter.stop()
        await fake.stop()


async def test_typing_placeholder_shows_while_a_slow_handler_works() -> None:
    fake, adapter, _, _ = await running(typing_delay_s=0.1)
    try:
        for text in ("/slow", "/ping quick", "/slow no"):
            await fake.send_event(adapter.url, fake.message_event(text))
            await adapter.drain()
        slow, quick = fake.messages.values()  # the third placeholder was deleted: nothing was said
        assert [unescape(t) for t in slow.texts] == ["\u2026", "done: yes"]
        assert quick.texts == ["pong quick"]
        assert len(fake.calls_to("chat.postMessage")) == 3
        assert len(fake.calls_to("chat.delete")) == 1
    finally:
        await adapter.stop()
        await fake.stop()


async def test_group_mode_all_answers_every_channel_message() -> None:
    fake, adapter, probe, _ = await running(group_mode="all")
    try:
        await fake.send_event(adapter.url, fake.message_event("chatter", channel="C0001", im=False))
        await adapter.drain()
        assert [m.text for m in probe.messages] == ["chatter"]
        assert probe.messages[0].addressed
    finally:
        await adapter.stop()
        await fake.stop()


async def test_edits_are_ignored_or_handled_per_setting(slack: Harness) -> None:
    fake = slack.fake
    original = fake.message_event("first")
    changed = fake.event_callback(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": "D0001",
            "channel_type": "im",
            "ts": "9.000001",
            "message": {**original["event"], "text": "second", "edited": {"user": "U0001", "ts": "9.0"}},
        }
    )
    await slack.event(changed)
    assert slack.probe.messages == []
    fake2, adapter, probe, _ = await running(edited_messages="handle")
    try:
        await fake2.send_event(adapter.url, changed)
        await adapter.drain()
        assert [(m.text, m.edited) for m in probe.messages] == [("second", True)]
    finally:
        await adapter.stop()
        await fake2.stop()


async def test_attachment_only_message_reaches_the_plugins(slack: Harness) -> None:
    file = {
        "id": "F1",
        "name": "cat.png",
        "mimetype": "image/png",
        "size": 10,
        "url_private": "https://x/cat.png",
    }
    await slack.event(slack.fake.message_event("", files=[file], subtype="file_share"))
    [seen] = slack.probe.messages  # the chat plugin, not the adapter, refuses what the model cannot read
    assert [(a.kind, a.name) for a in seen.attachments] == [("image", "cat.png")]


# -- commands and buttons ---------------------------------------------------------------------------
async def test_command_with_buttons_and_the_button_press(slack: Harness) -> None:
    fake = slack.fake
    await slack.event(fake.message_event("/ping a b"))
    assert slack.probe.commands == [("ping", ("a", "b"))]
    [message] = fake.messages.values()
    assert message.text == "pong a b"
    actions = message.blocks[-1] if message.blocks else {}
    button = actions["elements"][0]
    assert (actions["type"], button["value"]) == ("actions", "again:1")
    press = {
        "type": "block_actions",
        "user": {"id": "U0001", "username": "ann"},
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": "D0001",
            "is_ephemeral": False,
        },
        "channel": {"id": "D0001"},
        "message": {"ts": message.ts, "text": "pong a b"},
        "trigger_id": "1.2.3",
        "response_url": fake.response_url(),
        "actions": [{**button, "block_id": "b", "action_ts": "5.5"}],
    }
    status, _ = await fake.send_action(slack.adapter.url, press)
    await slack.adapter.drain()
    assert status == 200
    [event] = slack.probe.events
    assert (event.kind, event.data, event.author.id, event.message_id) == (
        "button",
        "again:1",
        "U0001",
        message.ts,
    )
    assert [m.text for m in fake.thread("D0001", message.ts)] == ["pressed again:1"]


async def test_streamed_reply_gets_its_buttons_with_the_final_text(slack: Harness) -> None:
    await slack.event(slack.fake.message_event("/choose"))
    [message] = slack.fake.messages.values()
    assert message.text == "one two three four five six seven eight"
    assert message.blocks is not None
    section, actions = message.blocks
    assert section["text"]["text"] == message.texts[-1]
    assert [(e["text"]["text"], e.get("value"), e.get("url")) for e in actions["elements"]] == [
        ("Yes", "y", None),
        ("Docs", None, "https://x.org"),
    ]
    drafts_with_blocks = [c for c in slack.fake.calls_to("chat.update")[:-1] if c.params.get("blocks")]
    assert drafts_with_blocks == []  # buttons appear once the text is final


async def test_command_after_a_mention_in_a_channel(slack: Harness) -> None:
    fake = slack.fake
    mention = fake.message_event(f"<@{fake.bot_user_id}> /ping x", channel="C0001", im=False)
    await slack.event(fake.event_callback({**mention["event"], "type": "app_mention"}))
    assert slack.probe.commands == [("ping", ("x",))]
    assert [m.text for m in fake.thread("C0001", mention["event"]["ts"])] == ["pong x"]


async def test_slash_command_acks_then_answers_through_response_url(slack: Harness) -> None:
    fake = slack.fake
    form = {
        "command": "/hello-world",
        "text": "big world",
        "channel_id": "C0001",
        "channel_name": "general",
        "user_id": "U0001",
        "user_name": "ann",
        "response_url": fake.response_url("cmd"),
        "trigger_id": "t1",
    }
    status, body = await fake.send_command(slack.adapter.url, form)
    assert (status, body) == (200, "")
    await slack.adapter.drain()
    assert slack.probe.commands == [("hello_world", ("big", "world"))]
    assert [(r["name"], r["text"], r["response_type"]) for r in fake.responses] == [
        ("cmd", "hello big world &lt;3", "in_channel")
    ]
    status, body = await fake.send_command(slack.adapter.url, {**form, "command": "/nope", "text": ""})
    assert status == 200
    assert "don't know the command /nope" in body
    assert slack.model.calls == []


async def test_legacy_slash_command_answers_in_the_http_response(slack: Harness) -> None:
    form = {"command": "/weather", "text": "94070", "channel_id": "C2", "user_id": "U2", "user_name": "steve"}
    status, body = await slack.fake.send_command(slack.adapter.url, form)
    assert status == 200
    assert json.loads(body) == {"text": "sunny in 94070", "response_type": "in_channel"}
    assert slack.probe.commands == [("weather", ("94070",))]


# -- platform limits --------------------------------------------------------------------------------
async def test_rate_limit_is_waited_out_and_the_reply_arrives(slack: Harness) -> None:
    await slack.event(slack.fake.message_event("warm up"))  # bolt's own first auth.test is out of the way
    slack.fake.calls.clear()
    slack.fake.rate_limit(1, retry_after=1)
    started = time.monotonic()
    await slack.event(slack.fake.message_event("hello"))
    assert time.monotonic() - started >= 1.0
    assert [(c.method, c.status) for c in slack.fake.calls[:2]] == [
        ("chat.postMessage", 429),
        ("chat.postMessage", 200),
    ]
    assert [m.text for m in slack.fake.messages.values()] == ["one two three four five six seven eight"] * 2


async def test_redelivered_event_gets_one_reply(slack: Harness) -> None:
    payload = slack.fake.message_event("once please")
    first, _ = await slack.event(payload)
    retry, _ = await slack.event(
        payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert (first, retry) == (200, 200)
    assert len(slack.probe.messages) == 1
    assert len(slack.fake.messages) == 1


@pytest.mark.parametrize(("secret", "age"), [("forged-secret", 0), (None, 301), (None, -400)])
async def test_forged_or_stale_requests_are_rejected(slack: Harness, secret: str | None, age: int) -> None:
    before = len(slack.fake.calls)
    status, _ = await slack.event(
        slack.fake.message_event("sneaky"), secret=secret, timestamp=int(time.time()) - age
    )
    assert status == 401
    assert slack.probe.messages == []
    assert len(slack.fake.calls) == before  # not even an auth.test: nothing was processed


async def test_ten_thousand_characters_are_split_at_word_boundaries(slack: Harness) -> None:
    text = long_text()
    await slack.event(slack.fake.message_event("/long"))
    chunks = [m.texts[-1] for m in slack.fake.messages.values()]
    assert len(chunks) == 3
    assert all(len(c) <= TEXT_LIMIT for c in chunks)
    shown = [unescape(c) for c in chunks]
    assert "".join(shown).replace(" ", "") == text.replace(" ", "")
    for chunk in shown:  # every cut falls between words
        assert chunk.split(" ")[0] in text.split(" ")
        assert chunk.split(" ")[-1] in text.split(" ")


async def test_long_streamed_reply_continues_in_new_messages() -> None:
    fake, adapter, _, _ = await running([long_text()], stream_edit_interval_s=0.0)
    try:
        await fake.send_event(adapter.url, fake.message_event("talk a lot"))
        await adapter.drain()
        messages = list(fake.messages.values())
        assert len(messages) == 3
        assert all(len(m.texts[-1]) <= TEXT_LIMIT for m in messages)
        assert "".join(m.text for m in messages).replace(" ", "") == long_text().replace(" ", "")
        assert not [c for c in fake.calls if c.error]
    finally:
        await adapter.stop()
        await fake.stop()


async def test_markup_in_model_output_is_sent_escaped_and_shown_verbatim() -> None:
    fake, adapter, _, _ = await running([MARKUP])
    try:
        await fake.send_event(adapter.url, fake.message_event("format please"))
        await adapter.drain()
        [message] = fake.messages.values()
        assert message.text == MARKUP
        assert not [c for c in fake.calls if c.error]
    finally:
        await adapter.stop()
        await fake.stop()


async def test_fake_rejects_unescaped_markup_like_a_strict_slack(slack: Harness) -> None:
    client = slack.adapter._sender.client if slack.adapter._sender else None
    assert client is not None
    from slack_sdk.errors import SlackApiError

    with pytest.raises(SlackApiError, match="unescaped_markup"):
        await client.chat_postMessage(channel="C1", text="a <b & c")
    ok = await client.chat_postMessage(channel="C1", text=escape("a <b & c") + " <@U1>")
    assert ok["ok"]


async def test_incoming_slack_markup_reaches_plugins_as_plain_text(slack: Harness) -> None:
    typed = "a &lt; b &amp;&amp; <@U7|ann> in <#C9|general> see <https://x.org/a?b=1|x.org> <!here>"
    typed += " <mailto:m@x.org|m>"
    await slack.event(slack.fake.message_event(typed))
    assert [m.text for m in slack.probe.messages] == [
        "a < b && @ann in #general see https://x.org/a?b=1 @here m@x.org"
    ]


async def test_split_escaped_keeps_every_chunk_within_the_limit_after_escaping() -> None:
    text = " ".join(["&&&&&&&&"] * 600)
    chunks = split_escaped(text, 400)
    assert all(len(c) <= 400 for c in chunks)
    assert " ".join(unescape(c) for c in chunks) == text


# -- robustness -------------------------------------------------------------------------------------
async def test_malformed_and_unknown_payloads_are_ignored_and_the_adapter_goes_on(slack: Harness) -> None:
    fake = slack.fake
    status, _ = await fake.deliver(slack.adapter.url, "{not json", "application/json")
    assert status == 400
    status, _ = await slack.event(fake.event_callback({"type": "reaction_added", "user": "U1"}))
    assert status == 200
    status, _ = await slack.event(fake.event_callback({"type": "message"}))  # no user, no channel
    assert status == 200
    status, _ = await slack.event({"type": "event_callback", "event_id": "Ev9", "event": "garbage"})
    assert status == 400
    assert fake.messages == {}
    await slack.event(fake.message_event("still there?"))
    assert [m.text for m in slack.probe.messages] == ["still there?"]


async def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("slack_sdk", "slack_bolt", "botkit", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
    fake, adapter, _, _ = await running()
    try:
        fake.rate_limit(1)
        await fake.send_event(adapter.url, fake.message_event("hi"))
        await fake.send_event(adapter.url, fake.message_event("bad"), secret="wrong")
        await adapter.drain()
        # A library that logs a secret (as python-telegram-bot logs URLs holding the token) is redacted.
        logging.getLogger("slack_sdk.web.async_base_client").debug("url https://x/%s", fake.bot_token)
        logging.getLogger("botkit.adapters.slack.sdk").warning("secret %s", fake.signing_secret)
        try:
            raise RuntimeError(f"connect failed for wss://x?token={fake.app_token}")
        except RuntimeError:
            logging.getLogger("aiohttp.client").exception("oops")
    finally:
        await adapter.stop()
        await fake.stop()
    socket_fake, socket_adapter, _, _ = await running(mode="socket")  # the app token travels here
    try:
        envelope = {"envelope_id": "e1", "type": "events_api", "payload": socket_fake.message_event("hi")}
        await socket_fake.push_envelope(envelope)
        await socket_adapter.drain()
    finally:
        await socket_adapter.stop()
        await socket_fake.stop()
    text = caplog.text
    assert "chat.postMessage" in text  # the library's own DEBUG records were captured
    assert "apps.connections.open" in text
    assert "token=[redacted]" in text  # the planted traceback, redacted
    for secret in (fake.bot_token, fake.signing_secret, fake.app_token):
        assert secret not in text


# -- socket mode ------------------------------------------------------------------------------------
async def test_socket_mode_receives_events_and_acks_envelopes() -> None:
    fake, adapter, probe, _ = await running(mode="socket", signing_secret=None)
    try:
        envelope = {
            "envelope_id": "env-1",
            "type": "events_api",
            "accepts_response_payload": False,
            "payload": fake.message_event("over the socket"),
        }
        ack = await fake.push_envelope(envelope)
        assert ack["envelope_id"] == "env-1"
        await fake.wait_for(lambda: probe.messages and fake.messages)
        await adapter.drain()
        assert [m.text for m in probe.messages] == ["over the socket"]
        assert [c.method for c in fake.calls][:2] == ["auth.test", "apps.connections.open"]
        assert re.fullmatch(r"one two .* eight", next(iter(fake.messages.values())).text)
    finally:
        await adapter.stop()
        await fake.stop()


async def test_socket_mode_redelivery_gets_one_reply() -> None:
    fake, adapter, probe, _ = await running(mode="socket")
    try:
        payload = fake.message_event("only once")
        first = {"envelope_id": "e1", "type": "events_api", "payload": payload}
        retry = {**first, "envelope_id": "e2", "retry_attempt": 1, "retry_reason": "timeout"}
        assert (await fake.push_envelope(first))["envelope_id"] == "e1"
        assert (await fake.push_envelope(retry))["envelope_id"] == "e2"
        await fake.wait_for(lambda: probe.messages)
        await adapter.drain()
        assert len(probe.messages) == 1
        assert len(fake.messages) == 1
    finally:
        await adapter.stop()
        await fake.stop()


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_stop_leaves_no_task_behind(mode: str) -> None:
    fake, adapter, _, _ = await running(mode=mode)
    await fake.stop()  # the fake first: the adapter must still stop cleanly with Slack gone
    await adapter.stop()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_start_fails_cleanly_without_credentials() -> None:
    with pytest.raises(ValueError, match="bot_token"):
        await SlackAdapter(SlackSettings.model_validate({})).start(Bot([]))
    with pytest.raises(ValueError, match="signing_secret"):
        await SlackAdapter(SlackSettings.model_validate({"bot_token": "xoxb-1"})).start(Bot([]))


async def test_stop_lets_a_reply_in_progress_finish() -> None:
    fake, adapter, _, _ = await running(delay=0.05)
    try:
        await fake.send_event(adapter.url, fake.message_event("slow one"))
        await fake.wait_for(lambda: fake.messages)  # the reply has begun: its placeholder is posted
        await adapter.stop()
        [message] = fake.messages.values()
        assert message.text == "one two three four five six seven eight"
    finally:
        await fake.stop()
