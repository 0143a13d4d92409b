"""The in-process search index: a matrix of unit vectors and a BM25 index over the same retrieval keys.

Every chunk has one or more retrieval keys (:func:`key_texts`): a passage is found by its heading path and
text; an FAQ entry by its question with its answer and by its question alone, so that a user's question can
match the company's question even where the answer uses other words. A chunk scores the best of its keys.
The same code runs on SQLite and PostgreSQL (the vectors come from the database, the search is numpy), so
both give the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from botkit.kb.embedder import Vectors
from botkit.kb.errors import ModelMismatch
from botkit.kb.storage import StoredChunk
from botkit.kb.tokenize import tokenize
from botkit.kb.types import Hit

Method = Literal["fused", "dense", "bm25"]
METHODS: tuple[Method, ...] = ("fused", "dense", "bm25")
RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al. 2009): 1 / (60 + rank)
CANDIDATES = 50  # each retriever's top chunks that take part in the fusion

Scores = npt.NDArray[np.float32]


def key_texts(heading: str, text: str, question: str | None) -> list[str]:
    """The texts a chunk is found by: ``[question + answer, question]`` for FAQ entries, else
    ``[heading path + text]``."""
    if question:
        return [f"{question}\n{text}", question]
    return [f"{heading}\n{text}" if heading else text]


class Index:
    """Dense and BM25 search over a snapshot of the knowledge base's chunks."""

    def __init__(self, chunks: Sequence[StoredChunk], dimension: int) -> None:
        self.chunks = list(chunks)
        owners: list[int] = []
        keys: list[Vectors] = []
        corpus: list[list[str]] = []
        for position, chunk in enumerate(self.chunks):
            texts = key_texts(chunk.source.heading, chunk.text, chunk.question)
            if len(chunk.vectors) != len(texts):
                raise ModelMismatch(
                    f"chunk {chunk.id} has {len(chunk.vectors)} stored vectors for {len(texts)} retrieval "
                    "keys: run `botkit kb reindex`"
                )
            owners.extend([position] * len(texts))
            keys.append(chunk.vectors)
            corpus.extend(tokenize(t) for t in texts)
        self._matrix: Vectors = np.vstack(keys) if keys else np.zeros((0, dimension), dtype=np.float32)
        self._owners = np.asarray(owners, dtype=np.int64)
        # Keys of one chunk are contiguous, so a chunk's best key is a max over its slice.
        self._starts = (
            np.flatnonzero(np.r_[True, self._owners[1:] != self._owners[:-1]]) if owners else self._owners
        )
        self._bm25: Any = None
        if any(corpus):
            import bm25s

            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)

    def __len__(self) -> int:
        return len(self.chunks)

    def dense_scores(self, query: Vectors) -> Scores:
        """Each chunk's best cosine similarity to the (unit) query vector."""
        if not self.chunks:
            return np.zeros(0, dtype=np.float32)
        return np.maximum.reduceat(self._matrix @ query, self._starts).astype(np.float32)

    def bm25_scores(self, terms: list[str]) -> Scores:
        """Each chunk's best BM25 score for the query terms (zero where no term occurs)."""
        if self._bm25 is None or not terms:
            return np.zeros(len(self.chunks), dtype=np.float32)
        by_key = np.asarray(self._bm25.get_scores(terms), dtype=np.float32)
        return np.maximum.reduceat(by_key, self._starts).astype(np.float32)

    def search(self, query: Vectors | None, question: str, method: Method, k: int) -> list[Hit]:
        """The ``k`` best chunks by ``method`` (with dense scores wherever there is a query vector)."""
        if not self.chunks:
            return []
        dense = self.dense_scores(query) if query is not None else None
        bm25 = self.bm25_scores(tokenize(question)) if method != "dense" else None
        if method == "dense":
            assert dense is not None
            order, scores = _ranked(dense, len(self.chunks))
        elif method == "bm25":
            assert bm25 is not None
            order, scores = _ranked(bm25, len(self.chunks), positive=True)
        else:
            assert dense is not None
            assert bm25 is not None
            order, scores = _fused(dense, bm25)
        return [self._hit(i, s, dense, bm25) for i, s in zip(order[:k], scores[:k], strict=True)]

    def _hit(self, i: int, score: float, dense: Scores | None, bm25: Scores | None) -> Hit:
        chunk = self.chunks[i]
        return Hit(
            chunk_id=chunk.id,
            text=chunk.text,
            source=chunk.source,
            score=float(score),
            dense=float(dense[i]) if dense is not None else None,
            bm25=float(bm25[i]) if bm25 is not None else None,
            question=chunk.question,
        )


def _ranked(scores: Scores, limit: int, positive: bool = False) -> tuple[list[int], list[float]]:
    order = np.argsort(-scores, kind="stable")[:limit]
    if positive:
        order = order[scores[order] > 0]
    return [int(i) for i in order], [float(scores[i]) for i in order]


def _fused(dense: Scores, bm25: Scores) -> tuple[list[int], list[float]]:
    """Reciprocal rank fusion of the two retrievers' top :data:`CANDIDATES`; ties go to the denser chunk."""
    fused: dict[int, float] = {}
    for ranking in (_ranked(dense, CANDIDATES)[0], _ranked(bm25, CANDIDATES, positive=True)[0]):
        for rank, i in enumerate(ranking, start=1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
    order = sorted(fused, key=lambda i: (-fused[i], -float(dense[i])))
    return order, [fused[i] for i in order]
