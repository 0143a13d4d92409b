"""Text helpers every platform's sender shares: splitting long replies and throttling streamed edits.

What happens to an event on its way in (de-duplication, lanes, typing, draining) is in
:mod:`botkit.adapters.intake`; keeping secrets out of logs is in :mod:`botkit.adapters.redact`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator


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
