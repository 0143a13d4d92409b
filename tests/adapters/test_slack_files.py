"""Slack files in and out: real slack_sdk (``files_upload_v2`` included) against the fake Slack, whose file
downloads need the bot token and whose uploads go through Slack's three steps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.adapters.slack.files import SlackFiles
from botkit.adapters.slack.format import escape, unescape
from botkit.app import APOLOGY
from tests.adapters.slack_harness import LIMIT, PNG, EchoSlack, echo_slack

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]


@pytest.fixture
async def slack() -> AsyncIterator[EchoSlack]:
    async with echo_slack() as running:
        yield running


def image_event(fake: FakeSlackServer, file: dict[str, Any]) -> dict[str, Any]:
    return fake.message_event("", files=[file], subtype="file_share")


# -- files in and out -------------------------------------------------------------------------------
async def test_an_image_goes_round_trip_byte_for_byte(slack: EchoSlack) -> None:
    fake, adapter, _, echo = slack
    file = fake.files.add(PNG, "cat.png")
    await fake.send_event(adapter.url, image_event(fake, file))
    await adapter.drain()
    [seen] = echo.seen
    [attachment] = seen.attachments
    assert (attachment.kind, attachment.name, attachment.size) == ("image", "cat.png", len(PNG))
    [uploaded] = fake.files.uploads
    assert uploaded.data == PNG
    assert (uploaded.name, uploaded.channel, uploaded.thread_ts) == ("cat.png", "D0001", None)
    assert uploaded.initial_comment == "same picture"
    assert fake.files.stored[file["id"]].downloads == 1
    assert fake.files.refused_downloads == 0
    steps = [c.method for c in fake.calls if c.method.startswith("files.")]
    assert steps == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert fake.messages == {}  # the text travelled as the file's comment, not as a message of its own


async def test_a_file_over_the_limit_is_refused_before_downloading(slack: EchoSlack) -> None:
    fake, adapter, _, _ = slack
    file = fake.files.add(b"x" * (LIMIT + 1), "big.png")
    await fake.send_event(adapter.url, image_event(fake, file))
    await adapter.drain()
    [reply] = fake.messages.values()
    assert reply.text == f"too large: big.png is {LIMIT + 1:,} bytes; the limit is {LIMIT:,}"
    assert fake.files.stored[file["id"]].downloads == 0  # the declared size was enough to refuse it
    assert fake.files.uploads == []


async def test_a_file_that_lies_about_its_size_stops_at_the_limit(slack: EchoSlack) -> None:
    fake, adapter, _, _ = slack
    file = fake.files.add(b"y" * (200 * 1024), "liar.png", size=10, chunked=True)
    await fake.send_event(adapter.url, image_event(fake, file))
    await adapter.drain()
    [reply] = fake.messages.values()
    assert reply.text.startswith("too large: liar.png is ")
    read = int(reply.text.split(" is ")[1].split(" bytes")[0].replace(",", ""))
    assert LIMIT < read < 200 * 1024  # abandoned at the first chunk past the limit, not read to the end
    assert fake.files.uploads == []


async def test_downloads_need_the_bot_token_and_a_slack_host() -> None:
    async with FakeSlackServer() as fake, aiohttp.ClientSession() as session:
        file = fake.files.add(PNG, "cat.png")
        url = file["url_private_download"]
        with pytest.raises(PermissionError, match="files:read"):
            await SlackFiles(session, "xoxb-wrong", fake.api_base).download(url, "cat.png", LIMIT)
        assert fake.files.refused_downloads == 1  # Slack's answer: a redirect to its sign-in page
        right = SlackFiles(session, fake.bot_token, fake.api_base)
        assert await right.download(url, "cat.png", LIMIT) == PNG
        with pytest.raises(PermissionError, match="not on a Slack file host"):
            await right.download("https://files.slack.com.example.org/x.png", "x.png", LIMIT)
        assert right.trusted("https://files.slack.com/files-pri/T1-F1/download/x.png")
        assert not right.trusted("http://files.slack.com/files-pri/T1-F1/download/x.png")
        with pytest.raises(LookupError, match="no longer on Slack"):
            await right.download(url.replace(file["id"], "F9999999"), "gone.png", LIMIT)
        assert fake.files.stored[file["id"]].downloads == 1


@pytest.mark.parametrize(
    ("words", "messages", "comment"),
    [
        ("", [], "your report & summary"),
        ("long", ["word word"] * 2, None),
        ("buttons", ["your report & summary"], None),
    ],
)
async def test_files_out_with_text_that_fits_is_long_or_has_buttons(
    slack: EchoSlack, words: str, messages: list[str], comment: str | None
) -> None:
    fake, adapter, _, _ = slack
    mention = fake.message_event(f"<@{fake.bot_user_id}> /report {words}".strip(), channel="C0001", im=False)
    await fake.send_event(adapter.url, mention)
    await adapter.drain()
    ts = mention["event"]["ts"]
    [uploaded] = fake.files.uploads
    assert (uploaded.data, uploaded.channel, uploaded.thread_ts) == (b"a,b\n1,2\n", "C0001", ts)
    assert uploaded.initial_comment == (escape(comment) if comment else None)  # Slack's escaping, checked
    posted = fake.thread("C0001", ts)
    assert [m.text[: len(start)] for m, start in zip(posted, messages, strict=False)] == messages
    assert len(posted) == len(messages)
    if words == "long":
        assert " ".join(m.text for m in posted) == ("word " * 1200).strip()
    if words == "buttons":
        assert posted[0].blocks is not None


async def test_a_slow_answer_with_a_file_replaces_the_typing_placeholder() -> None:
    async with echo_slack(typing_delay_s=0.05) as (fake, adapter, _, _):
        await fake.send_event(adapter.url, fake.message_event("/slowfile"))
        await adapter.drain()
        [message] = fake.messages.values()
        assert [unescape(t) for t in message.texts] == ["\u2026", "done"]
        [uploaded] = fake.files.uploads
        assert (uploaded.data, uploaded.initial_comment) == (b"slow", None)


async def test_a_slash_command_answers_through_its_response_url_and_files_go_to_the_channel(
    slack: EchoSlack,
) -> None:
    fake, adapter, _, _ = slack
    form = {
        "command": "/report",
        "text": "",
        "channel_id": "C0001",
        "channel_name": "general",
        "user_id": "U0001",
        "response_url": fake.response_url("cmd"),
        "trigger_id": "t1",
    }
    status, _ = await fake.send_command(adapter.url, form)
    await adapter.drain()
    assert status == 200
    assert [(r["name"], unescape(r["text"])) for r in fake.responses] == [("cmd", "your report & summary")]
    [uploaded] = fake.files.uploads
    assert (uploaded.channel, uploaded.thread_ts, uploaded.initial_comment) == ("C0001", None, None)


async def test_a_file_without_bytes_is_refused_before_anything_is_posted(
    slack: EchoSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake, adapter, _, _ = slack
    await fake.send_event(adapter.url, fake.message_event("/broken"))
    await adapter.drain()
    assert "'ghost.txt' has no bytes to send" in caplog.text
    [apology] = fake.messages.values()  # the bot's usual apology, and no half reply before it
    assert apology.text.startswith(APOLOGY)
    assert [c.method for c in fake.calls if c.method.startswith("files.")] == []
