"""The in-process search index: a matrix of unit vectors and a BM25 index over the chunks' retrieval keys.

A chunk is found by several keys and scores the best of them (:func:`dense_keys`, :func:`lexical_keys`): an
FAQ entry by its question with its answer, by its question alone and by each of its alternate phrasings, so
that a user's question can match the company's question even where the answer uses other words; a passage
by its heading path with its text and, for the embedding model, by each of its sentences under its heading
(a one-sentence fact is lost in the average of a long passage). The same code runs on SQLite and PostgreSQL
(the vectors come from the database, the search is numpy), so both give the same answer.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from botkit.kb.calibration import SHIPPED, Calibration
from botkit.kb.chunking import faq_questions
from botkit.kb.embedder import Vectors
from botkit.kb.errors import ModelMismatch
from botkit.kb.storage import StoredChunk
from botkit.kb.tokenize import tokenize
from botkit.kb.types import Hit

Method = Literal["fused", "dense", "bm25"]
METHODS: tuple[Method, ...] = ("fused", "dense", "bm25")
Fusion = Literal["learned", "convex", "rrf"]
RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al. 2009): weight / (60 + rank)
CANDIDATES = 50  # each retriever's top chunks that take part in the fusion
MIN_SENTENCE_CHARS = 20  # shorter sentences ("See below.") make keys that match anything

_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")

Scores = npt.NDArray[np.float32]


def lexical_keys(heading: str, text: str, question: str | None) -> list[str]:
    """What BM25 indexes of a chunk: ``[question + answer, question, *alternate phrasings]`` for FAQ
    entries (``question`` as stored, see :func:`~botkit.kb.chunking.faq_questions`), else
    ``[heading path + text]``."""
    if question:
        main, *alternates = faq_questions(question)
        return [f"{main}\n{text}", main, *alternates]
    return [f"{heading}\n{text}" if heading else text]


def dense_keys(heading: str, text: str, question: str | None) -> list[str]:
    """What the embedding model embeds of a chunk: the lexical keys, plus each sentence of a passage of
    several sentences, prefixed by its innermost heading."""
    keys = lexical_keys(heading, text, question)
    if question:
        return keys
    sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) >= MIN_SENTENCE_CHARS]
    if len(sentences) > 1:
        last = heading.rsplit(" > ", 1)[-1]
        keys.extend(f"{last}: {s}" if last else s for s in sentences)
    return keys


class Index:
    """Dense and BM25 search over a snapshot of the knowledge base's chunks."""

    def __init__(self, chunks: Sequence[StoredChunk], dimension: int) -> None:
        self.chunks = list(chunks)
        self._terms: list[set[str]] = []  # each chunk's BM25 terms, for :meth:`coverage`
        dense_owners: list[int] = []
        lexical_owners: list[int] = []
        corpus: list[list[str]] = []
        for position, chunk in enumerate(self.chunks):
            expected = len(dense_keys(chunk.source.heading, chunk.text, chunk.question))
            if len(chunk.vectors) != expected:
                raise ModelMismatch(
                    f"chunk {chunk.id} has {len(chunk.vectors)} stored vectors for {expected} retrieval keys "
                    "(stored by another version of botkit): run `botkit kb reindex`"
                )
            dense_owners.extend([position] * expected)
            lexical = lexical_keys(chunk.source.heading, chunk.text, chunk.question)
            lexical_owners.extend([position] * len(lexical))
            tokens = [tokenize(t) for t in lexical]
            corpus.extend(tokens)
            self._terms.append({term for key in tokens for term in key})
        self._matrix: Vectors = (
            np.vstack([c.vectors for c in self.chunks])
            if self.chunks
            else np.zeros((0, dimension), np.float32)
        )
        self._dense_starts = _starts(dense_owners)
        self._lexical_starts = _starts(lexical_owners)
        self._document_frequency = Counter(term for terms in self._terms for term in terms)
        self._bm25: Any = None
        if any(corpus):
            import bm25s

            # bm25s sets its logger to DEBUG at import, which would print "Building index from tokens"
            # into `botkit chat` on every rebuild; its warnings still come through.
            logging.getLogger("bm25s").setLevel(logging.WARNING)
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)

    def __len__(self) -> int:
        return len(self.chunks)

    def dense_scores(self, query: Vectors) -> Scores:
        """Each chunk's best cosine similarity to the (unit) query vector."""
        if not self.chunks:
            return np.zeros(0, dtype=np.float32)
        return np.maximum.reduceat(self._matrix @ query, self._dense_starts).astype(np.float32)

    def bm25_scores(self, terms: list[str]) -> Scores:
        """Each chunk's best BM25 score for the query terms (zero where no term occurs)."""
        if self._bm25 is None or not terms:
            return np.zeros(len(self.chunks), dtype=np.float32)
        by_key = np.asarray(self._bm25.get_scores(terms), dtype=np.float32)
        return np.maximum.reduceat(by_key, self._lexical_starts).astype(np.float32)

    def coverage(self, question: str, hit: Hit) -> float:
        """The share of the question's terms that the hit contains, each weighted by its rarity (BM25's
        idf; a term the knowledge base never uses weighs most): a lexical confidence in [0, 1]."""
        position = next((i for i, c in enumerate(self.chunks) if c.id == hit.chunk_id), None)
        if position is None:
            return 0.0
        return float(self.coverages(set(tokenize(question)), [position])[0])

    def coverages(self, terms: set[str], positions: Sequence[int]) -> Scores:
        """:meth:`coverage` of the chunks at ``positions``."""
        if not terms:
            return np.zeros(len(positions), dtype=np.float32)
        total = len(self.chunks)
        weights = {
            t: math.log(1 + (total - self._document_frequency[t] + 0.5) / (self._document_frequency[t] + 0.5))
            for t in terms
        }
        whole = sum(weights.values())
        found = [sum(w for t, w in weights.items() if t in self._terms[p]) for p in positions]
        return np.asarray(found, dtype=np.float32) / np.float32(whole)

    def candidates(self, query: Vectors, question: str) -> tuple[list[int], npt.NDArray[np.float64]]:
        """The chunks that take part in learned fusion (each retriever's top :data:`CANDIDATES`) and their
        features, ``(n, len(FEATURES))`` in the order of :data:`botkit.kb.calibration.FEATURES`."""
        terms = tokenize(question)
        return self._candidates(query, self.dense_scores(query), self.bm25_scores(terms), set(terms))

    def _candidates(
        self, query: Vectors, dense: Scores, bm25: Scores, terms: set[str]
    ) -> tuple[list[int], npt.NDArray[np.float64]]:
        chosen = list(
            dict.fromkeys(_ranked(dense, CANDIDATES)[0] + _ranked(bm25, CANDIDATES, positive=True)[0])
        )
        # the cosine of each chunk's first key: its whole text (an FAQ entry's question with its answer)
        whole = self._matrix[self._dense_starts[chosen]] @ query
        features = np.column_stack(
            [
                dense[chosen],
                whole,
                self.coverages(terms, chosen),
                [self.chunks[i].question is not None for i in chosen],
            ]
        ).astype(np.float64)
        return chosen, features

    def search(
        self,
        query: Vectors | None,
        question: str,
        method: Method,
        k: int,
        *,
        bm25_weight: float = 0.1,
        fusion: Fusion = "learned",
        calibration: Calibration = SHIPPED,
    ) -> list[Hit]:
        """The ``k`` best answer units by ``method`` (with dense scores wherever there is a query vector).

        An answer unit is what a citation names (an FAQ entry, a section): a section split into several
        chunks is ranked by its best chunk and returned once, so the ``k`` hits are ``k`` different answers.
        Fused search without a query vector (a language the embedding model does not know) ranks by BM25.
        Learned fusion scores each retriever's top chunks by ``calibration``'s weights
        (:mod:`botkit.kb.calibration`).
        """
        if not self.chunks:
            return []
        dense = self.dense_scores(query) if query is not None else None
        bm25 = self.bm25_scores(tokenize(question)) if method != "dense" else None
        if method == "dense":
            assert dense is not None
            order, scores = _ranked(dense, len(self.chunks))
        elif method == "bm25" or dense is None:
            assert bm25 is not None
            order, scores = _ranked(bm25, len(self.chunks), positive=True)
        elif fusion == "learned":
            assert query is not None
            assert bm25 is not None
            chosen, features = self._candidates(query, dense, bm25, set(tokenize(question)))
            learned = calibration.score(features)
            ranking = np.argsort(-learned, kind="stable")
            order, scores = [chosen[i] for i in ranking], [float(learned[i]) for i in ranking]
        else:
            assert bm25 is not None
            fuse = _convex if fusion == "convex" else _fused
            order, scores = fuse(dense, bm25, bm25_weight)
        hits: list[Hit] = []
        for i, score in zip(order, scores, strict=True):
            if len(hits) == k:
                break
            if all(h.source != self.chunks[i].source for h in hits):
                hits.append(self._hit(i, score, dense, bm25))
        return hits

    def _hit(self, i: int, score: float, dense: Scores | None, bm25: Scores | None) -> Hit:
        chunk = self.chunks[i]
        return Hit(
            chunk_id=chunk.id,
            text=chunk.text,
            source=chunk.source,
            score=float(score),
            dense=float(dense[i]) if dense is not None else None,
            bm25=float(bm25[i]) if bm25 is not None else None,
            question=faq_questions(chunk.question)[0] if chunk.question else None,
        )


