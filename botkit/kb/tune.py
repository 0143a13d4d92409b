"""``botkit kb tune``: adapt the embedding model to the knowledge base it searches.

The shipped all-MiniLM-L6-v2 was trained on the web's sentence pairs, not on a shop's words ("Trailpoints",
"backordered"). Tuning fine-tunes a copy of it, contrastively, on pairs the knowledge base itself gives, so
that no question a user will ask is needed:

- an FAQ entry: each of its phrasings (question and alternates) with its answer, each alternate with the
  question it rephrases;
- a passage: its heading path with its text, and each of its sentences with the passage it sits in.

Questions people asked, each labelled with what answers it (``botkit kb tune --questions FILE``: the
questions agents answered, say), join them as pairs of the question with that chunk's text
(:func:`question_pairs`): the model then learns the customers' words as well as the company's.

The loss is the multiple-negatives ranking loss (Henderson et al. 2017; sentence-transformers'
``MultipleNegativesRankingLoss``): in a batch of pairs, each anchor must pick its own positive among all the
batch's positives. A batch never holds two pairs of one chunk, so no positive is another anchor's false
negative. The run is seeded, and one torch thread makes it repeat to the last bit on one machine.

The tuned model is saved in the data directory (:func:`tuned_model_dir`), written beside and then moved into
place; the knowledge base loads it instead of the shipped model whenever it is there (``kb.model_dir``, if
set, still wins), and :meth:`~botkit.kb.knowledge.KnowledgeBase.tune` re-embeds every chunk with it.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botkit.kb.chunking import faq_questions
from botkit.kb.equivalents import check_labels, label_names
from botkit.kb.errors import KBError
from botkit.kb.index import lexical_keys
from botkit.kb.storage import StoredChunk

TUNED_DIR = "kb-model"  # the tuned model's folder in the data directory
MIN_PAIRS = 8  # fewer pairs teach nothing but noise
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")

Pair = tuple[str, str, int]
"""``(anchor, positive, group)``: the group is the chunk the pair comes from (one per batch)."""

StepProgress = Callable[[int, int, str], None]
"""``progress(step, steps, "loss 0.123")`` after each training step."""


@dataclass(frozen=True)
class TuneConfig:
    """How the embedding model is tuned. The defaults were chosen on the example shop's val questions."""

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 3e-5
    warmup: float = 0.1  # share of the steps over which the learning rate rises from 0
    scale: float = 20.0  # cosines times this are the loss's logits (sentence-transformers' default)
    max_seq_length: int = 128  # word pieces; longer passages are cut (their sentences are paired too)
    seed: int = 0


@dataclass(frozen=True)
class TuneReport:
    """What a tune did."""

    pairs: int
    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    model_dir: Path


def tuned_model_dir(data_dir: Path) -> Path:
    """Where the tuned model of the knowledge base in ``data_dir`` is kept."""
    return data_dir / TUNED_DIR


def training_pairs(chunks: Sequence[tuple[int, str, str, str | None]]) -> list[Pair]:
    """The knowledge base's own pairs (see the module's docstring) from ``(id, heading, text, question)``."""
    pairs: list[Pair] = []
    for chunk_id, heading, text, question in chunks:
        if question:
            main, *alternates = faq_questions(question)
            pairs.extend((phrasing, text, chunk_id) for phrasing in (main, *alternates))
            pairs.extend((alternate, main, chunk_id) for alternate in alternates)
            continue
        passage = f"{heading}\n{text}" if heading else text
        if heading:
            pairs.append((heading, text, chunk_id))
        sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) >= 20]
        if len(sentences) > 1:
            pairs.extend((sentence, passage, chunk_id) for sentence in sentences)
    return pairs


def question_pairs(questions: Sequence[tuple[str, str]], chunks: Sequence[StoredChunk]) -> list[Pair]:
    """``(question, the labelled chunk's text, its id)`` for each labelled question.

    A label names the answer as :mod:`botkit.kb.heldout` does: a citation (``faq.csv > How long do I have
    to return an item?``) or an FAQ entry's answer. A section stored as several chunks is paired by its
    first: its heading and opening, which the label names.

    Raises:
        KBError: a label names nothing in the knowledge base (the message lists a few).
    """
    targets: dict[str, tuple[int, str]] = {}
    for chunk in chunks:
        text = lexical_keys(chunk.source.heading, chunk.text, chunk.question)[0]
        for name in label_names(chunk):
            targets.setdefault(name, (chunk.id, text))
    check_labels((label for _, label in questions), targets, "question")
    return [(question, targets[label][1], targets[label][0]) for question, label in questions]


def batches(pairs: Sequence[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """The pairs shuffled into batches of ``size`` in which no two pairs share a chunk (the last may be
    smaller; a batch of one pair has no negatives and is dropped)."""
    pending = list(pairs)
    rng.shuffle(pending)
    out: list[list[Pair]] = []
    while pending:
        batch: list[Pair] = []
        groups: set[int] = set()
        rest: list[Pair] = []
        for pair in pending:
            if len(batch) < size and pair[2] not in groups:
                batch.append(pair)
                groups.add(pair[2])
            else:
                rest.append(pair)
        if len(batch) > 1:
            out.append(batch)
        pending = rest if len(batch) > 1 else []
    return out


def fine_tune(
    base_dir: Path,
    out_dir: Path,
    pairs: Sequence[Pair],
    config: TuneConfig,
    progress: StepProgress | None = None,
) -> TuneReport:
    """Fine-tune the model in ``base_dir`` on ``pairs`` and save it to ``out_dir`` (replaced whole).

    Raises:
        KBError: fewer than :data:`MIN_PAIRS` pairs (a knowledge base too small to tune on).
    """
    if len(pairs) < MIN_PAIRS:
        raise KBError(
            f"the knowledge base gives {len(pairs)} training pairs, too few to tune on "
            f"(at least {MIN_PAIRS}): add documents first"
        )
    import torch
    from sentence_transformers import SentenceTransformer

    random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model: Any = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
    model.max_seq_length = config.max_seq_length
    plan = [batches(pairs, config.batch_size, rng) for _ in range(config.epochs)]
    steps = sum(len(epoch) for epoch in plan)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    warmup = max(1, int(steps * config.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    for batch in (b for epoch in plan for b in epoch):
        anchors = _embed(model, [p[0] for p in batch])
        positives = _embed(model, [p[1] for p in batch])
        # (batch, batch) scaled cosines; row i's right answer is column i, the others are its negatives
        logits = config.scale * anchors @ positives.T
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward untyped
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(len(losses), steps, f"loss {losses[-1]:.3f}")
    seconds = time.perf_counter() - start
    model.eval()
    _save(model, out_dir)
    return TuneReport(
        pairs=len(pairs),
        steps=steps,
        seconds=seconds,
        first_loss=losses[0] if losses else math.nan,
        last_loss=losses[-1] if losses else math.nan,
        model_dir=out_dir,
    )


def _embed(model: Any, texts: list[str]) -> Any:
    """Unit vectors ``(len(texts), dimension)`` with gradients (``encode`` runs without them)."""
    import torch

    features = model.preprocess(texts)
    vectors = model(features)["sentence_embedding"]
    return torch.nn.functional.normalize(vectors, dim=-1)


def _save(model: Any, out_dir: Path) -> None:
    """Write beside ``out_dir`` and move into place, so a process loading it never sees half a model."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(out_dir.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    model.save(str(staging))
    old = out_dir.with_name(out_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
