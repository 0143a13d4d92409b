"""Held-out questions: read from a file in CLINC150's JSON layout, and turned into what a calibration is
fitted on (``botkit kb calibrate --heldout FILE``, ``bench/kb_retrieval.py``), or into what the embedding
model learns from as well (``botkit kb tune --questions FILE``, :func:`tune_and_calibrate`).

The file is ``{"val": [[question, label], ...], "oos_val": [[question, "oos"], ...], ...}``; a label names
what answers the question: a citation as the bot prints it (``faq.csv > How long do I have to return an
item?``, ``returns.md > Refunds``) or, for an FAQ built from an intent set, the FAQ entry's answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from botkit.kb.calibration import Calibration, Example, fit
from botkit.kb.chunking import language_of
from botkit.kb.equivalents import Equivalents, answering, check_known, check_labels, label_names
from botkit.kb.errors import KBError
from botkit.kb.tokenize import tokenize

if TYPE_CHECKING:
    from botkit.kb.knowledge import KnowledgeBase, Progress
    from botkit.kb.tune import TuneConfig, TuneReport

Question = tuple[str, str]  # (question, label); the label "oos" for a question outside the knowledge base
OOS = "oos"


def read_heldout(path: Path, in_scope: str = "val", out_of_scope: str = "oos_val") -> list[Question]:
    """The questions of two splits of a CLINC150-layout file, in scope first.

    Raises:
        KBError: the file cannot be read, is not JSON, lacks a split, or a split is not a list of
            ``[question, label]`` pairs of non-empty strings (the message names the file and the place).
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise KBError(f"cannot read the held-out questions in {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise KBError(f"{path} is not JSON ({exc}); held-out questions are in CLINC150's layout") from None
    if not isinstance(raw, dict):
        raise KBError(f'{path}: expected a JSON object like {{"{in_scope}": [[question, label], ...]}}')
    questions: list[Question] = []
    for split in (in_scope, out_of_scope):
        pairs = raw.get(split)
        if not isinstance(pairs, list) or not pairs:
            raise KBError(f'{path} has no "{split}" split (a list of [question, label] pairs)')
        for i, pair in enumerate(pairs):
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(x, str) and x.strip() for x in pair)
            ):
                raise KBError(f"{path}: {split}[{i}] is not a [question, label] pair of two texts: {pair!r}")
            question, label = pair[0].strip(), pair[1].strip()
            questions.append((question, OOS if split == out_of_scope else label))
    return questions


def examples(
    kb: KnowledgeBase, questions: Sequence[Question], equivalents: Equivalents | None = None
) -> list[Example]:
    """How the knowledge base's index sees each question (its candidates' features); a candidate is
    correct when it is the question's label or one of the label's ``equivalents``
    (:mod:`botkit.kb.equivalents`).

    Raises:
        KBError: a label, or an entry of ``equivalents``, names nothing in the knowledge base (the message
            lists a few of them).
    """
    index = kb.index()
    known = {name for c in index.chunks for name in label_names(c)}
    check_labels((label for _, label in questions if label != OOS), known, "held-out")
    check_known(equivalents or {}, known)
    out: list[Example] = []
    for question, label in questions:
        text = kb.check_question(question)
        units = [c.source.label() for c in index.chunks]
        correct = answering(label, equivalents)
        answers = np.array([bool(correct & {c.source.label(), c.text.strip()}) for c in index.chunks])
        if language_of(text) not in kb.settings.dense_languages:
            ranked = index.bm25_scores(tokenize(text))
            top = int(np.argmax(ranked))
            coverage = float(index.coverages(set(tokenize(text)), [top])[0]) if ranked[top] > 0 else 0.0
            out.append(
                Example(np.zeros((0, 4)), answers[:0], (), label != OOS, lexical=True, coverage=coverage)
            )
            continue
        query = kb.embedder.encode([text])[0]
        chosen, features = index.candidates(query, text)
        out.append(Example(features, answers[chosen], [units[i] for i in chosen], label != OOS))
    return out


def calibrate(
    kb: KnowledgeBase,
    path: Path,
    *,
    precision: float = 0.9,
    recall: float = 0.8,
    equivalents: Equivalents | None = None,
) -> Calibration:
    """Fit a calibration on the ``val`` and ``oos_val`` questions of ``path`` and save it where ``kb`` looks
    for one (:attr:`~botkit.kb.knowledge.KnowledgeBase.calibration_file`); with ``equivalents``, a label's
    equivalents answer its questions too.

    Raises:
        KBError: the file is not held-out questions, it or ``equivalents`` names unknown labels, there are
            too few questions, or the knowledge base has nowhere to keep a calibration.
    """
    if kb.calibration_file is None:
        raise KBError("this knowledge base has no data directory to keep a calibration in")
    calibration = fit(
        examples(kb, read_heldout(path), equivalents), precision=precision, recall=recall, fitted_on=str(path)
    )
    calibration.save(kb.calibration_file)
    return calibration


def tune_and_calibrate(
    kb: KnowledgeBase,
    path: Path,
    config: TuneConfig,
    *,
    folds: int = 2,
    equivalents: Equivalents | None = None,
    progress: Progress | None = None,
) -> tuple[TuneReport, Calibration]:
    """Tune the embedding model on the knowledge base and the in-scope ``val`` questions of ``path``, and
    calibrate it on the same questions without letting it grade its own homework: a model tuned on the
    other ``folds - 1`` folds scores each fold (its out-of-scope questions split alike), the calibration is
    fitted on those out-of-fold scores, and the model kept is then tuned on every question. That is
    ``folds + 1`` tunes.

    Raises:
        KBError: as :func:`calibrate` and :meth:`~botkit.kb.knowledge.KnowledgeBase.tune`.
    """
    if kb.calibration_file is None:
        raise KBError("this knowledge base has no data directory to keep a calibration in")
    questions = read_heldout(path)
    inside = [q for q in questions if q[1] != OOS]
    outside = [q for q in questions if q[1] == OOS]
    known = {name for c in kb.index().chunks for name in label_names(c)}
    check_labels((label for _, label in inside), known, "question")  # before minutes of tuning, not after
    scored: list[Example] = []
    for fold in range(folds):
        learn = [q for i, q in enumerate(inside) if i % folds != fold]
        kb.tune(config, questions=learn, progress=progress)
        scored += examples(kb, inside[fold::folds] + outside[fold::folds], equivalents)
    calibration = fit(scored, fitted_on=f"{path} (scored out of fold, {folds} folds)")
    report = kb.tune(config, questions=inside, progress=progress)
    calibration.save(kb.calibration_file)
    return report, calibration
