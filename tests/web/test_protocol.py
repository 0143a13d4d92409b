"""The widget's protocol against a real server: a uvicorn socket, the websockets client, the shop bot.

What a visitor sees: a streamed reply arrives delta by delta; buttons press; a message sent while the
socket was down arrives when it comes back; a resend is not handled twice; bad frames get an error frame
and the chat goes on.
"""

from __future__ import annotations

import pytest

from botkit.message import Reply
from tests.web.conftest import Served
from tests.web.support import STORY, ChatClient, bot_text


async def test_a_reply_streams_delta_by_delta_with_typing_first(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    welcome = await client.hello(lang="en")
    assert welcome["conversation"].startswith("web:")
    client_id = await client.say("story please")
    end = await client.wait(lambda f: f["type"] == "end")
    frames = client.frames
    echo = next(f for f in frames if f["type"] == "message")
    assert (echo["from"], echo["text"], echo["client_id"]) == ("visitor", "story please", client_id)
    after = frames[frames.index(echo) + 1 :]
    # The indicator shows until the first words come.
    assert after[:3] == [{"type": "typing", "on": True}, {"type": "typing", "on": False}, after[2]]
    assert after[2]["type"] == "start"
    deltas = [f["text"] for f in frames if f["type"] == "delta"]
    assert len(deltas) == len(STORY)  # each word went out as it was written, not the whole at the end
    assert "".join(deltas) == end["text"] == "Once upon a time."
    numbers = [f["seq"] for f in frames if "seq" in f]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
    assert served.shop.handled == ["story please"]
    await client.close()


async def test_buttons_press_as_button_events_and_only_safe_links_pass(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    await client.hello()
    await client.say("menu")
    menu = await client.wait(lambda f: bot_text(f) == "What would you like?")
    drinks, links = menu["buttons"]
    assert [b["label"] for b in drinks] == ["Tea", "Coffee"]
    assert all("data" not in b and b["token"] for b in drinks)  # the data stays on the server
    assert links == [{"label": "Docs", "url": "https://example.com/docs"}]  # the javascript: link is dropped
    await client.send({"type": "button", "client_id": "press-1", "token": drinks[0]["token"]})
    ack = await client.wait(lambda f: f["type"] == "ack")
    assert ack == {"type": "ack", "client_id": "press-1", "duplicate": False}
    chosen = await client.wait(lambda f: bot_text(f) is not None)
    assert bot_text(chosen) == "You chose drink:tea"
    await client.send({"type": "button", "client_id": "press-2", "token": "b9-forged"})
    error = await client.wait(lambda f: f["type"] == "error")
    assert error["code"] == "button_gone"
    assert served.shop.handled == ["menu", "button:drink:tea"]
    await client.close()


async def test_a_message_sent_while_the_socket_was_down_arrives_after_it_comes_back(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    welcome = await client.hello()
    await client.say("hello")
    await client.wait(lambda f: bot_text(f) == "You said: hello")
    seen = client.last_seq
    await client.close()

    conversation = welcome["conversation"]
    shipped_id = await served.bot.send_to(conversation, Reply("Your order has shipped."))
    sent_id = await served.adapter.send_to(conversation.removeprefix("web:"), Reply("And it arrives today."))
    assert sent_id is not None
    assert sent_id.startswith("m")

    back = await ChatClient.open(served.ws)
    again = await back.hello(visitor=welcome["visitor"], last_seq=seen, epoch=welcome["epoch"])
    assert again["conversation"] == conversation
    first = await back.wait(lambda f: "seq" in f)
    second = await back.wait(lambda f: "seq" in f)
    assert [bot_text(first), bot_text(second)] == ["Your order has shipped.", "And it arrives today."]
    assert (first["id"], second["id"]) == (shipped_id, sent_id)  # send_to names the message it sent
    assert first["seq"] == seen + 1  # nothing seen before was sent again
    await back.close()


async def test_a_reconnect_in_the_middle_of_a_stream_gets_the_rest_of_it(served: Served) -> None:
    served.shop.gate.clear()  # the story stops after two words
    client = await ChatClient.open(served.ws)
    welcome = await client.hello()
    await client.say("story")
    await client.wait(lambda f: f["type"] == "delta" and f["text"] == STORY[1])
    seen = client.last_seq
    await client.close()
    served.shop.gate.set()  # the bot writes the rest while nobody listens
    await served.adapter.drain(10)

    back = await ChatClient.open(served.ws)
    await back.hello(visitor=welcome["visitor"], last_seq=seen, epoch=welcome["epoch"])
    end = await back.wait(lambda f: f["type"] == "end")
    assert end["text"] == "Once upon a time."  # the end frame carries the whole reply
    # A fresh page (no transcript yet) gets the finished reply as one frame, not its deltas.
    fresh = await ChatClient.open(served.ws)
    await fresh.hello(visitor=welcome["visitor"])
    end_again = await fresh.wait(lambda f: f["type"] == "end")
    assert end_again["text"] == "Once upon a time."
    assert not [f for f in fresh.frames if f["type"] in ("start", "delta")]
    await back.close()
    await fresh.close()


async def test_a_resent_message_is_acknowledged_but_not_handled_twice(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    welcome = await client.hello()
    await client.say("only once", client_id="c-dup")
    await client.wait(lambda f: bot_text(f) == "You said: only once")
    await client.close()

    back = await ChatClient.open(served.ws)
    await back.hello(visitor=welcome["visitor"], last_seq=client.last_seq, epoch=welcome["epoch"])
    await back.say("only once", client_id="c-dup")  # the widget resends what it was not sure of
    ack = await back.wait(lambda f: f["type"] == "ack")
    assert ack == {"type": "ack", "client_id": "c-dup", "duplicate": True}
    await back.say("next")
    await back.wait(lambda f: bot_text(f) == "You said: next")
    assert served.shop.handled == ["only once", "next"]
    await back.close()


@pytest.mark.parametrize("served", [{"history_frames": 10}], indirect=True)
async def test_another_epoch_replays_everything_kept_and_a_trimmed_log_says_so(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    welcome = await client.hello()
    for i in range(6):  # 6 exchanges of 2 numbered frames each: more than history_frames = 10 keeps
        await client.say(f"n{i}")
        await client.wait(lambda f, i=i: bot_text(f) == f"You said: n{i}")
    await client.close()
    back = await ChatClient.open(served.ws)
    again = await back.hello(visitor=welcome["visitor"], last_seq=3, epoch="an-old-epoch")
    assert again["missed"] is True  # the widget tells the visitor earlier messages are gone
    await back.wait(lambda f: bot_text(f) == "You said: n5")
    replayed = [f for f in back.frames if "seq" in f]
    assert len(replayed) == 10
    assert replayed[-1]["seq"] == again["last_seq"]
    await back.close()


async def test_oversized_malformed_and_binary_frames_get_error_frames_and_the_chat_goes_on(
    served: Served,
) -> None:
    client = await ChatClient.open(served.ws)
    await client.hello()
    await client.say("x" * 2000)  # the limit in these tests is 1024 bytes
    too_large = await client.wait(lambda f: f["type"] == "error")
    assert too_large["code"] == "too_large"
    assert "1024 bytes" in too_large["message"]
    await client.socket.send("{not json")
    bad_json = await client.wait(lambda f: f["type"] == "error")
    assert bad_json["code"] == "bad_json"
    await client.socket.send(b"\x00\x01")
    binary = await client.wait(lambda f: f["type"] == "error")
    assert binary["code"] == "bad_frame"
    assert "binary" in binary["message"]
    await client.send({"type": "message", "client_id": "c9", "text": 42})
    wrong_type = await client.wait(lambda f: f["type"] == "error")
    assert wrong_type["code"] == "bad_frame"
    assert "message.text must be a string" in wrong_type["message"]
    await client.say("still here?")
    await client.wait(lambda f: bot_text(f) == "You said: still here?")
    assert served.shop.handled == ["still here?"]  # nothing refused reached the bot
    await client.close()


async def test_frames_before_hello_are_refused_until_hello_comes(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    await client.say("too early")
    early = await client.wait(lambda f: f["type"] == "error")
    assert early["code"] == "hello_first"
    await client.hello()
    await client.say("now")
    await client.wait(lambda f: bot_text(f) == "You said: now")
    assert served.shop.handled == ["now"]
    await client.close()


async def test_a_visitor_who_reconnects_while_the_bot_thinks_sees_it_typing(served: Served) -> None:
    served.shop.gate.clear()
    client = await ChatClient.open(served.ws)
    welcome = await client.hello()
    await client.say("ponder this")
    await client.wait(lambda f: f == {"type": "typing", "on": True})
    await client.close()
    back = await ChatClient.open(served.ws)
    again = await back.hello(visitor=welcome["visitor"], last_seq=client.last_seq, epoch=welcome["epoch"])
    assert again["typing"] is True  # the bot is still working on the answer
    served.shop.gate.set()
    await back.wait(lambda f: f == {"type": "typing", "on": False})  # hidden as the answer comes
    answer = await back.wait(lambda f: bot_text(f) is not None)
    assert bot_text(answer) == "Done pondering."
    await back.close()
