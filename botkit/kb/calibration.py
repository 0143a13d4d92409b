"""Calibration: how fused search weighs its evidence, and how sure it is of its top answer.

Both are fitted on held-out questions (``botkit kb calibrate --heldout FILE``), never guessed:

- **ranking**: each candidate chunk of a question is scored ``w · features``, the features being
  :data:`FEATURES`: its best cosine over its retrieval keys, the cosine of its whole text (an FAQ entry's
  question with its answer, a passage's heading path with its text), the idf-weighted share of the question's
  terms it contains (:meth:`botkit.kb.index.Index.coverage`) and whether it is an FAQ entry. The weights are a
  conditional logit (a softmax over each question's candidates) fitted so that the chunk that answers ranks
  first;
- **confidence**: a logistic regression on the top answer's score and its margin over the second answer,
  fitted on in-scope against out-of-scope questions. Its cut is chosen on the same questions by
  :func:`choose_cut` and folded into the intercept, so that a confidence of 0.5 is the chosen threshold
  (``kb.threshold``'s default). The cut aims past the out-of-scope recall asked for, by :data:`MARGIN_Z`
  standard errors of a recall measured on that many questions: a cut that just reaches 80% on 40 questions
  misses it on new questions about half the time;
- **lexical cut**: for questions ranked by BM25 alone (a language the embedding model does not read), the
  coverage at which the top answer counts as sure, chosen by the same rule on those questions.

The shipped calibrations (:data:`SHIPPED` for the shipped model, :data:`TUNED` for one ``botkit kb tune``
made) were fitted by ``bench/kb_retrieval.py`` on the example shop's validation questions; a calibration of
one's own is kept in the data directory (:data:`CALIBRATION_FILE`) and used instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from botkit.kb.errors import KBError

FEATURES = ("cosine", "whole", "coverage", "faq")
CALIBRATION_FILE = "kb-calibration.json"  # in the data directory
LEXICAL_SLOPE = 10.0  # how fast a BM25-only answer's confidence rises with coverage past its cut
MARGIN_Z = 1.28  # one-sided 90%: the recall aimed at is recall + 1.28 * sqrt(recall (1 - recall) / n)
MIN_EXAMPLES = 5  # fewer in-scope or out-of-scope questions choose no cut (the default one is kept)
SURE = 0.5  # the confidence at the chosen cut (kb.threshold's default)

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Calibration:
    """Fitted weights (see the module's docstring)."""

    rank: tuple[float, ...]  # one weight per feature of FEATURES
    sure: tuple[float, float, float]  # top score's weight, margin's weight, intercept (cut folded in)
    lexical_cut: float  # BM25-only answers: the coverage from which the answer is sure
    fitted_on: str = ""  # what it was fitted on, for people reading the file

    def score(self, features: Matrix) -> Matrix:
        """``(n,)`` ranking scores of ``(n, len(FEATURES))`` candidate features."""
        return np.asarray(features, dtype=np.float64) @ np.asarray(self.rank, dtype=np.float64)

    def confidence(self, top: float, second: float | None) -> float:
        """How sure the top answer is, in (0, 1); 0.5 is the threshold chosen on held-out questions."""
        margin = top - second if second is not None else top
        a, b, c = self.sure
        return _sigmoid(a * top + b * margin + c)

    def lexical_confidence(self, coverage: float) -> float:
        """A BM25-only answer's confidence from its coverage; 0.5 at :attr:`lexical_cut`."""
        return _sigmoid(LEXICAL_SLOPE * (coverage - self.lexical_cut))

    def save(self, path: Path) -> None:
        """Write it as JSON (beside, then moved into place)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(path.name + ".new")
        staging.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        staging.replace(path)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read a file :meth:`save` wrote.

        Raises:
            KBError: the file is not a calibration (it names the file and what is wrong).
        """
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            rank = tuple(float(x) for x in raw["rank"])
            a, b, c = (float(x) for x in raw["sure"])
            calibration = cls(rank, (a, b, c), float(raw["lexical_cut"]), str(raw.get("fitted_on", "")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KBError(
                f"{path} is not a knowledge-base calibration ({exc.__class__.__name__}: {exc})"
            ) from None
        if len(rank) != len(FEATURES):
            raise KBError(
                f"{path}: 'rank' has {len(rank)} weights, not {len(FEATURES)} ({', '.join(FEATURES)})"
            )
        return calibration


# Fitted by `bench/kb_retrieval.py` on the example shop's val + oos_val questions (README, "How well it
# retrieves"): SHIPPED with the all-MiniLM-L6-v2 weights as shipped, TUNED with the model `botkit kb tune`
# made of the example shop. A knowledge base without a calibration of its own uses the one of its model.
SHIPPED = Calibration(
    rank=(14.89, 11.78, 7.030, -0.8936),
    sure=(0.9370, -0.4691, -12.73),
    lexical_cut=0.145,
    fitted_on="bench/data/shop_heldout.json val + oos_val, all-MiniLM-L6-v2 as shipped",
)
TUNED = Calibration(
    rank=(11.55, 16.91, 7.806, -1.664),
    sure=(1.026, -0.5942, -13.28),
    lexical_cut=0.145,
    fitted_on="bench/data/shop_heldout.json val + oos_val, the model `botkit kb tune` made of the example",
)


@dataclass(frozen=True)
class Example:
    """One held-out question as the index saw it.

    ``features`` are its candidate chunks' features, ``(n, len(FEATURES))``; ``correct`` marks the
    candidates that answer it (none for a question outside the knowledge base, or whose answer was not among
    the candidates); ``units`` names each candidate's answer unit (its citation), so that a section's chunks
    count once when scores are turned into a ranking of answers. ``lexical`` questions were ranked by BM25
    alone: ``coverage`` is their top answer's coverage.
    """

    features: Matrix
    correct: npt.NDArray[np.bool_]
    units: Sequence[str]
    in_scope: bool
    lexical: bool = False
    coverage: float = 0.0


def top_two(calibration: Calibration, example: Example) -> tuple[int, float, float | None]:
    """The best candidate's position and score, and the score of the best of another answer unit."""
    scores = calibration.score(example.features)
    order = np.argsort(-scores, kind="stable")
    best = int(order[0])
    second = next((float(scores[i]) for i in order if example.units[i] != example.units[best]), None)
    return best, float(scores[best]), second


def choose_cut(in_scope: npt.NDArray[np.bool_], scores: Matrix, precision: float, recall: float) -> float:
    """The lowest cut at which, of the questions scoring at or above it, at least ``precision`` are in
    scope and at least ``recall`` of the out-of-scope ones score under it; without one, the lowest with the
    precision; without that, the most precise. Cuts are taken halfway between consecutive scores."""
    values = np.unique(scores)
    cuts = np.concatenate([[values[0] - 1.0], (values[1:] + values[:-1]) / 2, [values[-1] + 1.0]])
    outside = int((~in_scope).sum())
    both: list[float] = []
    precise: list[float] = []
    best = (-1.0, float(cuts[-1]))
    for cut in cuts:
        answered = scores >= cut
        kept = int(answered.sum())
        share = float((answered & in_scope).sum() / kept) if kept else 1.0
        caught = float((~answered & ~in_scope).sum() / outside) if outside else 1.0
        if share >= precision and caught >= recall:
            both.append(float(cut))
        if share >= precision:
            precise.append(float(cut))
        if share > best[0]:
            best = (share, float(cut))
    return (both or precise or [best[1]])[0]


def fit(
    examples: Sequence[Example],
    *,
    precision: float = 0.9,
    recall: float = 0.8,
    l2: float = 0.01,
    margin_z: float = MARGIN_Z,
    fitted_on: str = "",
) -> Calibration:
    """A calibration fitted on ``examples`` (see the module's docstring): ``precision`` is the share of
    in-scope questions among those answered, ``recall`` the share of out-of-scope ones caught, both aimed
    at on ``examples`` (the recall plus ``margin_z`` standard errors).

    Raises:
        KBError: too few examples to fit on: fewer than :data:`MIN_EXAMPLES` in-scope questions whose
            answer is among their candidates, or fewer than :data:`MIN_EXAMPLES` out of scope.
    """
    dense = [e for e in examples if not e.lexical]
    ranked = [e for e in dense if e.in_scope and e.correct.any()]
    outside = [e for e in dense if not e.in_scope]
    if len(ranked) < MIN_EXAMPLES or len(outside) < MIN_EXAMPLES:
        raise KBError(
            f"too few held-out questions to calibrate on: {len(ranked)} answerable ones found among the "
            f"candidates and {len(outside)} out of scope (at least {MIN_EXAMPLES} of each)"
        )
    rank = _fit_ranking(ranked, l2)
    ranking = Calibration(tuple(float(w) for w in rank), (0.0, 0.0, 0.0), SHIPPED.lexical_cut)
    pairs = [top_two(ranking, e)[1:] for e in dense]
    x = np.array([[top, top - second if second is not None else top] for top, second in pairs])
    y = np.array([e.in_scope for e in dense])
    a, b, c = _fit_logistic(x, y, l2)
    logits = x @ np.array([a, b]) + c
    cut = choose_cut(y, logits, precision, _aim(recall, len(outside), margin_z))
    lexical = [e for e in examples if e.lexical]
    lexical_in = np.array([e.in_scope for e in lexical], dtype=bool)
    lexical_cut = SHIPPED.lexical_cut
    if min(int(lexical_in.sum()), int((~lexical_in).sum())) >= MIN_EXAMPLES:
        aim = _aim(recall, int((~lexical_in).sum()), margin_z)
        lexical_cut = choose_cut(lexical_in, np.array([e.coverage for e in lexical]), precision, aim)
    return Calibration(ranking.rank, (a, b, c - cut), lexical_cut, fitted_on)


def _aim(recall: float, n: int, z: float) -> float:
    """The recall to reach on ``n`` questions so that ``recall`` holds on new ones (at ``z``)."""
    return min(1.0, recall + z * math.sqrt(recall * (1 - recall) / n))


def _fit_ranking(examples: Sequence[Example], l2: float) -> Matrix:
    """Conditional-logit weights: each question's candidates a softmax, the answering ones its target."""
    from scipy.optimize import minimize  # type: ignore[import-untyped]  # scipy ships no type hints

    def loss(w: Matrix) -> tuple[float, Matrix]:
        total, grad = l2 * float(w @ w), 2 * l2 * w
        for e in examples:
            s = e.features @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            gold = p[e.correct].sum()
            total -= math.log(gold)
            # d(-log gold)/dw = E_p[x] - E_{p | gold}[x]
            grad = grad + p @ e.features - (p[e.correct] / gold) @ e.features[e.correct]
        return total, grad

    result = minimize(loss, np.zeros(len(FEATURES)), jac=True, method="L-BFGS-B")
    return np.asarray(result.x, dtype=np.float64)


def _fit_logistic(x: Matrix, y: npt.NDArray[np.bool_], l2: float) -> tuple[float, float, float]:
    """Weights and intercept of an L2-regularised logistic regression (the intercept unpenalised)."""
    from scipy.optimize import minimize

    design = np.hstack([x, np.ones((len(x), 1))])
    target = y.astype(np.float64)
    penalty = np.array([l2] * x.shape[1] + [0.0])

    def loss(w: Matrix) -> tuple[float, Matrix]:
        z = design @ w
        # log(1 + e^z) - y z, written to stay finite for large |z|
        value = float(np.sum(np.logaddexp(0.0, z) - target * z) + penalty @ (w * w))
        grad = design.T @ (_sigmoids(z) - target) + 2 * penalty * w
        return value, grad

    result = minimize(loss, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B")
    a, b, c = (float(v) for v in result.x)
    return a, b, c


def _sigmoids(z: Matrix) -> Matrix:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


def _sigmoid(z: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * z))
