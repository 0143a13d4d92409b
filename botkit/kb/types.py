"""What the knowledge base answers with: the seam between :mod:`botkit.kb` and its users (the support desk,
the web console, the retrieval benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

AnswerKind = Literal["faq", "passage", "unsure"]


@dataclass(frozen=True)
class Source:
    """Where a passage came from: the document as added and the heading path inside it."""

    document: str  # the file's name as shown to users ("returns.md"), or the document's title
    heading: str = ""  # "Returns > Refunds"; empty for a document without headings
    url: str | None = None  # a link where the document has one (HTML pages with a canonical URL)

    def label(self) -> str:
        """``"returns.md > Refunds"``: how a citation reads where the platform cannot link."""
        return f"{self.document} > {self.heading}" if self.heading else self.document


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its scores. ``score`` is the fused one the answer is ranked by."""

    chunk_id: int
    text: str
    source: Source
    score: float
    dense: float | None = None  # cosine similarity, where the dense retriever found it
    bm25: float | None = None  # BM25 score, where the lexical retriever found it
    question: str | None = None  # set for FAQ entries (``text`` is then the company's answer)


@dataclass(frozen=True)
class KBAnswer:
    """The knowledge base's answer to one question.

    ``kind`` is ``"faq"`` (``text`` is the company's own answer, verbatim), ``"passage"`` (``text`` is built
    from the passages, rephrased by the model only where the settings allow it) or ``"unsure"`` (``text`` is
    None: the confidence was under the threshold, or the question is outside the knowledge base).
    """

    kind: AnswerKind
    text: str | None
    confidence: float
    sources: Sequence[Source] = ()
    hits: Sequence[Hit] = field(default_factory=tuple)

    @property
    def sure(self) -> bool:
        """Whether the bot should answer (not offer a person instead)."""
        return self.kind != "unsure"


class Answerer(Protocol):
    """What the support desk needs of a knowledge base."""

    async def answer(self, question: str, *, language: str | None = None) -> KBAnswer:
        """Answer ``question`` from the knowledge base, or say it is unsure.

        Raises:
            QueryTooLong: the question is longer than ``kb.max_query_chars``.
        """
