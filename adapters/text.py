"""Text helpers every platform's sender shares: splitting long replies and throttling streamed edits.

What happens to an event on its way in (de-duplication, lanes, typing, draining) is in
:mod:`botkit.adapters.intake`; keeping secrets out of logs is in :mod:`botkit.adapters.redact`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import regex

_GRAPHEME = regex.compile(r"\X")


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters.

    Prefers paragraph breaks, then line breaks, then spaces; never splits inside a word unless a single
    word is longer than ``limit``, and then between grapheme clusters (what a reader sees as one
    character: a flag, an emoji family joined by ZWJ, a letter with its accents), never inside one. A
    fenced code block (```) cut in two is closed at the end of one chunk
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
    return _grapheme_cut(text, budget)


def _grapheme_cut(text: str, budget: int) -> int:
    """The last grapheme-cluster boundary at or before ``budget`` (at least one cluster, so the cut
    always moves on, even for a single cluster longer than the budget)."""
    cut = 0
    for match in _GRAPHEME.finditer(text, 0, min(len(text), budget + 64)):
        if match.end() > budget:
            break
        cut = match.end()
    if cut == 0:
        first = _GRAPHEME.match(text)
        cut = first.end() if first is not None else budget
    return cut


def split_rendered(text: str, limit: int, render: Callable[[str], str]) -> list[str]:
    """Split ``text``, then ``render`` each piece (escaping), so that no piece exceeds ``limit`` after it.

    Rendering after splitting means a cut never falls between an escaping backslash and the character it
    escapes. Escaping makes text longer, so when a rendered piece outgrows ``limit`` the raw budget shrinks
    by that piece's growth and the text is split again.
    """
    budget = limit
    for _ in range(8):
        pieces = [render(piece) for piece in split_text(text, budget)]
        longest = max((len(piece) for piece in pieces), default=0)
        if longest <= limit:
            return pieces
        budget = max(16, min(budget - 1, budget * limit // longest))
    raise ValueError(f"cannot split this text into pieces of {limit} characters once rendered")


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
