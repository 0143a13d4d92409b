"""The Telegram adapter end to end: real python-telegram-bot against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from pydantic import SecretStr
from telegram import Bot as TgBot
from telegram.error import BadRequest, InvalidToken

from adapters.shared import UNSUPPORTED_ATTACHMENT
from adapters.telegram import TelegramAdapter
from adapters.telegram_parse import utf16_len
from botkit.app import Bot
from botkit.config import TelegramSettings
from botkit.context import Context
from botkit.message import Button, Event, Message, Reply
from botkit.plugin import Plugin, on_command, on_event, on_message
from botkit.testing import ScriptedModel
from botkit.testing.platforms.telegram import FakeTelegramServer, check_html, check_markdown_v2
from botkit.types import SamplingParams

pytestmark = [pytest.mark.timeout(30)]

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

    @on_message()
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
    values["edit_interval_s"] = 0.1
    return TelegramSettings(**{**values, **extra})


@pytest_asyncio.fixture
async def tg() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(TOKEN, bot_id=555000111, bot_username="BotkitTestBot") as server:
        yield server


async def _rig(tg: FakeTelegramServer, model: ScriptedModel, **extra: Any) -> tuple[Rig, Bot]:
    probe = Probe()
    bot = Bot([probe], model=model)
    adapter = TelegramAdapter(settings(tg, **extra))
    await adapter.start(bot)
    return Rig(tg, adapter, probe, model), bot


@pytest_asyncio.fixture
async def rig(tg: FakeTelegramServer) -> AsyncIterator[Rig]:
    made, _ = await _rig(tg, ScriptedModel(delay=0.03))
    try:
        yield made
    finally:
        await made.adapter.stop()


# -- messages, streaming, commands, buttons ---------------------------------------------------------------
async def test_message_reply_streams_as_edits(rig: Rig) -> None:
    reply = "one two three four five six seven eight nine ten eleven twelve"
    rig.model.replies = [reply]
    rig.tg.message_update("hello there", chat_id=42)
    await rig.tg.wait_for("editMessageText", where=lambda c: c.params["text"] == reply)
    (first,) = rig.tg.sent(42)
    edits = [c.params["text"] for c in rig.tg.calls_to("editMessageText")]
    assert first.params["text"] != reply
    assert reply.startswith(first.params["text"])
    assert any(text != reply for text in edits), "no intermediate edit was seen before the final text"
    assert all(reply.startswith(text) for text in edits)
    assert rig.tg.texts(42) == [reply]
    assert rig.model.calls[-1][-1]["content"] == "hello there"
    # the model was working, so the user saw "typing..." before the first text arrived
    actions = rig.tg.calls_to("sendChatAction")
    assert actions
    assert actions[0].params["action"] == "typing"
    assert actions[0].at <= first.at
    assert "parse_mode" not in first.params  # plain text: nothing to escape, nothing to break


async def test_typing_shows_while_a_slow_handler_works(rig: Rig) -> None:
    await rig.roundtrip(rig.tg.message_update("/slow", chat_id=16))
    (action,) = rig.tg.calls_to("sendChatAction")  # after a short delay, and only until the answer
    (answer,) = rig.tg.sent(16)
    assert action.params["action"] == "typing"
    assert action.at < answer.at
    await rig.roundtrip(rig.tg.message_update("/start", chat_id=16))
    assert len(rig.tg.calls_to("sendChatAction")) == 1  # a quick answer needs no typing hint


async def test_edits_are_throttled(tg: FakeTelegramServer) -> None:
    made, _ = await _rig(tg, ScriptedModel([" ".join(["w"] * 40)], delay=0.02), edit_interval_s=0.3)
    try:
        tg.message_update("go", chat_id=7)
        await tg.wait_for("editMessageText", where=lambda c: c.params["text"].count("w") == 40)
        times = [c.at for c in tg.calls if c.method in ("sendMessage", "editMessageText")]
        gaps = [b - a for a, b in itertools.pairwise(times)][:-1]  # the final text is never held back
        assert len(times) >= 3
        assert all(gap >= 0.2 for gap in gaps), gaps
    finally:
        await made.adapter.stop()


async def test_command_and_button_reach_their_handlers(rig: Rig) -> None:
    await rig.roundtrip(rig.tg.message_update("/start", chat_id=9))
    (welcome,) = rig.tg.sent(9)
    keyboard = welcome.params["reply_markup"]["inline_keyboard"]
    assert keyboard == [
        [{"text": "Yes", "callback_data": "answer:yes"}, {"text": "Docs", "url": "https://x.y"}]
    ]
    await rig.roundtrip(
        rig.tg.button_update("answer:yes", chat_id=9, message_id=max(m for c, m in rig.tg.messages if c == 9))
    )
    assert rig.probe.names() == ["start", "button"]
    event = rig.probe.seen[1][1]
    assert isinstance(event, Event)
    assert event.data == "answer:yes"
    assert event.author.id == "9"
    assert len(rig.tg.calls_to("answerCallbackQuery")) == 1
    assert rig.tg.sent(9)[-1].params["text"] == "You chose answer:yes"


async def test_long_button_data_round_trips(rig: Rig) -> None:
    await rig.roundtrip(rig.tg.message_update("/long", chat_id=11))
    buttons = rig.tg.sent(11)[-1].params["reply_markup"]["inline_keyboard"][0]
    token = buttons[0]["callback_data"]
    assert len(token.encode()) <= 64  # the fake refuses more, as Telegram does
    await rig.roundtrip(rig.tg.button_update(token, chat_id=11))
    assert rig.event(-1).data == "d" * 100


async def test_registers_commands(rig: Rig) -> None:
    names = {c["command"]: c["description"] for c in rig.tg.commands}
    assert names["start"] == "Say hello."
    assert names["report"] == "Report a message to the admins."


async def test_group_messages_need_addressing(rig: Rig) -> None:
    group: dict[str, Any] = {"chat_id": -100500, "chat_type": "supergroup"}
    await rig.roundtrip(rig.tg.message_update("just chatting", **group))
    await rig.roundtrip(rig.tg.message_update("/start@SomeOtherBot", **group))
    assert rig.probe.seen == []
    assert rig.tg.sent() == []
    mention = [{"type": "mention", "offset": 0, "length": 14}]
    await rig.roundtrip(rig.tg.message_update("@BotkitTestBot, what is 2+2?", entities=mention, **group))
    await rig.roundtrip(rig.tg.message_update("and 3+3?", reply_to_bot=5001, **group))
    await rig.roundtrip(rig.tg.message_update("/start@BotkitTestBot", **group))
    assert rig.probe.names() == ["chat", "chat", "start"]
    first, second = (m for _, m in rig.probe.seen[:2])
    assert isinstance(first, Message)
    assert first.addressed
    assert first.text == "what is 2+2?"
    assert isinstance(second, Message)
    assert second.addressed
    assert second.reply_to == "5001"
    sent = rig.tg.sent(-100500)
    assert len(sent) == 3
    assert all("reply_parameters" in c.params for c in sent)


async def test_group_mode_all_answers_everything(tg: FakeTelegramServer) -> None:
    made, _ = await _rig(tg, ScriptedModel(), group_mode="all")
    try:
        await made.roundtrip(tg.message_update("anyone?", chat_id=-100600, chat_type="group"))
        assert made.probe.names() == ["chat"]
        assert tg.texts(-100600) == ["echo: anyone?"]
    finally:
        await made.adapter.stop()


# -- limits and failures ----------------------------------------------------------------------------------
async def test_429_is_waited_out_and_the_reply_arrives(rig: Rig) -> None:
    rig.tg.fail_next(1, method="sendMessage", retry_after=1)
    await rig.roundtrip(rig.tg.message_update("/report spam", chat_id=5))
    tries = rig.tg.calls_to("sendMessage")
    assert [c.status for c in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 0.95  # retry_after was honoured
    assert rig.tg.texts(5) == ["Reported."]


async def test_duplicate_delivery_gives_one_reply(rig: Rig) -> None:
    update = rig.tg.message_update("/start", chat_id=3, push=False)
    update["update_id"] = 77
    await rig.roundtrip(dict(update))
    await rig.roundtrip(dict(update))  # Telegram redelivers the same update_id
    assert rig.probe.names() == ["start"]
    assert len(rig.tg.sent(3)) == 1


async def test_bad_updates_are_logged_and_polling_goes_on(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="botkit")
    await rig.roundtrip({"update_id": 900, "message": {"message_id": 1, "text": "no chat"}})
    await rig.roundtrip({"update_id": 901, "poll_answer": {"poll_id": "1"}})
    await rig.roundtrip({"update_id": 902, "message": "not an object"})
    await rig.roundtrip(rig.tg.message_update("/start", chat_id=4))
    assert rig.probe.names() == ["start"]
    assert "malformed update" in caplog.text
    assert "unsupported update type ['poll_answer']" in caplog.text


async def test_long_reply_is_split_at_word_boundaries(rig: Rig) -> None:
    original = long_text()
    await rig.roundtrip(rig.tg.message_update("/long", chat_id=8))
    chunks = [c.params["text"] for c in rig.tg.sent(8)]
    assert len(chunks) == 3
    assert all(0 < utf16_len(c) <= 4096 for c in chunks)
    assert _squash("".join(chunks)) == _squash(original)
    vocabulary = set(re.findall(r"\w+", original))
    assert all(set(re.findall(r"\w+", c)) <= vocabulary for c in chunks), "a word was cut in two"
    for chunk in chunks:  # a code block cut by the limit is closed and reopened, never left open
        assert chunk.count("```") % 2 == 0
    assert "reply_markup" in rig.tg.sent(8)[-1].params
    assert "reply_markup" not in rig.tg.sent(8)[0].params


async def test_long_reply_in_a_group_quotes_the_question_once(rig: Rig) -> None:
    group: dict[str, Any] = {"chat_id": -100700, "chat_type": "supergroup"}
    await rig.roundtrip(rig.tg.message_update("/long", message_id=71, **group))
    parts = rig.tg.sent(-100700)
    assert len(parts) == 3
    assert parts[0].params["reply_parameters"]["message_id"] == 71
    assert all("reply_parameters" not in p.params for p in parts[1:])


async def test_long_streamed_reply_overflows_into_new_messages(tg: FakeTelegramServer) -> None:
    text = " ".join(WORDS[i % 8] for i in range(1300))  # ~7,600 characters, streamed word by word
    made, _ = await _rig(tg, ScriptedModel([text]), edit_interval_s=0.05)
    try:
        await made.roundtrip(tg.message_update("write a lot", chat_id=12))
        shown = tg.texts(12)
        assert len(shown) == 2
        assert all(utf16_len(t) <= 4096 for t in shown)
        assert " ".join(shown) == text
    finally:
        await made.adapter.stop()


async def test_markup_characters_are_sent_intact(rig: Rig) -> None:
    await rig.roundtrip(rig.tg.message_update("/markup", chat_id=6))
    assert rig.tg.texts(6) == [MARKUP]
    rig.model.replies = [MARKUP]
    await rig.roundtrip(rig.tg.message_update("stream it", chat_id=6))
    assert rig.tg.texts(6) == [MARKUP, MARKUP]
    assert all(c.status == 200 for c in rig.tg.calls)


async def test_fake_rejects_bad_markup_like_telegram(tg: FakeTelegramServer) -> None:
    # The adapter sends plain text; this proves the fake would catch it if it sent markup unescaped.
    assert "reserved" in (check_markdown_v2("Hello.") or "")
    assert "end of the entity" in (check_markdown_v2("*bold") or "")
    assert check_markdown_v2(r"*bold* \. _it_ `a.b` [x](http://a.b) ||s|| __u__") is None
    assert check_html("<b>bold</b> &amp; <a href='x'>link</a>") is None
    assert check_html("a < b") is not None
    assert check_html("<b>open") is not None
    async with TgBot(tg.token, base_url=tg.base_url) as client:  # on the wire, with the real client
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await client.send_message(1, MARKUP, parse_mode="MarkdownV2")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await client.send_message(1, MARKUP, parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)too long"):
            await client.send_message(1, "x" * 4097)
        assert (await client.send_message(1, MARKUP)).text == MARKUP


async def test_slow_edits_do_not_slow_the_stream(tg: FakeTelegramServer) -> None:
    words = [f"w{i}" for i in range(30)]
    made, _ = await _rig(tg, ScriptedModel([" ".join(words)], delay=0.01), edit_interval_s=0.05)
    try:
        tg.fail_next(1, method="editMessageText", retry_after=1)  # the first edit waits a whole second
        await made.roundtrip(tg.message_update("go", chat_id=13))
        assert tg.texts(13) == [" ".join(words)]
        done = [c for c in tg.calls_to("editMessageText") if c.status == 200]
        # while the first edit waited out its 429, the model finished: the retried edit is followed by
        # one edit straight to the final text, not by one edit per word
        refused = [c for c in tg.calls_to("editMessageText") if c.status == 429]
        assert [c.params["text"] for c in done] == [refused[0].params["text"], " ".join(words)]
    finally:
        await made.adapter.stop()


async def test_blocked_chat_gets_no_more_replies(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.tg.blocked_chats.add(21)
    await rig.roundtrip(rig.tg.message_update("/start", chat_id=21))
    assert "may not write to chat 21" in caplog.text
    await rig.adapter.send(rig.message(), Reply("a late notification"))
    assert len(rig.tg.calls_to("sendMessage")) == 1  # the second reply was not even attempted
    rig.tg.blocked_chats.discard(21)  # the user unblocks the bot and writes again
    await rig.roundtrip(rig.tg.message_update("/report", chat_id=21))
    assert rig.tg.texts(21) == ["Reported."]


async def test_failing_model_gets_an_apology(tg: FakeTelegramServer) -> None:
    class Broken(ScriptedModel):
        async def stream(self, messages: Any, params: Any, *, key: str | None = None) -> AsyncIterator[str]:
            yield "Half a"
            raise RuntimeError("model crashed")

    made, _ = await _rig(tg, Broken())
    try:
        await made.roundtrip(tg.message_update("hi", chat_id=14))
        texts = tg.texts(14)
        assert texts[0] == "Half a"
        assert texts[-1].startswith("Sorry, something went wrong")
        await made.roundtrip(tg.message_update("/start", chat_id=14))  # and the adapter goes on
        assert tg.texts(14)[-1] == "Welcome!"
    finally:
        await made.adapter.stop()


async def test_stop_finishes_replies_in_flight_and_confirms_updates(tg: FakeTelegramServer) -> None:
    made, _ = await _rig(tg, ScriptedModel())
    update = tg.message_update("/start", chat_id=15)
    await tg.wait_confirmed(update["update_id"])
    await made.adapter.stop()  # right after the fetch: the reply must still go out
    assert tg.texts(15) == ["Welcome!"]
    assert made.adapter._poller is None
    assert not made.adapter._tasks
    final = tg.calls_to("getUpdates")[-1]  # fetched updates are confirmed: a restart won't redo them
    assert int(final.params["offset"]) == update["update_id"] + 1
    assert int(final.params["timeout"]) == 0


async def test_wrong_token_fails_start_cleanly(tg: FakeTelegramServer) -> None:
    adapter = TelegramAdapter(TelegramSettings(token=SecretStr("111:wrong-token"), base_url=tg.base_url))
    with pytest.raises(InvalidToken) as failure:
        await adapter.start(Bot([Probe()]))
    assert "wrong-token" not in "".join(traceback.format_exception(failure.value))  # it gets logged
    assert adapter._redact not in logging.getLogger("httpx").filters  # nothing left behind
    assert [c.status for c in tg.calls] == [401]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"telegram\.token"):
        TelegramAdapter(TelegramSettings())
    with pytest.raises(ValueError, match="webhook_url"):
        TelegramAdapter(TelegramSettings(token=SecretStr(TOKEN), mode="webhook"))
    generated = TelegramAdapter(
        TelegramSettings(token=SecretStr(TOKEN), mode="webhook", webhook_url="https://x")
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", generated.secret_token)  # made up when none is set


# -- webhook ----------------------------------------------------------------------------------------------
async def test_webhook_checks_the_secret_token(
    tg: FakeTelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    extra = {"mode": "webhook", "webhook_url": "https://bot.example.com/tg", "webhook_port": 0}
    good = "s3cret-Token_value"
    made, _ = await _rig(tg, ScriptedModel(), secret_token=SecretStr(good), **extra)
    try:
        assert tg.webhook is not None
        assert tg.webhook["secret_token"] == good
        assert tg.webhook["url"] == "https://bot.example.com/tg"
        url = f"http://127.0.0.1:{made.adapter.webhook_port}/telegram"
        assert await tg.deliver(url, tg.message_update("/start", push=False), secret_token=None) == 401
        assert await tg.deliver(url, tg.message_update("/start", push=False), secret_token="wrong") == 403
        forged = "s3cret-Token_valuf"  # same length, last byte differs
        assert await tg.deliver(url, tg.message_update("/start", push=False), secret_token=forged) == 403
        await made.adapter.drain(2)
        assert made.probe.seen == []
        assert tg.sent() == []
        async with aiohttp.ClientSession() as session:
            bad = await session.post(
                url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": forged}
            )
            assert bad.status == 403
        async with aiohttp.ClientSession() as session:
            garbage = await session.post(
                url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": good}
            )
            assert garbage.status == 400
        status = await tg.deliver(url, tg.message_update("/start", chat_id=31, push=False), secret_token=good)
        assert status == 200
        await tg.wait_for("sendMessage")
        assert made.probe.names() == ["start"]
        assert tg.texts(31) == ["Welcome!"]
    finally:
        await made.adapter.stop()
    assert "secret_token" in caplog.text  # PTB logged the setWebhook call at DEBUG...
    assert good not in caplog.text  # ...with the secret redacted
    assert TOKEN not in caplog.text


# -- secrets ----------------------------------------------------------------------------------------------
async def test_token_never_appears_in_logs(tg: FakeTelegramServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "telegram", "aiohttp", "botkit"):
        caplog.set_level(logging.DEBUG, logger=name)
    made, _ = await _rig(tg, ScriptedModel(["fine"]))
    try:
        await made.roundtrip(tg.message_update("hi", chat_id=2))
        tg.fail_next(1, method="sendMessage")
        await made.roundtrip(tg.message_update("/start", chat_id=2))
    finally:
        await made.adapter.stop()
    assert tg.texts(2) == ["fine", "Welcome!"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request: POST" in text, "httpx did not log: the check below would prove nothing"
    secret_part = TOKEN.split(":")[1]
    assert TOKEN not in text
    assert secret_part not in text
    assert TOKEN not in caplog.text
    assert "<redacted>" in text


def _squash(text: str) -> str:
    return re.sub(r"\s+|```(python)?", "", text)


# -- real payloads ----------------------------------------------------------------------------------------
PAYLOADS = Path(__file__).resolve().parents[2].parent / "shared" / "platform-payloads"


def _load_payloads() -> list[dict[str, Any]]:
    path = PAYLOADS / "telegram.json"
    if not path.is_file():  # collected at import: a missing checkout fails loudly, it never skips
        raise FileNotFoundError(f"platform payloads missing: expected {path} (shared/ beside the repo clone)")
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return entries


def _replies(r: Rig) -> list[str]:
    return [c.params["text"] for c in r.tg.calls if c.method in ("sendMessage", "editMessageText")]


def ignored(r: Rig) -> None:
    assert r.probe.seen == []
    assert _replies(r) == []
    assert r.model.calls == []


def command(name: str, chat: int, *, reply: str) -> Callable[[Rig], None]:
    def check(r: Rig) -> None:
        assert r.probe.names() == [name]
        assert [(int(c.params["chat_id"]), c.params["text"]) for c in r.tg.sent()] == [(chat, reply)]
        assert r.model.calls == []

    return check


def chat(text: str, chat_id: int) -> Callable[[Rig], None]:
    def check(r: Rig) -> None:
        assert r.probe.names() == ["chat"]
        assert r.message().text == text
        assert r.tg.texts(chat_id) == [f"echo: {text}"]  # the model's (streamed) reply arrived

    return check


def notice(kind: str, chat_id: int) -> Callable[[Rig], None]:
    def check(r: Rig) -> None:
        assert r.probe.seen == []
        assert r.model.calls == []
        assert r.tg.texts(chat_id) == [UNSUPPORTED_ATTACHMENT.format(kinds=kind)]

    return check


def event(kind: str, data: str, author: str) -> Callable[[Rig], None]:
    def check(r: Rig) -> None:
        assert r.probe.names() == [kind]
        assert r.model.calls == []
        assert _replies(r) == []
        got = r.probe.seen[0][1]
        assert isinstance(got, Event)
        assert (got.data, got.author.id) == (data, author)

    return check


def _forward_start(r: Rig) -> None:
    assert "start" not in r.probe.names()  # a forwarded "/start" is not the forwarder's command
    assert r.probe.names() == ["chat"]
    assert r.message().text == "[forwarded from Forward Firstname Forward Lastname]\n/start"
    assert len(r.tg.sent()) == 1


def _reply_official(r: Rig) -> None:
    command("start", 1111111, reply="Welcome!")(r)
    message = r.probe.seen[0][1]
    assert isinstance(message, Message)
    assert message.reply_to == "1334"
    assert message.raw["message"]["reply_to_message"]["text"] == "Original"


def _inline_button(r: Rig) -> None:
    assert r.probe.names() == ["button"]
    pressed = r.probe.seen[0][1]
    assert isinstance(pressed, Event)
    assert pressed.data == "Data from button callback"
    assert [c.params["callback_query_id"] for c in r.tg.calls_to("answerCallbackQuery")] == [
        "4382bfdwdsb323b2d9"
    ]
    (edit,) = r.tg.calls_to("editMessageText")  # no chat to post in: the inline message is edited
    assert edit.params["inline_message_id"] == "1234csdbsk4839"
    assert edit.params["text"] == "You chose Data from button callback"
    assert r.tg.sent() == []


def _header_button(r: Rig) -> None:
    assert r.probe.names() == ["button"]
    pressed = r.probe.seen[0][1]
    assert isinstance(pressed, Event)
    assert pressed.data == "*"
    assert pressed.message_id == "3572"
    assert pressed.conversation.id == "2"
    assert pressed.author.id == "1"
    assert len(r.tg.calls_to("answerCallbackQuery")) == 1
    assert _replies(r) == []
    assert r.model.calls == []


def _report_in_thread(r: Rig) -> None:
    command("report", -1001293752024, reply="Reported.")(r)
    (sent,) = r.tg.sent()
    assert int(sent.params["message_thread_id"]) == 134545
    assert sent.params["reply_parameters"]["message_id"] == 134546


async def _blocked(r: Rig) -> None:
    event("leave", "kicked", "1")(r)
    await r.adapter.send(r.probe.seen[0][1], Reply("anyone there?"))  # dropped: the user blocked the bot
    assert r.tg.sent() == []


def _photo_caption(r: Rig) -> None:
    chat("www.example.com", 27433968)(r)
    (photo,) = r.message().attachments
    assert (photo.kind, photo.size) == ("image", 162061)  # the largest PhotoSize


def _forward_emoji(r: Rig) -> None:
    original = "a" * 76 + "😋😋"
    assert r.probe.names() == ["chat"]
    assert r.message().text.endswith("\n" + original)
    assert r.tg.texts(927266710)[0].endswith(original)


def _quote_reply(r: Rig) -> None:
    chat("quote reply", 927266710)(r)
    message = r.probe.seen[0][1]
    assert isinstance(message, Message)
    assert message.reply_to == "1374510"
    assert message.raw["message"]["quote"]["is_manual"] is True


def _left(r: Rig) -> None:
    event("leave", "left", "77777777")(r)
    assert r.probe.seen[0][1].author.name == "Pepe"


CHECKS: dict[str, Callable[[Rig], Any]] = {
    "tg_private_start_official": command("start", 1111111, reply="Welcome!"),
    "tg_forwarded_from_user_official": _forward_start,
    "tg_reply_official": _reply_official,
    "tg_edited_message_official": ignored,
    "tg_entities_bold_italic_official": chat("Bold and italics", 1111111),
    "tg_document_official": notice("file", 1111111),
    "tg_callback_query_inline_official": _inline_button,
    "tg_private_start_bot_command_real": command("start", 12345678, reply="Welcome!"),
    "tg_private_photo_no_caption_real": notice("image", 12345678),
    "tg_supergroup_sticker_real": ignored,
    "tg_bot_added_to_group_real": event("join", "123455678", "12345678"),
    "tg_supergroup_plain_text_real": ignored,
    "tg_supergroup_edited_text_real": ignored,
    "tg_supergroup_reply_to_human_real": ignored,
    "tg_callback_query_with_message_real": _header_button,
    "tg_supergroup_command_reply_to_story": _report_in_thread,
    "tg_my_chat_member_bot_kicked": _blocked,
    "tg_private_photo_with_caption_url": _photo_caption,
    "tg_private_cyrillic_emoji_text": chat("Лол кек 😂", 250918540),
    "tg_supergroup_anonymous_admin_forward": ignored,
    "tg_private_forward_emoji_custom_emoji": _forward_emoji,
    "tg_private_reply_with_quote_rich_entities": _quote_reply,
    "tg_chat_member_left_actor_without_username": _left,
    "tg_channel_post_chinese_url": ignored,
    "tg_channel_post_chinese_plain": ignored,
}


@pytest.mark.parametrize("entry", _load_payloads(), ids=lambda e: e["name"])
async def test_real_payload(entry: dict[str, Any], rig: Rig) -> None:
    check = CHECKS.get(entry["name"])
    assert check is not None, f"no expectation coded for payload {entry['name']}: {entry['expect']}"
    await rig.roundtrip(json.loads(json.dumps(entry["payload"])))
    outcome = check(rig)
    if asyncio.iscoroutine(outcome):
        await outcome


async def test_edited_message_handled_when_configured(tg: FakeTelegramServer) -> None:
    made, _ = await _rig(tg, ScriptedModel(), edited_messages="handle")
    try:
        (entry,) = [e for e in _load_payloads() if e["name"] == "tg_edited_message_official"]
        await made.roundtrip(json.loads(json.dumps(entry["payload"])))
        message = made.probe.seen[0][1]
        assert isinstance(message, Message)
        assert message.edited
        assert message.id == "1365"
        assert tg.texts(1111111) == ["echo: Edited text"]
    finally:
        await made.adapter.stop()
