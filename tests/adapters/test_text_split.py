"""Cutting long replies: pieces within the limit, nothing lost, and no cut inside what a reader sees as
one character (a flag, a ZWJ emoji family) or between an escaping backslash and what it escapes."""

from __future__ import annotations

import re

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from botkit.adapters.discord.format import MESSAGE_LIMIT, chunks
from botkit.adapters.text import split_rendered, split_text

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one grapheme cluster of seven code points
FLAG = "🇫🇷"  # two regional indicators, one flag
ACCENTED = "e\u0301"  # e + combining acute accent

# Text as replies are: words, spaces, newlines, emoji clusters, CJK, markdown characters, backslashes.
ATOMS = st.sampled_from(
    [FAMILY, FLAG, ACCENTED, "中文", "word", "x", " ", "\n", "*", "_", "\\", "~", "|", ">"]
)
TEXTS = st.lists(ATOMS, max_size=400).map("".join)


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def test_a_word_longer_than_the_limit_is_cut_between_emoji_not_inside_them() -> None:
    text = FAMILY * 30 + FLAG * 30
    pieces = split_text(text, 40)
    assert "".join(pieces) == text
    for piece in pieces:
        assert len(piece) <= 40
        assert set(graphemes(piece)) <= {FAMILY, FLAG}, piece  # whole families and flags only


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, limit=st.integers(min_value=16, max_value=120))
def test_pieces_fit_keep_every_character_and_cut_only_between_clusters(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(len(piece) <= limit for piece in pieces)
    # Nothing but the whitespace at the cuts is dropped: the visible text is the same, in order.
    assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", text)
    whole = set(graphemes(text))
    for piece in pieces:
        assert set(graphemes(piece)) <= whole, f"a cluster was cut: {piece!r}"


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.sampled_from(["```python", "```", "code line", "text", FAMILY * 3, ""]), max_size=80)
)
def test_code_fences_stay_balanced_in_every_piece(lines: list[str]) -> None:
    text = "\n".join(lines)
    if sum(line.strip().startswith("```") for line in lines) % 2:
        text += "\n```"  # a reply closes its own code block; the splitter must not unbalance it
    for piece in split_text(text, 32):
        fences = [line for line in piece.split("\n") if line.strip().startswith("```")]
        assert len(fences) % 2 == 0, piece


@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_discord_escapes_after_cutting_so_no_piece_ends_in_a_dangling_backslash(text: str) -> None:
    pieces = chunks(text * 8)
    assert all(len(piece) <= MESSAGE_LIMIT for piece in pieces)
    for piece in pieces:
        trailing = len(piece) - len(piece.rstrip("\\"))
        assert trailing % 2 == 0, f"a cut between an escape and its character: ...{piece[-20:]!r}"


def test_markdown_heavy_text_is_split_after_escaping_within_the_limit() -> None:
    text = "*_~|>" * 1500  # every character doubles when escaped
    pieces = chunks(text)
    assert len(pieces) > 1
    assert all(len(piece) <= MESSAGE_LIMIT for piece in pieces)
    assert "".join(piece.replace("\\", "") for piece in pieces) == text


def test_rendering_that_cannot_fit_is_an_error_not_a_loop() -> None:
    with pytest.raises(ValueError, match="cannot split this text into pieces of 16 characters"):
        split_rendered("a" * 100, 16, lambda piece: piece * 100)
