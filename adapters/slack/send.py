"""Sending replies to Slack: chat.postMessage / chat.update in a thread, or a ``response_url``.

A streamed reply starts as a placeholder message (Slack has no typing indicator for bots in the Events API,
so the placeholder is the indicator) that ``chat.update`` grows at most once per ``stream_interval_s``;
text past one message's limit continues in a new message of the same thread. A reply's files are uploaded
into the same thread (:mod:`botkit.adapters.slack.files`), the text above them as their comment when it fits
one message and has no buttons.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from botkit.adapters.slack.files import check_uploadable, upload
from botkit.adapters.slack.format import PLACEHOLDER, SECTION_LIMIT, TEXT_LIMIT, message_blocks, split_escaped
from botkit.adapters.text import throttled
from botkit.errors import ConversationClosed
from botkit.message import Button, Event, Incoming, Reply, StreamingReply
from botkit.platform_settings import SlackSettings

log = logging.getLogger("botkit.adapters.slack")

# Slack overloaded or restarting answers 5xx without doing the call: retried this often, the pauses
# doubling from 0.5 s (about 30 s in all), so a reply outlives a short outage instead of being dropped.
SERVER_ERROR_RETRIES = 6
SERVER_ERRORS = frozenset({500, 502, 503, 504})
STILL_TYPING = " " + PLACEHOLDER  # appended to intermediate states of a streamed reply
# Web API errors that mean the bot may no longer write to a channel.
CLOSED_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "account_inactive"})


def web_client(
    settings: SlackSettings, session: aiohttp.ClientSession, logger: logging.Logger
) -> AsyncWebClient:
    """The Web API client: the bot token, connection errors retried twice, HTTP 429 waited out, 5xx
    answers retried for about 30 s."""
    assert settings.bot_token is not None  # the adapter checked its settings
    retry: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=settings.rate_limit_retries),
        ServerErrorRetry(),
    ]
    return AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_base or AsyncWebClient.BASE_URL,
        session=session,
        logger=logger,
        retry_handlers=retry,
    )


class ServerErrorRetry(AsyncServerErrorRetryHandler):
    """Retries a call Slack answered with a 5xx (slack_sdk's own handler knows only 500 and 503)."""

    def __init__(self) -> None:
        super().__init__(SERVER_ERROR_RETRIES, BackoffRetryIntervalCalculator(backoff_factor=0.5))

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in SERVER_ERRORS


@dataclass(frozen=True)
class ChannelTarget:
    """Post with the bot token into ``channel`` (under ``thread_ts`` when set)."""

    channel: str
    thread_ts: str | None = None


@dataclass(frozen=True)
class HookTarget:
    """Answer through a slash command's or button press's ``response_url``.

    A response URL takes no files: a reply's files go to ``channel`` (where the command was typed).
    """

    url: str
    response_type: Literal["in_channel", "ephemeral"] = "in_channel"
    channel: str = ""


@dataclass
class _Posted:
    ts: str
    text: str
    has_blocks: bool = False


@dataclass
class SlackSender:
    """Turns botkit replies into Web API calls.

    Attributes:
        client: the Web API client (its retry handlers wait out HTTP 429; response URLs use them too).
        session: the HTTP session response URLs are posted with.
        stream_interval_s: least time between two edits of a streamed message.
        bot_threads: ``channel:ts`` of threads the bot posted in; the adapter reads it to know which
            thread replies address the bot.
    """

    client: AsyncWebClient
    session: aiohttp.ClientSession
    stream_interval_s: float = 1.0
    logger: logging.Logger = log
    bot_threads: set[str] = field(default_factory=set)
    # key -> the "…" placeholder shown (or about to be) while its reply is made, until a reply claims it
    _typing: dict[int, _Placeholder] = field(default_factory=dict, init=False, repr=False)

    async def send(
        self, target: ChannelTarget | HookTarget, reply: Reply | StreamingReply, key: int | None = None
    ) -> str | None:
        """Send ``reply`` to ``target``; a streamed reply to a response URL is sent once, when complete.

        ``key`` names the incoming message being answered: when :meth:`typing` showed a "…" placeholder
        for it, the reply replaces the placeholder instead of adding a message. Returns the ``ts`` of the
        (first) message posted in a channel; None for a response URL or a files-only upload.
        """
        files = reply.files if isinstance(reply, Reply) else ()
        check_uploadable(files)  # before anything is posted: a bad file must not leave half a reply
        if files and isinstance(target, HookTarget) and not target.channel:
            raise ValueError("slack: this answer goes through a response URL, which takes no files")
        showing = self._typing.pop(key, None) if key is not None else None
        placeholder = await showing.claim() if showing is not None else None
        posted = [_Posted(placeholder, PLACEHOLDER)] if placeholder else []
        if isinstance(target, HookTarget):
            if isinstance(reply, StreamingReply):
                async for _ in reply:  # a response_url message cannot be edited reliably: send it whole
                    pass
            if reply.text or reply.buttons or not files:
                await self._hook(target, reply.text, reply.buttons)
            if files:
                await upload(self.client, target.channel, None, files)
            return None
        if isinstance(reply, StreamingReply):
            await self._stream(target, reply, posted)
        elif files:
            await self._with_files(target, reply, posted)
        else:
            await self._sync(target, posted, _chunks(reply.text, reply.buttons), reply.buttons)
        return posted[0].ts if posted else None

    async def _with_files(self, target: ChannelTarget, reply: Reply, posted: list[_Posted]) -> None:
        """The text as the files' comment when it fits one plain message, else its own messages first."""
        chunks = _chunks(reply.text, reply.buttons)
        comment: str | None = None
        if not posted and not reply.buttons and len(chunks) <= 1:
            comment = chunks[0] if chunks else None
        else:  # a "…" placeholder takes the text (or goes); buttons need a message of their own
            await self._sync(target, posted, chunks, reply.buttons)
        await upload(self.client, target.channel, target.thread_ts, reply.files, comment)
        self._remember_thread(target.channel, target.thread_ts)

    async def send_to(self, channel: str, thread_ts: str | None, reply: Reply | StreamingReply) -> str | None:
        """Send ``reply`` to ``channel`` (in thread ``thread_ts``) unprompted; the first message's ``ts``.

        Raises:
            ConversationClosed: Slack refused with one of :data:`CLOSED_ERRORS`.
        """
        try:
            return await self.send(ChannelTarget(channel, thread_ts), reply)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in CLOSED_ERRORS:
                raise ConversationClosed(f"slack:{channel}", error) from exc
            raise

    @contextlib.asynccontextmanager
    async def typing(self, target: ChannelTarget | HookTarget, key: int, delay: float) -> AsyncIterator[None]:
        """Show "…" in ``target`` if the reply to ``key`` takes longer than ``delay``; the reply replaces it.

        Streamed replies start with a placeholder anyway; this covers handlers that answer in one piece
        after a slow model call. Nothing is posted for quick answers, and an unused placeholder is deleted.
        """
        if not isinstance(target, ChannelTarget) or delay <= 0:
            yield
            return
        showing = _Placeholder(delay, lambda: self._post(target, PLACEHOLDER, None))
        self._typing[key] = showing
        try:
            yield
        finally:
            if self._typing.get(key) is showing:  # no reply claimed it: nothing was said
                del self._typing[key]
                unused = await showing.claim()
                if unused is not None:  # take the indicator away
                    await self.client.chat_delete(channel=target.channel, ts=unused)
            await asyncio.gather(showing.task, return_exceptions=True)

    async def _stream(self, target: ChannelTarget, reply: StreamingReply, posted: list[_Posted]) -> None:
        limit = SECTION_LIMIT if reply.buttons else TEXT_LIMIT
        if not posted:
            posted.append(await self._post(target, PLACEHOLDER, None))
        finished = False
        try:
            async for text in throttled(reply.__aiter__(), self.stream_interval_s):
                if not reply.done:
                    await self._sync(target, posted, split_escaped(text + STILL_TYPING, limit), ())
            await self._sync(target, posted, _chunks(reply.text, reply.buttons), reply.buttons)
            finished = True
        finally:
            if not finished:  # the model failed mid-reply: leave what it wrote, without the "typing" mark
                try:
                    await self._sync(target, posted, split_escaped(reply.text, limit), ())
                except Exception:  # the original error matters more; this one is only logged
                    self.logger.exception("slack: could not tidy up an interrupted reply")

    async def _sync(
        self,
        target: ChannelTarget,
        posted: list[_Posted],
        chunks: Sequence[str],
        buttons: Sequence[Sequence[Button]],
    ) -> None:
        """Make the thread show ``chunks``: edit the messages already posted, post the rest."""
        if not chunks and buttons:
            chunks = [""]
        for i, chunk in enumerate(chunks):
            blocks = message_blocks(chunk, buttons) if i == len(chunks) - 1 else None
            if i < len(posted):
                if posted[i].text != chunk or blocks or posted[i].has_blocks:
                    # An empty list removes the blocks a draft had; None leaves them as they are.
                    clear: list[dict[str, Any]] | None = [] if posted[i].has_blocks else None
                    await self.client.chat_update(
                        channel=target.channel, ts=posted[i].ts, text=chunk or " ", blocks=blocks or clear
                    )
                    posted[i].text, posted[i].has_blocks = chunk, bool(blocks)
            else:
                posted.append(await self._post(target, chunk, blocks))
        for extra in posted[len(chunks) :]:  # the final text needs fewer messages than a draft did
            await self.client.chat_delete(channel=target.channel, ts=extra.ts)
        del posted[len(chunks) :]

    async def _post(self, target: ChannelTarget, text: str, blocks: list[dict[str, Any]] | None) -> _Posted:
        response = await self.client.chat_postMessage(
            channel=target.channel,
            thread_ts=target.thread_ts,
            text=text or " ",
            blocks=blocks,
            unfurl_links=False,
        )
        ts = str(response["ts"])
        self._remember_thread(target.channel, target.thread_ts or ts)
        return _Posted(ts, text, bool(blocks))

    def _remember_thread(self, channel: str, thread_ts: str | None) -> None:
        """Replies in this thread (or under this top-level message) now address the bot."""
        if thread_ts is None:  # a top-level upload: Slack does not say which message it made
            return
        self.bot_threads.add(f"{channel}:{thread_ts}")
        if len(self.bot_threads) > 50_000:  # bounded: forget an arbitrary old half rather than grow forever
            for key in list(self.bot_threads)[:25_000]:
                self.bot_threads.discard(key)

    async def _hook(self, target: HookTarget, text: str, buttons: Sequence[Sequence[Button]]) -> None:
        retry = list(self.client.retry_handlers)
        hook = AsyncWebhookClient(target.url, session=self.session, logger=self.logger, retry_handlers=retry)
        # Slack accepts at most five posts per response_url: long replies use larger chunks here.
        for chunk in _chunks(text, buttons, limit=SECTION_LIMIT if buttons else 3 * TEXT_LIMIT)[:5]:
            blocks = message_blocks(chunk, buttons)
            response = await hook.send(
                text=chunk or " ", blocks=blocks, response_type=target.response_type, replace_original=False
            )
            if response.status_code != 200:
                self.logger.error("slack: response_url answered %s: %s", response.status_code, response.body)


def _chunks(text: str, buttons: Sequence[Sequence[Button]], limit: int | None = None) -> list[str]:
    """Escaped chunks of ``text``; the last one must fit a section block when buttons go with it."""
    return split_escaped(text, limit or (SECTION_LIMIT if buttons else TEXT_LIMIT))


def reply_target(to: Incoming, dm_threads: bool = False) -> ChannelTarget | HookTarget:
    """Where the answer to ``to`` goes.

    Channel messages: their thread (started under them when they are top level). DMs: top level unless
    in a thread or ``dm_threads``. Slash commands: their ``response_url`` (the bot may not be a member
    of the channel). Button presses: the pressed message's thread, or the ``response_url`` of an
    ephemeral message (which cannot be answered in a thread).
    """
    raw = to.raw
    response_url = raw.get("response_url")
    if isinstance(to, Event):
        container = raw.get("container") or {}
        if response_url and (container.get("is_ephemeral") or not to.conversation.id):
            return HookTarget(str(response_url), "ephemeral", to.conversation.id)
        return ChannelTarget(to.conversation.id, to.thread_id or to.message_id)
    if "command" in raw:
        if response_url:
            return HookTarget(str(response_url), "in_channel", to.conversation.id)
        return ChannelTarget(to.conversation.id)
    threaded = to.conversation.kind != "private" or dm_threads or to.thread_id
    return ChannelTarget(to.conversation.id, (to.thread_id or to.id) if threaded else None)


class _Placeholder:
    """The "…" that :meth:`SlackSender.typing` posts after ``delay``. Whoever claims it first, the reply or
    the end of the handler, gets its ``ts`` (None: it was never posted, and now never will be).

    A reply ready while the "…" is being posted waits for Slack's answer and edits it: cancelling the post in
    flight could leave a "…" nobody knows about, and posting beside it would show the reply as a second
    message.
    """

    def __init__(self, delay: float, post: Callable[[], Awaitable[_Posted]]) -> None:
        self.posting = False

        async def show() -> str:
            await asyncio.sleep(delay)
            self.posting = True
            return (await post()).ts

        self.task = asyncio.get_running_loop().create_task(show())

    async def claim(self) -> str | None:
        if not self.posting:
            self.task.cancel()
            return None
        try:
            return await asyncio.shield(self.task)
        except Exception:  # the "…" could not be posted: the reply goes out as a message of its own
            return None
