"""Turning retrieved chunks into an answer: the FAQ's own text, the passage's relevant paragraph, or a
model's rephrasing of the passages where the settings allow it; below the threshold, "not sure"."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from botkit.kb.chunking import size
from botkit.kb.embedder import Embedder, Vectors
from botkit.kb.tokenize import tokenize
from botkit.kb.types import Hit, KBAnswer, Source
from botkit.types import ChatTurn, Generator, SamplingParams

log = logging.getLogger("botkit.kb")

WHOLE_PASSAGE_WORDS = 80  # shorter passages are answered whole: one paragraph of them would lose context
MIN_ANSWER_WORDS = 30  # a trimmed answer takes the next paragraphs until it is this long

REPHRASE_PROMPT = (
    "You answer the customers of a business. Use only the passages below; keep every number, time and "
    "condition exactly as written. If the passages do not answer the question, say that you are not sure. "
    "Answer in {language}, in at most four sentences.\n\n{passages}"
)


def confidence(hit: Hit | None, lexical: float | None = None) -> float:
    """How sure the knowledge base is of its top hit, in [0, 1].

    The top hit's cosine similarity to the question: a fused rank says which chunk is best, not how well
    it fits, and a question outside the knowledge base still has a best chunk. Where there is no
    similarity (BM25 alone, or a language the embedding model does not read), ``lexical``: the share of the
    question's terms found in the hit (:meth:`botkit.kb.index.Index.coverage`).
    """
    if hit is None:
        return 0.0
    if hit.dense is None:
        return lexical or 0.0
    return float(min(1.0, max(0.0, hit.dense)))


def paragraphs_of(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def relevant_paragraph(text: str, question: str, query: Vectors | None, embedder: Embedder | None) -> str:
    """The part of a long passage that answers: its paragraph closest to the question (by embedding, or by
    shared terms without one), with the paragraphs after it while they are short (a list's items).

    A passage of up to :data:`WHOLE_PASSAGE_WORDS` words is answered whole.
    """
    paragraphs = paragraphs_of(text)
    if len(paragraphs) <= 1 or size(text) <= WHOLE_PASSAGE_WORDS:
        return text.strip()
    if query is not None and embedder is not None:
        best = int(np.argmax(embedder.encode(paragraphs) @ query))
    else:
        terms = set(tokenize(question))
        best = int(np.argmax([len(terms & set(tokenize(p))) for p in paragraphs]))
    end = best + 1
    while end < len(paragraphs) and size("\n\n".join(paragraphs[best:end])) < MIN_ANSWER_WORDS:
        end += 1
    return "\n\n".join(paragraphs[best:end])


def direct_answer(
    question: str,
    hits: Sequence[Hit],
    sure: float,
    threshold: float,
    query: Vectors | None,
    embedder: Embedder | None,
) -> KBAnswer:
    """The answer without a model: the FAQ's text verbatim, or the top passage's relevant paragraph."""
    if not hits or sure < threshold:
        return KBAnswer(kind="unsure", text=None, confidence=sure, hits=tuple(hits))
    top = hits[0]
    if top.question is not None:
        return KBAnswer(kind="faq", text=top.text, confidence=sure, sources=(top.source,), hits=tuple(hits))
    text = relevant_paragraph(top.text, question, query, embedder)
    return KBAnswer(kind="passage", text=text, confidence=sure, sources=(top.source,), hits=tuple(hits))


async def rephrased(
    answer: KBAnswer,
    question: str,
    generator: Generator,
    threshold: float,
    passages: int,
    language: str | None,
) -> KBAnswer:
    """A passage answer rewritten by the dialogue model from the sure passages among the hits.

    FAQ answers and unsure ones are returned as they are; so is the passage answer when the model fails or
    says nothing (the extracted paragraph is still a good answer).
    """
    if answer.kind != "passage":
        return answer
    from botkit.errors import GenerationFailed

    used = [h for h in answer.hits if h.question is None and (h.dense or 0.0) >= threshold][:passages]
    used = used or [answer.hits[0]]
    numbered = "\n\n".join(f"[{i}] ({h.source.label()}) {h.text}" for i, h in enumerate(used, start=1))
    messages: list[ChatTurn] = [
        {
            "role": "system",
            "content": REPHRASE_PROMPT.format(
                language=language or "the language of the question", passages=numbered
            ),
        },
        {"role": "user", "content": question},
    ]
    try:
        generation = await generator.generate(messages, SamplingParams(max_new_tokens=160, temperature=0.3))
    except GenerationFailed as exc:
        log.warning("kb: the model could not rephrase the passages (%s); answering with the passage", exc)
        return answer
    text = generation.text.strip()
    if not text or generation.finish_reason == "error":
        return answer
    sources: list[Source] = []
    for hit in used:
        if hit.source not in sources:
            sources.append(hit.source)
    return KBAnswer(
        kind="passage", text=text, confidence=answer.confidence, sources=sources, hits=answer.hits
    )
