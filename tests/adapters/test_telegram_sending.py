"""The Telegram adapter end to end, sending: throttled edits, 429s, long replies split across messages,
markup sent intact, blocked chats; real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from telegram import Bot as TgBot
from telegram.error import BadRequest

from botkit.adapters.telegram.fake_server import FakeTelegramServer, check_html, check_markdown_v2
from botkit.adapters.telegram.parse import utf16_len
from botkit.message import Reply
from botkit.testing import ScriptedModel
from tests.adapters.telegram_harness import (
    MARKUP,
    WORDS,
    Rig,
    long_text,
    rig_fixture,  # noqa: F401  (the ``rig`` fixture)
    start_rig,
    tg_fixture,  # noqa: F401  (the ``tg`` fixture)
)

pytestmark = [pytest.mark.timeout(30)]


# -- pacing: throttled edits, 429s ---------------------------------------------------------------------------
async def test_edits_are_throttled(tg: FakeTelegramServer) -> None:
    made, _ = await start_rig(
        tg, ScriptedModel([" ".join(["w"] * 40)], delay=0.02), stream_edit_interval_s=0.3
    )
    try:
        tg.message_update("go", chat_id=7)
        await tg.wait_for("editMessageText", where=lambda c: c.params["text"].count("w") == 40)
        times = [c.at for c in tg.calls if c.method in ("sendMessage", "editMessageText")]
        gaps = [b - a for a, b in itertools.pairwise(times)][:-1]  # the final text is never held back
        assert len(times) >= 3
        assert all(gap >= 0.2 for gap in gaps), gaps
    finally:
        await made.adapter.stop()


async def test_429_is_waited_out_and_the_reply_arrives(rig: Rig) -> None:
    rig.tg.fail_next(1, method="sendMessage", retry_after=1)
    await rig.roundtrip(rig.tg.message_update("/report spam", chat_id=5))
    tries = rig.tg.calls_to("sendMessage")
    assert [c.status for c in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 0.95  # retry_after was honoured
    assert rig.tg.texts(5) == ["Reported."]


# -- long replies, markup, blocked chats ---------------------------------------------------------------------
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
    made, _ = await start_rig(tg, ScriptedModel([text]), stream_edit_interval_s=0.05)
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
    made, _ = await start_rig(tg, ScriptedModel([" ".join(words)], delay=0.01), stream_edit_interval_s=0.05)
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


def _squash(text: str) -> str:
    return re.sub(r"\s+|```(python)?", "", text)
