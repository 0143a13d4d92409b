"""The discriminator test: how well a small classifier tells human replies from a model's.

For each context there is a human reply and a model reply. A logistic-regression classifier over
character n-gram TF-IDF features of the reply text (n = 1..4 within word boundaries padded by spaces,
so it works for Chinese as for English; sublinear term frequency, smoothed idf, rows scaled to unit
length; the vocabulary is the ``max_features`` n-grams found in most training replies) is trained with
a fixed budget (``steps`` full-batch L-BFGS iterations, L2 penalty ``l2``) in torch, so it needs nothing
beyond the ``train`` extra. It is scored by grouped k-fold cross-validation: both replies to a context
fall in the same fold, so the classifier never sees the human answer to a context it is tested on, and
every reply is predicted once by a classifier that did not train on it.

The accuracy is the measure: about 100% when the model's replies are easy to tell apart (a constant
string, a stutter), about 50% when they read like the human ones, at least to a classifier of this kind.
It looks at the reply only, not at whether it fits its context; the relevance measures (unigram F1)
cover that. It takes plain strings so that the adversarial stage (``training/gan``, issue 12) can call
:func:`discriminator_accuracy` on its own generator's replies and report the same measure as
``botkit train compare``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

FEATURES = "logistic regression on char 1-4-gram TF-IDF of the reply (torch, L-BFGS)"


@dataclass
class DiscriminatorResult:
    """Held-out accuracy of the classifier and what it was measured on.

    Attributes:
        accuracy: share of replies classified correctly, over all folds.
        ci95: half-width of a 95% normal-approximation interval around ``accuracy``.
        pairs: contexts (each with one human and one model reply).
        folds: cross-validation folds.
        features: what the classifier sees.
    """

    accuracy: float
    ci95: float
    pairs: int
    folds: int
    features: str = FEATURES

    def to_dict(self) -> dict[str, float | int | str]:
        """The result as plain JSON values."""
        return asdict(self)


def char_ngrams(text: str, n_max: int = 4) -> Counter[str]:
    """Character n-grams (1..``n_max``) of each word padded with spaces, counted."""
    grams: Counter[str] = Counter()
    for word in text.lower().split():
        w = f" {word} "
        for n in range(1, n_max + 1):
            grams.update(w[i : i + n] for i in range(len(w) - n + 1))
    return grams


def discriminator_accuracy(
    contexts: Sequence[str],
    human: Sequence[str],
    model: Sequence[str],
    *,
    seed: int = 0,
    folds: int = 5,
    max_features: int = 16384,
    steps: int = 100,
    l2: float = 1e-3,
) -> DiscriminatorResult:
    """Grouped k-fold accuracy of a classifier telling ``human`` replies from ``model`` replies.

    Args:
        contexts: the context of each pair as text (it groups the folds; the classifier never reads it).
        human: the human reply to each context.
        model: the model's reply to the same context.
        seed: fixes the fold assignment (the fit itself is deterministic).
        folds: cross-validation folds (at most the number of distinct contexts).
        max_features: the n-gram vocabulary size.
        steps: L-BFGS iterations per fold (the fixed training budget).
        l2: weight of the L2 penalty.

    Raises:
        ValueError: the three sequences differ in length, or fewer than two distinct contexts.
    """
    if not len(contexts) == len(human) == len(model):
        raise ValueError(
            f"contexts, human and model replies differ in number: {len(contexts)}, {len(human)}, {len(model)}"
        )
    distinct = sorted(set(contexts))
    if len(distinct) < 2:
        raise ValueError("the discriminator test needs at least two distinct contexts")
    k = min(folds, len(distinct))
    order = np.random.default_rng(seed).permutation(len(distinct))
    fold_of_context = {distinct[j]: rank % k for rank, j in enumerate(order)}
    texts = [*human, *model]
    labels = np.array([1.0] * len(human) + [0.0] * len(model), dtype=np.float32)  # 1 = human
    fold = np.array([fold_of_context[c] for c in contexts] * 2)
    grams = [char_ngrams(t) for t in texts]
    correct = 0
    for f in range(k):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        vocab, idf = _vocabulary([grams[i] for i in train], max_features)
        w, b = _fit(_tfidf([grams[i] for i in train], vocab, idf), labels[train], steps, l2)
        scores = _tfidf([grams[i] for i in test], vocab, idf) @ w + b
        correct += int(((scores > 0).astype(np.float32) == labels[test]).sum())
    n = len(texts)
    accuracy = correct / n
    return DiscriminatorResult(
        accuracy=accuracy, ci95=1.96 * math.sqrt(accuracy * (1 - accuracy) / n), pairs=len(human), folds=k
    )


def _vocabulary(docs: list[Counter[str]], max_features: int) -> tuple[dict[str, int], np.ndarray]:
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    kept = sorted(df, key=lambda g: (-df[g], g))[:max_features]  # ties by the n-gram: deterministic
    vocab = {g: i for i, g in enumerate(kept)}
    idf = np.array([math.log((1 + len(docs)) / (1 + df[g])) + 1 for g in kept], dtype=np.float32)
    return vocab, idf


def _tfidf(docs: list[Counter[str]], vocab: dict[str, int], idf: np.ndarray) -> np.ndarray:
    x = np.zeros((len(docs), len(vocab)), dtype=np.float32)
    for row, d in enumerate(docs):
        for g, c in d.items():
            j = vocab.get(g)
            if j is not None:
                x[row, j] = (1 + math.log(c)) * idf[j]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _fit(x: np.ndarray, y: np.ndarray, steps: int, l2: float) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by full-batch L-BFGS from zero weights: deterministic."""
    import torch
    import torch.nn.functional as F

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(xt @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())
