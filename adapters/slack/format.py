"""Slack message formatting: mrkdwn escaping, splitting long replies, Block Kit buttons.

Kept apart from :mod:`botkit.adapters.slack` so the pure text rules can be tested and read on their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from botkit.adapters.text import split_text
from botkit.message import Button

# Slack truncates the ``text`` of a message at 40,000 characters but renders anything past ~4,000 as
# "show more" and recommends staying under it; a section block's text is capped at 3,000.
TEXT_LIMIT = 3900
SECTION_LIMIT = 3000
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ACTIONS_PER_BLOCK = 25
ACTION_PREFIX = "botkit:"
PLACEHOLDER = "\u2026"  # what a streamed reply shows before its first token: our "typing" indicator

_UNESCAPE = re.compile(r"&(amp|lt|gt);")


def escape(text: str) -> str:
    """Escape the three characters Slack reserves for control sequences (``&``, ``<``, ``>``).

    Everything else (``*_~`` and backticks) is left as mrkdwn: Slack never rejects a message for
    unbalanced formatting, it just shows the characters, so model output cannot break a send.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Inverse of :func:`escape` (what a Slack client shows for an escaped text)."""
    return _UNESCAPE.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text)


_CONTROL = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")


def to_plain(text: str) -> str:
    """What a user typed, from the text Slack delivers: control sequences resolved, entities decoded.

    ``<@U123|ann>`` becomes ``@ann`` (``@U123`` without a label), ``<#C1|general>`` ``#general``,
    ``<!here>`` ``@here``, ``<https://x.org|x.org>`` ``https://x.org`` (the link, not its label, so a
    plugin or the model sees where it points), ``<mailto:a@b.c|a@b.c>`` ``a@b.c``; ``&lt;`` becomes ``<``.
    """

    def resolve(found: re.Match[str]) -> str:
        sigil, target, label = found.group(1), found.group(2), found.group(3)
        if sigil == "@":
            return "@" + (label or target)
        if sigil == "#":
            return "#" + (label or target)
        if sigil == "!":
            return label or "@" + target.split("^", 1)[0]
        return target.removeprefix("mailto:")

    return unescape(_CONTROL.sub(resolve, text))


def split_escaped(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split ``text`` at word boundaries so that every chunk is at most ``limit`` characters *after* escaping.

    Escaping can grow a chunk up to five times (``&`` becomes ``&amp;``): when a chunk outgrows the limit,
    the whole text is split again with the raw budget shrunk by the worst chunk's growth, so the chunks
    stay as large as they can be; a chunk still too large after a few rounds is split on its own.
    """
    budget = limit
    for _ in range(3):
        chunks = split_text(text, budget)
        longest = max((len(escape(c)) for c in chunks), default=0)
        if longest <= limit:
            return [escape(c) for c in chunks]
        budget = max(16, budget * limit // longest)
    return [piece for chunk in split_text(text, budget) for piece in _fit(chunk, limit)]


def _fit(chunk: str, limit: int) -> list[str]:
    escaped = escape(chunk)
    if len(escaped) <= limit:
        return [escaped]
    budget = max(16, limit * len(chunk) // len(escaped))
    pieces = split_text(chunk, budget)
    if len(pieces) < 2:  # only when nearly every character needs escaping: cut by characters
        step = max(1, limit // 5)
        pieces = [chunk[i : i + step] for i in range(0, len(chunk), step)]
    return [out for piece in pieces for out in _fit(piece, limit)]


def button_blocks(buttons: Sequence[Sequence[Button]]) -> list[dict[str, Any]]:
    """One Block Kit ``actions`` block per row of buttons (Slack allows 25 elements per block).

    A data button's ``value`` carries ``Button.data``; its ``action_id`` (unique within the message, as
    Slack requires) starts with :data:`ACTION_PREFIX` so our action listener can tell it from others.
    """
    blocks: list[dict[str, Any]] = []
    for r, row in enumerate(buttons):
        elements: list[dict[str, Any]] = []
        for c, button in enumerate(row[:ACTIONS_PER_BLOCK]):
            element: dict[str, Any] = {
                "type": "button",
                "action_id": f"{ACTION_PREFIX}{r}:{c}",
                "text": {"type": "plain_text", "text": button.label[:BUTTON_LABEL_LIMIT] or "?"},
            }
            if button.url:
                element["url"] = button.url
            else:
                element["value"] = button.data[:BUTTON_VALUE_LIMIT]
            elements.append(element)
        if elements:
            blocks.append({"type": "actions", "block_id": f"botkit-row-{r}", "elements": elements})
    return blocks


def message_blocks(escaped_text: str, buttons: Sequence[Sequence[Button]]) -> list[dict[str, Any]] | None:
    """Blocks for a message with buttons (None without buttons: plain ``text`` is enough then).

    When blocks are present Slack shows them instead of ``text``, so the text goes in a section block
    first; ``escaped_text`` must already fit :data:`SECTION_LIMIT`.
    """
    if not buttons:
        return None
    blocks: list[dict[str, Any]] = []
    if escaped_text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": escaped_text}})
    return blocks + button_blocks(buttons)