def _starts(owners: list[int]) -> npt.NDArray[np.int64]:
    """Where each chunk's keys begin (they are contiguous, so its best key is a max over a slice)."""
    array = np.asarray(owners, dtype=np.int64)
    if not owners:
        return array
    return np.flatnonzero(np.r_[True, array[1:] != array[:-1]])


def _ranked(scores: Scores, limit: int, positive: bool = False) -> tuple[list[int], list[float]]:
    order = np.argsort(-scores, kind="stable")[:limit]
    if positive:
        order = order[scores[order] > 0]
    return [int(i) for i in order], [float(scores[i]) for i in order]


def _convex(dense: Scores, bm25: Scores, bm25_weight: float) -> tuple[list[int], list[float]]:
    """``(1 - w) * cosine + w * BM25 / the query's best BM25``: the scores themselves, not only their ranks,
    so a chunk far ahead in one retriever stays ahead (BM25's scale differs per query, hence the division)."""
    top = float(bm25.max()) if len(bm25) else 0.0
    lexical = bm25 / top if top > 0 else np.zeros_like(bm25)
    weight = min(1.0, bm25_weight)
    return _ranked(((1.0 - weight) * dense + weight * lexical).astype(np.float32), len(dense))


def _fused(dense: Scores, bm25: Scores, bm25_weight: float) -> tuple[list[int], list[float]]:
    """Weighted reciprocal rank fusion of the two retrievers' top :data:`CANDIDATES`; ties go to the chunk
    the embedding model prefers."""
    fused: dict[int, float] = {}
    rankings = (
        (1.0, _ranked(dense, CANDIDATES)[0]),
        (bm25_weight, _ranked(bm25, CANDIDATES, positive=True)[0]),
    )
    for weight, ranking in rankings:
        for rank, i in enumerate(ranking, start=1):
            fused[i] = fused.get(i, 0.0) + weight / (RRF_K + rank)
    order = sorted(fused, key=lambda i: (-fused[i], -float(dense[i])))
    return order, [fused[i] for i in order]
