"""Sending to Telegram: long texts split, buttons as inline keyboards, streamed replies as edits, 429s waited.

Text goes out as plain text (no ``parse_mode``): model output is full of ``*_[]()`` and backticks, and
escaping all of MarkdownV2's reserved characters would show exactly what plain text shows, so nothing is
gained and nothing can break. Every call goes through :func:`call_api`, which waits out flood control
(HTTP 429 ``retry_after``) and retries network failures and 5xx answers, for up to :data:`RETRY_BUDGET_S`,
so a reply is delayed but not dropped by a platform outage shorter than that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, ChatMigrated, NetworkError, RetryAfter, TelegramError

from botkit.adapters.telegram.parse import utf16_len
from botkit.adapters.text import split_text, throttled
from botkit.message import Button, Event, Incoming, Reply, StreamingReply

log = logging.getLogger("botkit.adapters.telegram")

T = TypeVar("T")
#: Telegram's limit for one message, in UTF-16 code units.
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64  # bytes
# How long one call is retried through flood control, network failures and 5xx answers before it fails.
RETRY_BUDGET_S = 90.0
MAX_PAUSE_S = 5.0  # the longest pause between two tries after a network failure or a 5xx


@dataclass(frozen=True)
class Target:
    """Where a reply goes: a chat (and topic), optionally quoting a message; or an inline message."""

    chat_id: int | str | None
    thread_id: int | None = None
    reply_to: int | None = None
    inline_message_id: str | None = None


@dataclass
class _Shown:
    """One message of a (possibly multi-message) reply as the user currently sees it."""

    message_id: int
    text: str
    has_markup: bool = False


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (PTB gives an int or a timedelta, depending on PTB_TIMEDELTA)."""
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def call_api(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run one Bot API call, waiting out flood control and retrying transient failures, for a while.

    HTTP 429 is waited out for the ``retry_after`` Telegram names; a network failure or a 5xx answer
    (Telegram overloaded or restarting: the call did not happen) is retried with a growing pause. Both stop
    after :data:`RETRY_BUDGET_S`, so a reply is late rather than lost through a platform outage of that
    length, and a dead platform does not hold a conversation's lane for ever.

    Raises:
        TelegramError: a definite refusal (bad request, forbidden...) or a failure that outlived the
            retry budget.
    """
    failures = 0
    deadline = time.monotonic() + RETRY_BUDGET_S
    while True:
        try:
            return await call()
        except RetryAfter as exc:
            delay = retry_seconds(exc)
            if time.monotonic() + delay > deadline:
                raise
            log.warning("telegram flood control on %s: retrying in %.1f s", what, delay)
            await asyncio.sleep(delay)
        except BadRequest:  # a NetworkError subclass, but retrying cannot fix it
            raise
        except NetworkError as exc:
            failures += 1
            delay = min(0.5 * 2**failures, MAX_PAUSE_S)
            if time.monotonic() + delay > deadline:
                raise
            log.warning("telegram network error on %s (%s), retry %d", what, exc, failures)
            await asyncio.sleep(delay)


def fit_chunks(text: str) -> list[str]:
    """Split ``text`` into messages within Telegram's limit, counted in UTF-16 units like Telegram does."""
    limit = TEXT_LIMIT
    while True:
        chunks = split_text(text, limit)
        if all(utf16_len(c) <= TEXT_LIMIT for c in chunks):
            return chunks
        limit = max(16, limit - 256)  # astral characters count double: cut earlier and try again


class ButtonData:
    """Maps button data longer than Telegram's 64 bytes to short tokens, and back when pressed."""

    PREFIX = "bk:"

    def __init__(self, size: int = 10_000) -> None:
        self._long: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def encode(self, data: str) -> str:
        """The callback_data to send for ``data``."""
        if len(data.encode()) <= CALLBACK_DATA_LIMIT and not data.startswith(self.PREFIX):
            return data
        token = self.PREFIX + hashlib.sha256(data.encode()).hexdigest()[:32]
        self._long[token] = data
        if len(self._long) > self._size:
            self._long.popitem(last=False)
        return token

    def decode(self, data: str) -> str:
        """The original data for a pressed button's callback_data."""
        return self._long.get(data, data)


class _Latest:
    """The newest text of a stream, handed over once; older states nobody took are dropped."""

    def __init__(self) -> None:
        self._text: str | None = None
        self._done = False
        self._changed = asyncio.Event()

    async def fill(self, source: AsyncIterator[str]) -> None:
        try:
            async for text in source:
                self._text = text
                self._changed.set()
        finally:
            self._done = True
            self._changed.set()

    async def take(self) -> str | None:
        """The newest text not yet taken (waiting for one); None once the stream is over."""
        while self._text is None:
            if self._done:
                return None
            self._changed.clear()
            await self._changed.wait()
        text, self._text = self._text, None
        return text


@dataclass
class TelegramSender:
    """Sends botkit replies through a python-telegram-bot :class:`~telegram.Bot`.

    Args:
        bot: an initialised PTB bot.
        edit_interval_s: least seconds between two edits of a streamed message.
    """

    bot: Bot
    edit_interval_s: float = 1.0
    buttons: ButtonData = field(default_factory=ButtonData)

    def keyboard(self, rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
        """An inline keyboard for button rows (None when there are none)."""
        built = [
            [
                InlineKeyboardButton(b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(b.label, callback_data=self.buttons.encode(b.data or b.label))
                for b in row
            ]
            for row in rows
            if row
        ]
        return InlineKeyboardMarkup(built) if built else None

    async def typing(self, target: Target) -> None:
        """Show "typing..." for about 5 s; failures are ignored (it is only a hint)."""
        if target.chat_id is None:
            return
        try:
            await self.bot.send_chat_action(
                target.chat_id, ChatAction.TYPING, message_thread_id=target.thread_id
            )
        except TelegramError as exc:
            log.debug("typing indicator failed: %s", exc)

    async def answer_button(self, query_id: str) -> None:
        """Stop the client's spinner on a pressed button."""
        try:
            await call_api("answerCallbackQuery", lambda: self.bot.answer_callback_query(query_id))
        except TelegramError as exc:  # too old or already answered: the press is still handled
            log.info("could not answer callback query: %s", exc)

    async def send_reply(self, target: Target, reply: Reply) -> int | None:
        """Send a whole reply, split over as many messages as it needs; buttons go under the last.

        Returns the first message's id (None when nothing was sent: an empty text, an inline message).
        """
        shown: list[_Shown] = []
        await self._show(target, shown, reply.text, self.keyboard(reply.buttons))
        return shown[0].message_id if shown else None

    async def send_stream(
        self, target: Target, reply: StreamingReply, on_first: Callable[[], object] | None = None
    ) -> int | None:
        """Send a reply that grows: one message, edited as text arrives (throttled), more when it overflows.

        The stream is read by its own task, so a slow edit (a 429 wait, a busy group) never slows the model
        down: when the edit returns, the newest text is shown and the states in between are skipped.
        ``on_first`` is called when the first text is about to show (to stop a typing indicator).
        Returns the first message's id (None when nothing was sent).
        """
        shown: list[_Shown] = []
        if target.inline_message_id is None:
            latest = _Latest()
            reader = asyncio.create_task(latest.fill(throttled(aiter(reply), self.edit_interval_s)))
            try:
                while (text := await latest.take()) is not None:
                    if on_first is not None:
                        on_first()
                    await self._show(target, shown, text, None)
                await reader  # a failed stream fails the send, so the bot apologises
            finally:
                reader.cancel()
        else:  # an inline message cannot grow into several: show only the final text
            async for _ in reply:
                pass
        await self._show(target, shown, reply.text, self.keyboard(reply.buttons))
        return shown[0].message_id if shown else None

    async def _show(
        self, target: Target, shown: list[_Shown], text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        chunks = [c for c in fit_chunks(text) if c.strip()]
        if not chunks:
            if markup is not None or not shown:
                log.info("not sending an empty reply to chat %s", target.chat_id)
            return
        if target.inline_message_id is not None:
            await self._edit_inline(target.inline_message_id, chunks[0], markup)
            return
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            want_markup = markup if last else None
            if index >= len(shown):
                # Only the first part quotes the user's message; the rest simply follow it.
                part_target = target if index == 0 else dataclasses.replace(target, reply_to=None)
                message_id = await self._send_message(part_target, chunk, want_markup)
                shown.append(_Shown(message_id, chunk, want_markup is not None))
            elif shown[index].text != chunk or (want_markup is not None and not shown[index].has_markup):
                await self._edit(target, shown[index], chunk, want_markup)

    async def _send_message(self, target: Target, text: str, markup: InlineKeyboardMarkup | None) -> int:
        assert target.chat_id is not None
        chat_id, thread_id = target.chat_id, target.thread_id
        quote = (
            ReplyParameters(target.reply_to, allow_sending_without_reply=True)
            if target.reply_to is not None
            else None
        )
        while True:
            try:
                return await self._send_once(chat_id, thread_id, text, markup, quote)
            except ChatMigrated as exc:  # the group became a supergroup with a new id
                log.info("chat %s migrated to %s", chat_id, exc.new_chat_id)
                chat_id = exc.new_chat_id
            except BadRequest as exc:
                # Reply "threads" of ordinary groups are not topics; fall back to the main chat.
                if thread_id is None or "thread not found" not in exc.message.lower():
                    raise
                thread_id = None

    async def _send_once(
        self,
        chat_id: int | str,
        thread_id: int | None,
        text: str,
        markup: InlineKeyboardMarkup | None,
        quote: ReplyParameters | None,
    ) -> int:
        sent = await call_api(
            "sendMessage",
            lambda: self.bot.send_message(
                chat_id, text, reply_markup=markup, message_thread_id=thread_id, reply_parameters=quote
            ),
        )
        return sent.message_id

    async def _edit(
        self, target: Target, shown: _Shown, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        assert target.chat_id is not None
        chat_id = target.chat_id
        try:
            if shown.text == text:
                await call_api(
                    "editMessageReplyMarkup",
                    lambda: self.bot.edit_message_reply_markup(
                        chat_id, shown.message_id, reply_markup=markup
                    ),
                )
            else:
                await call_api(
                    "editMessageText",
                    lambda: self.bot.edit_message_text(
                        text, chat_id=chat_id, message_id=shown.message_id, reply_markup=markup
                    ),
                )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                pass
            elif "not found" in exc.message.lower():
                # The user deleted the message being streamed into: carry on in a new one.
                shown.message_id = await self._send_message(target, text, markup)
            else:
                raise
        shown.text, shown.has_markup = text, markup is not None

    async def _edit_inline(self, inline_id: str, text: str, markup: InlineKeyboardMarkup | None) -> None:
        try:
            await call_api(
                "editMessageText",
                lambda: self.bot.edit_message_text(text, inline_message_id=inline_id, reply_markup=markup),
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise


def target_for(incoming: Incoming) -> Target:
    """Where the answer to ``incoming`` goes: its chat and topic; in groups, quoting the message."""
    raw = incoming.raw
    thread = int(incoming.thread_id) if incoming.thread_id else None
    if isinstance(incoming, Event):
        inline_id = (raw.get("callback_query") or {}).get("inline_message_id")
        if incoming.conversation.id.startswith("inline:") and inline_id:
            return Target(None, inline_message_id=str(inline_id))
        return Target(chat_id_of(incoming.conversation.id), thread)
    # In a group, quote the message so everyone sees what the answer is to.
    quote = int(incoming.id) if incoming.conversation.kind != "private" and incoming.id else None
    return Target(chat_id_of(incoming.conversation.id), thread, quote)


def chat_id_of(conversation_id: str) -> int | str:
    """The Bot API ``chat_id`` of a conversation: a number, or a public ``@channelusername``."""
    return int(conversation_id) if conversation_id.lstrip("-").isdigit() else conversation_id
