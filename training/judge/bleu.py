"""BLEU against references and self-BLEU among a model's own replies, on the judge's words.

Words are :func:`botkit.training.textmetrics.words` (lower-cased; each CJK character a word), so the
measures mean the same in English and Chinese and agree with distinct-n.

``corpus_bleu`` is Papineni et al. (2002): clipped n-gram counts pooled over the corpus for n = 1..N,
their geometric mean with uniform weights, times the brevity penalty ``exp(1 - r/c)`` when the
hypotheses' total length ``c`` is shorter than the references' ``r``. Unsmoothed: a corpus with no
matching n-gram of some order scores 0, as in the paper.

``self_bleu`` is Zhu et al. (2018, Texygen): each reply scored by sentence BLEU against all the *other*
replies as references (clipping by the most any one of them holds; reference length the closest to the
hypothesis', shorter on ties), averaged. Sentence BLEU of short replies is often zero at some order, so,
as Texygen does through NLTK's ``SmoothingFunction().method1``, a zero count at order n is replaced by
``epsilon`` (0.1) over the order's n-gram count (at least 1), and a reply sharing no word with the
others scores 0, as NLTK does. Higher self-BLEU means the replies resemble each other: less diversity.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from botkit.training import textmetrics as tm

EPSILON = 0.1  # NLTK SmoothingFunction().method1's default


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    """The n-grams of ``tokens``, counted."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], max_n: int = 4) -> float:
    """Corpus BLEU-``max_n`` of ``hypotheses`` against one reference each (0..1).

    Raises:
        ValueError: the two sequences differ in length.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    matched, total = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for h, r in zip(hypotheses, references, strict=True):
        hw, rw = tm.words(h), tm.words(r)
        hyp_len, ref_len = hyp_len + len(hw), ref_len + len(rw)
        for n in range(1, max_n + 1):
            hg, rg = ngrams(hw, n), ngrams(rw, n)
            matched[n - 1] += sum((hg & rg).values())
            total[n - 1] += sum(hg.values())
    if min(matched) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(matched, total, strict=True)) / max_n
    return _brevity(hyp_len, ref_len) * math.exp(log_p)


def sentence_bleu(
    hypothesis: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4, epsilon: float = EPSILON
) -> float:
    """Smoothed sentence BLEU of one tokenised hypothesis against several tokenised references."""
    log_p = 0.0
    for n in range(1, max_n + 1):
        hg = ngrams(hypothesis, n)
        most: Counter[tuple[str, ...]] = Counter()
        for ref in references:
            most |= ngrams(ref, n)  # | keeps the larger count: clip by the most any one reference holds
        m = sum((hg & most).values())
        if n == 1 and m == 0:
            return 0.0  # no word in common: 0 whatever the smoothing (as NLTK)
        # NLTK divides by at least 1, so a reply shorter than n words gets epsilon at order n, not 0
        log_p += math.log((m if m else epsilon) / max(1, sum(hg.values())))
    closest = min((abs(len(r) - len(hypothesis)), len(r)) for r in references)[1] if references else 0
    return _brevity(len(hypothesis), closest) * math.exp(log_p / max_n)


def self_bleu(texts: Sequence[str], max_n: int = 4) -> float:
    """Mean smoothed sentence BLEU of each text against all the others (0 with fewer than two texts)."""
    tokens = [tm.words(t) for t in texts]
    if len(tokens) < 2:
        return 0.0
    scores = [sentence_bleu(t, tokens[:i] + tokens[i + 1 :], max_n) for i, t in enumerate(tokens)]
    return sum(scores) / len(scores)


def _brevity(hyp_len: int, ref_len: int) -> float:
    if hyp_len == 0:
        return 0.0
    return 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
