"""Slack messages the bot starts: ``Bot.send_to`` through the real adapter to the fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError

from botkit.errors import ConversationClosed
from botkit.message import Attachment, Reply, StreamingReply
from tests.adapters.slack_harness import EchoSlack, echo_slack

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]


@pytest.fixture
async def slack() -> AsyncIterator[EchoSlack]:
    async with echo_slack() as running:
        yield running


# -- messages the bot starts ------------------------------------------------------------------------
async def test_send_to_posts_in_the_thread_whole_and_streamed(slack: EchoSlack) -> None:
    fake, _, bot, _ = slack
    thread = "1700000000.000100"
    await bot.send_to("slack:C0001", Reply("An agent answered ticket 42 & more."), thread_id=thread)

    async def deltas() -> AsyncIterator[str]:
        for word in ("still ", "on ", "it"):
            yield word

    await bot.send_to("slack:C0001", StreamingReply(deltas()), thread_id=thread)
    await bot.send_to("slack:C0002", Reply("top level"))
    shown = [m.text for m in fake.thread("C0001", thread)]
    assert shown == ["An agent answered ticket 42 & more.", "still on it"]
    assert [m.text for m in fake.thread("C0002", None)] == ["top level"]
    file = Attachment(kind="file", name="notes.txt", data=b"notes")
    await bot.send_to("slack:C0001", Reply("notes", files=[file]), thread_id=thread)
    [uploaded] = fake.files.uploads
    assert (uploaded.channel, uploaded.thread_ts, uploaded.data) == ("C0001", thread, b"notes")


@pytest.mark.parametrize("error", ["is_archived", "channel_not_found", "not_in_channel", "account_inactive"])
async def test_send_to_a_closed_channel_raises_and_marks_the_conversation(
    slack: EchoSlack, error: str
) -> None:
    fake, _, bot, _ = slack
    fake.close_channel("C0999", error)
    with pytest.raises(ConversationClosed) as raised:
        await bot.send_to("slack:C0999", Reply("anyone there?"), thread_id="1.2")
    assert (raised.value.key, raised.value.reason) == ("slack:C0999", error)
    assert (await bot.store.get_state("slack:C0999"))["closed"] == {"reason": error}
    assert fake.messages == {}
    with pytest.raises(ConversationClosed):  # files too: files.completeUploadExternal refuses the same way
        await bot.send_to("slack:C0999", Reply("", files=[Attachment(kind="file", name="a.txt", data=b"a")]))
    assert fake.files.uploads == []


async def test_send_to_other_failures_are_not_a_closed_conversation(slack: EchoSlack) -> None:
    fake, _, bot, _ = slack
    fake.failing["chat.postMessage"] = "fatal_error"
    with pytest.raises(SlackApiError, match="fatal_error"):
        await bot.send_to("slack:C0001", Reply("hello"))
    assert "closed" not in await bot.store.get_state("slack:C0001")
