"""What every platform adapter needs: splitting long text, throttled streaming, de-duplication.

Kept here so that the Telegram, Discord and Slack adapters differ only in what their platforms differ in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable

from botkit.message import Message

UNSUPPORTED_ATTACHMENT = "Sorry, I can't read {kinds} attachments yet; please send text."


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters.

    Prefers paragraph breaks, then line breaks, then spaces; never splits inside a word unless a single
    word is longer than ``limit``. A fenced code block (```) cut in two is closed at the end of one chunk
    and reopened (with its language tag) at the start of the next, so both render as code.
    """
    if limit < 16:
        raise ValueError("limit must be at least 16 characters")
    if not text:
        return []
    chunks: list[str] = []
    rest = text
    reopen = ""
    while rest:
        rest = reopen + rest
        if len(rest) <= limit:
            chunks.append(rest)
            break
        budget = limit - 4  # room to close an open code fence
        cut = _best_cut(rest, budget)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip(" \n")
        fence = _open_fence(head)
        if fence is not None:
            head += "\n```"
            reopen = fence + "\n"
        else:
            reopen = ""
        chunks.append(head)
    return [c for c in chunks if c.strip()]


def _best_cut(text: str, budget: int) -> int:
    window = text[: budget + 1]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at > budget // 3:
            return at
    return budget


def _open_fence(text: str) -> str | None:
    """The opening fence line (e.g. "```python") if ``text`` leaves a code block open."""
    opening: str | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            opening = None if opening is not None else stripped
    return opening


async def throttled(stream: AsyncIterator[str], min_interval: float) -> AsyncIterator[str]:
    """Pass on a growing text at most once per ``min_interval`` seconds; the final text always.

    ``stream`` yields the whole text so far (a :class:`~botkit.message.StreamingReply`). Platforms limit
    how often a message may be edited, so intermediate states are dropped, never the last one.
    """
    last_sent = ""
    last_time = 0.0
    latest = ""
    async for latest in stream:
        now = time.monotonic()
        if now - last_time >= min_interval and latest != last_sent:
            last_sent, last_time = latest, now
            yield latest
    if latest != last_sent:
        yield latest


class RecentIds:
    """Remembers the last ``size`` event ids, to drop redelivered events (bounded memory)."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def seen(self, event_id: str) -> bool:
        """True if ``event_id`` was seen before; otherwise remember it and return False."""
        if event_id in self._seen:
            self._seen.move_to_end(event_id)
            return True
        self._seen[event_id] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return False


def unsupported_kinds(message: Message, supported: Iterable[str]) -> list[str]:
    """Attachment kinds on ``message`` that the bot does not handle."""
    allowed = set(supported)
    return sorted({a.kind for a in message.attachments if a.kind not in allowed})


class ConversationLanes:
    """Per-conversation locks that exist only while a conversation has work (bounded memory).

    Events of one conversation are handled one at a time, in arrival order, so each reply sees the
    history the one before it wrote; different conversations run concurrently.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def lane(self, key: str) -> AsyncIterator[None]:
        """Hold the lane of conversation ``key`` for the duration of the ``async with`` block."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
