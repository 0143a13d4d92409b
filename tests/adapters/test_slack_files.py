"""Slack for issue 10: messages the bot starts, files in and out, and users' languages.

Real slack-bolt / slack_sdk (``files_upload_v2`` included) against the fake Slack on 127.0.0.1, whose file
downloads need the bot token and whose uploads go through Slack's three steps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from botkit.adapters.slack import SlackAdapter
from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.adapters.slack.files import SlackFiles
from botkit.adapters.slack.format import escape, unescape
from botkit.adapters.slack.users import UserLocales
from botkit.app import APOLOGY, Bot
from botkit.config import LimitSettings, Settings, SlackSettings
from botkit.context import Context
from botkit.errors import AttachmentTooLarge, ConversationClosed
from botkit.i18n import translate
from botkit.message import Attachment, Button, Message, Reply, StreamingReply
from botkit.plugin import Plugin, on_command, on_message
from botkit.plugins.help import HEADING, HelpPlugin

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]

# A real 1x1 PNG, so the round trip carries an image's bytes, not text.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e5270ede0000000049454e44ae426082"
)
LIMIT = 1000  # limits.max_attachment_bytes in these tests


class Echo(Plugin):
    """Sends every image back as a file; says so when it is too large to read."""

    def __init__(self) -> None:
        self.seen: list[Message] = []

    @on_command("report")
    async def report(self, ctx: Context, mode: str = "") -> None:
        """A file with long text, or with buttons: the text goes in its own messages first."""
        text = ("word " * 1200).strip() if mode == "long" else "your report & summary"
        buttons = [[Button("Again", data="again")]] if mode == "buttons" else []
        file = Attachment(kind="file", name="report.csv", mime_type="text/csv", data=b"a,b\n1,2\n")
        await ctx.reply(text, buttons=buttons, files=[file])

    @on_command("slowfile")
    async def slowfile(self, ctx: Context) -> None:
        """Answers with a file after a while: the "…" placeholder shows meanwhile."""
        await asyncio.sleep(0.3)
        await ctx.reply("done", files=[Attachment(kind="file", name="slow.txt", data=b"slow")])

    @on_command("broken")
    async def broken(self, ctx: Context) -> None:
        """A file without bytes: a clear error, and nothing posted."""
        await ctx.reply("here it is", files=[Attachment(kind="file", name="ghost.txt")])

    @on_message()
    async def echo(self, ctx: Context) -> None:
        """Download each attachment and send it back."""
        assert ctx.message is not None
        self.seen.append(ctx.message)
        for attachment in ctx.message.attachments:
            try:
                data = await ctx.download(attachment)
            except AttachmentTooLarge as exc:
                await ctx.reply(f"too large: {exc}")
                continue
            kind, name, mime = attachment.kind, attachment.name, attachment.mime_type
            await ctx.reply("same picture", files=[Attachment(kind, name=name, mime_type=mime, data=data)])


async def running(fake: FakeSlackServer, **settings: Any) -> tuple[SlackAdapter, Bot, Echo]:
    config = SlackSettings.model_validate(
        {
            "bot_token": fake.bot_token,
            "signing_secret": fake.signing_secret,
            "api_base": fake.api_base,
            "port": 0,
            "typing_delay_s": 0,
            **settings,
        }
    )
    echo = Echo()
    bot = Bot([echo, HelpPlugin()], settings=Settings(limits=LimitSettings(max_attachment_bytes=LIMIT)))
    adapter = SlackAdapter(config)
    await adapter.start(bot)
    bot.attach(adapter)  # as `botkit run` does
    return adapter, bot, echo


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlackServer, SlackAdapter, Bot, Echo]]:
    async with FakeSlackServer() as fake:
        adapter, bot, echo = await running(fake)
        try:
            yield fake, adapter, bot, echo
        finally:
            await adapter.stop()


def image_event(fake: FakeSlackServer, file: dict[str, Any]) -> dict[str, Any]:
    return fake.message_event("", files=[file], subtype="file_share")


# -- files in and out -------------------------------------------------------------------------------
async def test_an_image_goes_round_trip_byte_for_byte(slack: Any) -> None:
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


async def test_a_file_over_the_limit_is_refused_before_downloading(slack: Any) -> None:
    fake, adapter, _, _ = slack
    file = fake.files.add(b"x" * (LIMIT + 1), "big.png")
    await fake.send_event(adapter.url, image_event(fake, file))
    await adapter.drain()
    [reply] = fake.messages.values()
    assert reply.text == f"too large: big.png is {LIMIT + 1:,} bytes; the limit is {LIMIT:,}"
    assert fake.files.stored[file["id"]].downloads == 0  # the declared size was enough to refuse it
    assert fake.files.uploads == []


async def test_a_file_that_lies_about_its_size_stops_at_the_limit(slack: Any) -> None:
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
    slack: Any, words: str, messages: list[str], comment: str | None
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
    async with FakeSlackServer() as fake:
        adapter, _, _ = await running(fake, typing_delay_s=0.05)
        try:
            await fake.send_event(adapter.url, fake.message_event("/slowfile"))
            await adapter.drain()
        finally:
            await adapter.stop()
        [message] = fake.messages.values()
        assert [unescape(t) for t in message.texts] == ["\u2026", "done"]
        [uploaded] = fake.files.uploads
        assert (uploaded.data, uploaded.initial_comment) == (b"slow", None)


async def test_a_slash_command_answers_through_its_response_url_and_files_go_to_the_channel(
    slack: Any,
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
    slack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake, adapter, _, _ = slack
    await fake.send_event(adapter.url, fake.message_event("/broken"))
    await adapter.drain()
    assert "'ghost.txt' has no bytes to send" in caplog.text
    [apology] = fake.messages.values()  # the bot's usual apology, and no half reply before it
    assert apology.text.startswith(APOLOGY)
    assert [c.method for c in fake.calls if c.method.startswith("files.")] == []


# -- messages the bot starts ------------------------------------------------------------------------
async def test_send_to_posts_in_the_thread_whole_and_streamed(slack: Any) -> None:
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
async def test_send_to_a_closed_channel_raises_and_marks_the_conversation(slack: Any, error: str) -> None:
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


async def test_send_to_other_failures_are_not_a_closed_conversation(slack: Any) -> None:
    fake, _, bot, _ = slack
    fake.failing["chat.postMessage"] = "fatal_error"
    with pytest.raises(SlackApiError, match="fatal_error"):
        await bot.send_to("slack:C0001", Reply("hello"))
    assert "closed" not in await bot.store.get_state("slack:C0001")


# -- languages --------------------------------------------------------------------------------------
async def test_the_users_locale_is_looked_up_once_and_chooses_botkits_texts(slack: Any) -> None:
    fake, adapter, _, echo = slack
    fake.add_user("U0001", locale="zh-CN")
    for text in ("hello", "again"):
        await fake.send_event(adapter.url, fake.message_event(text))
        await adapter.drain()
    assert [m.author.language for m in echo.seen] == ["zh-CN", "zh-CN"]
    [lookup] = fake.calls_to("users.info")
    assert lookup.params == {"user": "U0001", "include_locale": "1"}
    await fake.send_event(adapter.url, fake.message_event("/help"))
    await adapter.drain()
    [help_text] = [m.text for m in fake.messages.values()]
    assert help_text.startswith(translate(HEADING, "zh"))
    assert translate(HEADING, "zh") != HEADING


async def test_a_failed_lookup_leaves_the_language_unknown_and_is_not_repeated(slack: Any) -> None:
    fake, adapter, _, echo = slack
    fake.failing["users.info"] = "missing_scope"
    for text in ("hello", "again"):
        await fake.send_event(adapter.url, fake.message_event(text))
        await adapter.drain()
    assert [(m.text, m.author.language) for m in echo.seen] == [("hello", None), ("again", None)]
    assert len(fake.calls_to("users.info", ok=False)) == 1


async def test_a_slow_lookup_never_holds_the_message_back(slack: Any) -> None:
    fake, adapter, _, echo = slack
    fake.delays["users.info"] = 1.5  # the fake's stop waits for this answer: keep it short
    assert adapter._locales is not None
    adapter._locales.timeout_s = 0.1
    started = time.monotonic()
    await fake.send_event(adapter.url, fake.message_event("hello"))
    await adapter.drain()
    assert time.monotonic() - started < 1.0
    assert [(m.text, m.author.language) for m in echo.seen] == [("hello", None)]


async def test_a_slow_lookup_does_not_let_a_later_message_overtake(slack: Any) -> None:
    fake, adapter, _, echo = slack
    await fake.send_event(adapter.url, fake.message_event("known", user="U0002"))
    await adapter.drain()  # U0002's locale is known from now on
    fake.delays["users.info"] = 0.3  # U0001's lookup is slow
    await fake.send_event(adapter.url, fake.message_event("first", user="U0001"))
    await fake.send_event(adapter.url, fake.message_event("second", user="U0002"))
    await adapter.drain()
    assert [(m.text, m.author.id) for m in echo.seen] == [
        ("known", "U0002"),
        ("first", "U0001"),
        ("second", "U0002"),
    ]
    assert [m.author.language for m in echo.seen] == ["en-US"] * 3


async def test_the_locale_cache_is_bounded() -> None:
    async with FakeSlackServer() as fake, aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_base, session=session)
        locales = UserLocales(client, size=2)
        fake.add_user("U1", locale="zh-CN")
        for user in ("U1", "U2", "U1", "U3", "U2"):  # U2 is the least recently seen when U3 comes
            await locales.locale(user)
        assert [c.params["user"] for c in fake.calls_to("users.info")] == ["U1", "U2", "U3", "U2"]
        assert locales.cached("U1") == (False, None)  # forgotten in turn, when U2 came back
        assert locales.cached("U3") == (True, "en-US")
