"""What the server keeps of web conversations stays bounded: frames per conversation, conversations, buttons,
frames queued for a slow socket, and shelved files."""

from __future__ import annotations

from botkit.adapters.web.conversations import ConversationLog, Conversations, Listener
from botkit.adapters.web.files import FileShelf


def test_a_log_keeps_its_newest_frames_and_knows_what_it_dropped() -> None:
    log = ConversationLog("abc", keep=10)
    for i in range(25):
        log.publish({"type": "message", "text": str(i)})
    kept = log.attach(Listener(), 0, log.epoch)
    assert [f["seq"] for f in kept] == list(range(16, 26))
    assert log.missed(0, log.epoch)  # frames 1..15 are gone: the widget says so
    assert not log.missed(15, log.epoch)  # it saw up to 15: nothing it needs is gone
    assert log.attach(Listener(), 20, log.epoch) == kept[-5:]


def test_a_finished_stream_is_replayed_as_its_end_frame_alone() -> None:
    log = ConversationLog("abc", keep=50)
    log.publish({"type": "start", "id": "m1"})
    log.publish({"type": "delta", "id": "m1", "text": "Hel"})
    log.publish({"type": "delta", "id": "m2", "text": "other"})
    log.publish({"type": "end", "id": "m1", "text": "Hello"})
    log.compact("m1")
    kept = log.attach(Listener(), 0, log.epoch)
    assert [(f["type"], f["id"]) for f in kept] == [("delta", "m2"), ("end", "m1")]
    assert not log.missed(0, log.epoch)  # compacted frames are not missing: the end frame holds them


def test_buttons_are_remembered_up_to_a_bound() -> None:
    log = ConversationLog("abc", keep=10)
    first = log.button_token("drink:tea", "m1")
    assert log.button(first) == ("drink:tea", "m1")
    for i in range(600):
        log.button_token(f"data {i}", "m2")
    assert log.button(first) is None  # the oldest button is forgotten: "no longer available"
    assert log.button("b0-made-up") is None


def test_conversations_drop_the_least_recently_used_but_never_one_with_an_open_socket() -> None:
    conversations = Conversations(keep=10, limit=3)
    open_one = conversations.get("a")
    open_one.attach(Listener(), 0, "")
    for name in ("b", "c", "d", "e"):
        conversations.get(name)
    assert len(conversations) == 3
    assert conversations.get("a") is open_one  # still there, with its socket


async def test_a_socket_that_falls_too_far_behind_is_closed_rather_than_queued_for_ever() -> None:
    listener = Listener(limit=3)
    listener.put({"seq": 1})
    assert await listener.get() == {"seq": 1}
    for i in range(5):
        listener.put({"seq": i})
    assert listener.overflowed
    assert await listener.get() is None  # the session closes it (1013); the widget reconnects and replays


def test_the_file_shelf_keeps_the_newest_files_within_its_bytes() -> None:
    shelf = FileShelf(limit=1000)
    old = shelf.put("a.bin", "application/octet-stream", b"x" * 600)
    new = shelf.put("b.bin", "application/octet-stream", b"y" * 600)
    assert shelf.get(old) is None
    found = shelf.get(new)
    assert found is not None
    assert found.data == b"y" * 600
