"""Fused search on a hand-built index (vectors chosen by the test, so the scores are known): learned fusion
scores candidates by a calibration's weights, the convex fusion weighs the scores themselves, and a section
split into several chunks is one answer, returned once."""

from __future__ import annotations

import numpy as np
import pytest

from botkit.kb.calibration import SHIPPED, Calibration
from botkit.kb.index import Index
from botkit.kb.storage import StoredChunk
from botkit.kb.types import Source


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


QUERY = unit(1.0, 0.0, 0.0)


def chunk(i: int, document: str, heading: str, text: str, vector: np.ndarray) -> StoredChunk:
    return StoredChunk(i, Source(document, heading), text, None, "en", vector.reshape(1, -1))


def index() -> Index:
    return Index(
        [
            # Closest to the question by embedding, but without its rare word.
            chunk(1, "shipping.md", "Delivery", "Parcels arrive within three days.", unit(1.0, 0.25, 0.0)),
            # A little further by embedding, and the only one that names the "kayak".
            chunk(2, "shipping.md", "Oversized", "A kayak ships by freight.", unit(1.0, 0.4, 0.0)),
            # Two chunks of one section: one answer.
            chunk(3, "care.txt", "", "Wash a tent by hand.", unit(0.6, 0.0, 0.8)),
            chunk(4, "care.txt", "", "Dry a tent in the shade.", unit(0.5, 0.0, 0.85)),
        ],
        3,
    )


def test_the_convex_weight_trades_the_cosine_against_bm25() -> None:
    idx = index()
    dense_only = idx.search(QUERY, "how does a kayak ship", "fused", 1, bm25_weight=0.0, fusion="convex")
    assert dense_only[0].chunk_id == 1
    fused = idx.search(QUERY, "how does a kayak ship", "fused", 2, bm25_weight=0.3, fusion="convex")
    assert [h.chunk_id for h in fused] == [2, 1]  # the rare word outweighs a 0.04 lead in cosine
    top = fused[0]
    assert top.dense is not None
    assert top.bm25 is not None
    assert top.score == pytest.approx(0.7 * top.dense + 0.3 * 1.0)  # the best BM25 of the query counts as 1


def test_rrf_fusion_stays_available_by_setting() -> None:
    hits = index().search(QUERY, "how does a kayak ship", "fused", 2, bm25_weight=1.0, fusion="rrf")
    assert {h.chunk_id for h in hits} == {1, 2}
    assert hits[0].score == pytest.approx(1 / 62 + 1 / 61)  # dense rank 2 and BM25 rank 1


def test_a_section_split_into_chunks_is_one_answer() -> None:
    hits = index().search(unit(0.55, 0.0, 0.83), "tent", "dense", 3)
    labels = [h.source.label() for h in hits]
    assert labels[0] == "care.txt"
    assert len(labels) == len(set(labels)) == 3  # k different answers, not the care guide twice


def test_learned_fusion_scores_candidates_by_the_calibrations_weights() -> None:
    idx = index()
    question = "how does a kayak ship"
    chosen, features = idx.candidates(QUERY, question)
    row = {idx.chunks[i].id: features[n] for n, i in enumerate(chosen)}
    # cosine, whole-text cosine, coverage (the kayak chunk holds the question's rare words), FAQ or not
    assert row[2][0] == pytest.approx(float(unit(1.0, 0.4, 0.0) @ QUERY))
    assert row[2][2] > row[1][2]
    assert row[1][3] == row[2][3] == 0.0
    by_cosine = Calibration(rank=(1.0, 0.0, 0.0, 0.0), sure=SHIPPED.sure, lexical_cut=0.1)
    assert idx.search(QUERY, question, "fused", 1, calibration=by_cosine)[0].chunk_id == 1
    by_terms = Calibration(rank=(1.0, 0.0, 1.0, 0.0), sure=SHIPPED.sure, lexical_cut=0.1)
    top, second = idx.search(QUERY, question, "fused", 2, calibration=by_terms)
    assert top.chunk_id == 2
    assert top.score == pytest.approx(row[2][0] + row[2][2])
    assert second.score == pytest.approx(row[1][0] + row[1][2])
