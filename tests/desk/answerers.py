"""A small knowledge base for the desk's tests: the example shop's FAQ, matched by word overlap.

It answers an FAQ question asked in (nearly) its own words with the company's text and cites
``faq.csv > <question>``, and is unsure of anything else. The desk's behaviour around the answer is
what these tests check; the retrieval itself is :mod:`botkit.kb`'s, tested there.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from botkit.kb.types import Hit, KBAnswer, Source

FAQ = Path(__file__).resolve().parents[2] / "botkit" / "presets" / "example_kb" / "faq.csv"
RETURN_WINDOW = "How long do I have to return an item?"
_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


class FaqOverlap:
    """An answerer over ``faq.csv``: Jaccard overlap of words, sure from ``threshold`` on.

    Attributes:
        questions: every question asked, in order (what the desk passed on).
    """

    def __init__(self, path: Path = FAQ, threshold: float = 0.6) -> None:
        with path.open(encoding="utf-8", newline="") as file:
            self.rows = [(row["question"], row["answer"]) for row in csv.DictReader(file)]
        self.threshold = threshold
        self.questions: list[str] = []

    async def answer(self, question: str, *, language: str | None = None) -> KBAnswer:
        self.questions.append(question)
        asked = _words(question)
        scored = [
            (len(asked & _words(q)) / max(1, len(asked | _words(q))), i, q, a)
            for i, (q, a) in enumerate(self.rows)
        ]
        score, index, faq_question, text = max(scored)
        source = Source("faq.csv", faq_question)
        hit = Hit(index, text, source, score, question=faq_question)
        if score < self.threshold:
            return KBAnswer("unsure", None, score, (), (hit,))
        return KBAnswer("faq", text, score, (source,), (hit,))

    def text_of(self, question: str) -> str:
        """The FAQ's answer to ``question`` (as written in the file)."""
        return dict(self.rows)[question]
