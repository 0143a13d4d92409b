"""The Telegram adapter end to end, receiving: messages, streamed replies, commands, buttons, groups,
robustness, and every documented payload replayed; real python-telegram-bot against the fake Bot API.

Sending (splitting, markup, 429s, throttling) is in test_telegram_sending.py; the webhook, settings and
secrets are in test_telegram_webhook.py; what they share is in telegram_harness.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.message import Event, Message, Reply
from botkit.plugins.chat import ATTACHMENTS_ONLY
from botkit.testing import ScriptedModel
from tests.adapters import corpus
from tests.adapters.telegram_harness import (
    Rig,
    rig_fixture,  # noqa: F401  (the ``rig`` fixture)
    start_rig,
    tg_fixture,  # noqa: F401  (the ``tg`` fixture)
)

pytestmark = [pytest.mark.timeout(30)]


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
    made, _ = await start_rig(tg, ScriptedModel(), group_mode="all")
    try:
        await made.roundtrip(tg.message_update("anyone?", chat_id=-100600, chat_type="group"))
        assert made.probe.names() == ["chat"]
        assert tg.texts(-100600) == ["echo: anyone?"]
    finally:
        await made.adapter.stop()


# -- duplicates, bad updates, failures, stopping -------------------------------------------------------------
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


async def test_failing_model_gets_an_apology(tg: FakeTelegramServer) -> None:
    class Broken(ScriptedModel):
        async def stream(self, messages: Any, params: Any, *, key: str | None = None) -> AsyncIterator[str]:
            yield "Half a"
            raise RuntimeError("model crashed")

    made, _ = await start_rig(tg, Broken())
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
    made, _ = await start_rig(tg, ScriptedModel())
    update = tg.message_update("/start", chat_id=15)
    await tg.wait_confirmed(update["update_id"])
    await made.adapter.stop()  # right after the fetch: the reply must still go out
    assert tg.texts(15) == ["Welcome!"]
    assert made.adapter._poller is None
    assert made.adapter._intake.pending == 0
    final = tg.calls_to("getUpdates")[-1]  # fetched updates are confirmed: a restart won't redo them
    assert int(final.params["offset"]) == update["update_id"] + 1
    assert int(final.params["timeout"]) == 0


# -- payloads: the repository's fixtures, and the shared corpus where it is checked out -------------------
FIXTURES = corpus.fixtures("telegram")
GROUP = -1009876543210  # the fixtures' forum supergroup


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
    """An attachment with no text reaches the plugins; the chat plugin says the model reads text only."""

    def check(r: Rig) -> None:
        assert r.probe.seen == []  # the probe's chat handler takes only text
        assert r.model.calls == []
        assert r.tg.texts(chat_id) == [ATTACHMENTS_ONLY.format(kinds=kind)]

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


def _group_mention(r: Rig) -> None:
    chat("how are you?", GROUP)(r)
    (sent,) = r.tg.sent(GROUP)
    assert sent.params["reply_parameters"]["message_id"] == 14  # quoted, so the group sees what it answers


def _reply_to_bot(r: Rig) -> None:
    chat("and in Lisbon?", GROUP)(r)
    assert r.message().addressed
    assert r.message().reply_to == "9"


def _button(r: Rig) -> None:
    assert r.probe.names() == ["button"]
    assert (r.event().data, r.event().author.id, r.event().message_id) == ("answer:yes", "4242", "18")
    assert [c.params["callback_query_id"] for c in r.tg.calls_to("answerCallbackQuery")] == ["8800112233"]
    assert r.tg.texts(4242) == ["You chose answer:yes"]
    assert r.model.calls == []


def _topic_command(r: Rig) -> None:
    command("report", GROUP, reply="Reported.")(r)
    (sent,) = r.tg.sent(GROUP)
    assert int(sent.params["message_thread_id"]) == 77
    assert sent.params["reply_parameters"]["message_id"] == 19
    assert r.message().thread_id == "77"


FIXTURE_CHECKS: dict[str, Callable[[Rig], Any]] = {
    "tg_text_private": chat("what can you do?", 4242),
    "tg_command_private": command("start", 4242, reply="Welcome!"),
    "tg_command_for_another_bot": ignored,
    "tg_group_mention": _group_mention,
    "tg_group_chatter": ignored,
    "tg_group_reply_to_bot": _reply_to_bot,
    "tg_edited_message": ignored,
    "tg_callback_button": _button,
    "tg_topic_command": _topic_command,
    "tg_own_message": ignored,
    "tg_photo_without_caption": notice("image", 4242),
    "tg_bot_added_to_group": event("join", "member", "555000111"),
    "tg_unknown_update": ignored,
    "tg_malformed_message": ignored,
}

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


async def _replay(rig: Rig, entry: dict[str, Any], checks: dict[str, Callable[[Rig], Any]]) -> None:
    check = checks.get(entry["name"])
    assert check is not None, f"no expectation coded for payload {entry['name']}: {entry['expect']}"
    await rig.roundtrip(json.loads(json.dumps(entry["payload"])))
    outcome = check(rig)
    if asyncio.iscoroutine(outcome):
        await outcome


def test_every_fixture_has_a_check() -> None:
    assert sorted(FIXTURE_CHECKS) == sorted(FIXTURES)


@pytest.mark.parametrize("name", sorted(FIXTURES))
async def test_fixture_payload(name: str, rig: Rig) -> None:
    await _replay(rig, FIXTURES[name], FIXTURE_CHECKS)


@pytest.mark.parametrize("name", corpus.shared_params("telegram"))
async def test_shared_payload(name: str | None, rig: Rig) -> None:
    await _replay(rig, corpus.require("telegram", name), CHECKS)


@pytest.mark.parametrize("present", corpus.whole_params("telegram"))
def test_every_shared_payload_has_a_check(present: str | None) -> None:
    assert sorted(CHECKS) == sorted(corpus.require_all("telegram", present))


async def test_edited_message_handled_when_configured(tg: FakeTelegramServer) -> None:
    made, _ = await start_rig(tg, ScriptedModel(), edited_messages="handle")
    try:
        await made.roundtrip(json.loads(json.dumps(FIXTURES["tg_edited_message"]["payload"])))
        message = made.probe.seen[0][1]
        assert isinstance(message, Message)
        assert message.edited
        assert message.id == "17"
        assert tg.texts(4242) == ["echo: what can you do, exactly?"]
    finally:
        await made.adapter.stop()


@pytest.mark.parametrize("name", corpus.shared_params("telegram", "tg_edited_message_official"))
async def test_shared_edited_message_handled_when_configured(
    name: str | None, tg: FakeTelegramServer
) -> None:
    entry = corpus.require("telegram", name)
    made, _ = await start_rig(tg, ScriptedModel(), edited_messages="handle")
    try:
        await made.roundtrip(json.loads(json.dumps(entry["payload"])))
        message = made.probe.seen[0][1]
        assert isinstance(message, Message)
        assert message.edited
        assert message.id == "1365"
        assert tg.texts(1111111) == ["echo: Edited text"]
    finally:
        await made.adapter.stop()
