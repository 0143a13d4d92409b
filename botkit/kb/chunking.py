"""Cutting a document's sections into chunks of a few hundred words that keep their heading path."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from botkit.kb.tokenize import is_chinese

HEADING_SEPARATOR = " > "
QUESTION_SEPARATOR = "\n"  # between an FAQ entry's question and its alternate phrasings
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")
_IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path (``("Returns", "Refunds")``), as a reader found it."""

    headings: tuple[str, ...]
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a document: a passage, or an FAQ entry (``question`` set, ``text`` the
    answer; ``question`` holds the entry's question and then its alternate phrasings, one a line: see
    :func:`faq_questions`)."""

    position: int
    heading: str
    text: str
    question: str | None = None
    language: str = "en"


def size(text: str) -> int:
    """Length in words; a Chinese ideograph counts as half a word (two make a typical word)."""
    ideographs = len(_IDEOGRAPH.findall(text))
    return len(_IDEOGRAPH.sub(" ", text).split()) + (ideographs + 1) // 2


def language_of(text: str) -> str:
    """``"zh"`` for text that is mostly Chinese, else ``"en"`` (all the tokenizer distinguishes)."""
    return "zh" if is_chinese(text) else "en"


def _pieces(paragraph: str, limit: int) -> Iterable[str]:
    """A paragraph longer than ``limit`` words, cut at sentence ends (or, failing that, between words)."""
    if size(paragraph) <= limit:
        yield paragraph
        return
    current: list[str] = []
    for sentence in (s for s in _SENTENCE_END.split(paragraph) if s.strip()):
        if current and size(" ".join([*current, sentence])) > limit:
            yield " ".join(current)
            current = []
        if size(sentence) > limit:  # one endless sentence: cut between words
            words = sentence.split()
            for start in range(0, len(words), limit):
                yield " ".join(words[start : start + limit])
            continue
        current.append(sentence)
    if current:
        yield " ".join(current)


def section_chunks(sections: Sequence[Section], max_words: int) -> list[Chunk]:
    """Chunks of at most ``max_words`` words; a chunk never spans two headings, and keeps whole paragraphs
    where they fit (paragraphs inside a chunk stay separated by a blank line)."""
    chunks: list[Chunk] = []
    for section in sections:
        heading = HEADING_SEPARATOR.join(h for h in section.headings if h)
        current: list[str] = []
        for paragraph in section.paragraphs:
            for piece in _pieces(paragraph, max_words):
                if current and size("\n\n".join([*current, piece])) > max_words:
                    chunks.append(_chunk(len(chunks), heading, current))
                    current = []
                current.append(piece)
        if current:
            chunks.append(_chunk(len(chunks), heading, current))
    return chunks


def _chunk(position: int, heading: str, paragraphs: list[str]) -> Chunk:
    text = "\n\n".join(paragraphs)
    return Chunk(position=position, heading=heading, text=text, language=language_of(text))


def faq_chunks(entries: Sequence[tuple[str, str, Sequence[str]]]) -> list[Chunk]:
    """One chunk per FAQ entry ``(question, answer, alternate phrasings)``; its heading is the question,
    so that a citation names it, and its ``question`` the question with its alternates (one a line)."""
    return [
        Chunk(
            position=i,
            heading=q,
            text=a,
            question=QUESTION_SEPARATOR.join([q, *alternates]),
            language=language_of(q + a),
        )
        for i, (q, a, alternates) in enumerate(entries)
    ]


def faq_questions(question: str) -> list[str]:
    """An FAQ chunk's stored ``question`` as ``[the question, *its alternate phrasings]``.

    The alternates travel in the same column as the question (one a line; a question's own line breaks are
    made spaces when it is read) so that the schema needs no table of its own for them.
    """
    return [q for q in question.split(QUESTION_SEPARATOR) if q]
