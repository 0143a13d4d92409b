"""Reply-quality measures that need no model: unigram F1, distinct-n, repetition, a unigram LM baseline.

Words are whitespace/punctuation-separated runs for alphabetic scripts and single characters for CJK,
so the measures mean the same in English and Chinese. Unigram F1 first normalises both texts as SQuAD's
official evaluation script does (lower case, no punctuation, no articles, single spaces).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\u3400-\u9fff\uf900-\ufaff]+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased words; each CJK character is a word of its own."""
    return _WORD.findall(text.lower())


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CJK = re.compile(r"([\u3400-\u9fff\uf900-\ufaff])")


def normalize_answer(text: str) -> str:
    """Normalise as SQuAD's official evaluation script does: lower case, drop punctuation and the
    articles a/an/the, collapse whitespace.

    Punctuation is every Unicode punctuation character (SQuAD's ASCII set, plus CJK marks such as
    ``，。！``), removed without a space, so ``don't`` becomes ``dont`` as in SQuAD.
    """
    text = "".join(ch for ch in text.lower() if not unicodedata.category(ch).startswith("P"))
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_tokens(text: str) -> list[str]:
    """The tokens SQuAD's F1 compares: the normalised text split on whitespace, each CJK character alone."""
    return _CJK.sub(r" \1 ", normalize_answer(text)).split()


def unigram_f1(hypothesis: str, reference: str) -> float:
    """Word-overlap F1 between a reply and a reference, as SQuAD's official script computes it.

    Both are normalised by :func:`normalize_answer`; tokens count with multiplicity. When either
    side has no tokens left, F1 is 1 if both are empty, else 0 (SQuAD 2.0's rule).
    """
    hyp, ref = answer_tokens(hypothesis), answer_tokens(reference)
    if not hyp or not ref:
        return float(hyp == ref)
    common = sum((Counter(hyp) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(hyp), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct n-grams over all n-grams, pooled over ``texts`` (0 when there are none)."""
    grams: list[tuple[str, ...]] = []
    for t in texts:
        w = words(t)
        grams.extend(tuple(w[i : i + n]) for i in range(len(w) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(text: str, n: int = 2) -> float:
    """Share of a reply's word n-grams that repeat an earlier n-gram of the same reply."""
    w = words(text)
    grams = [tuple(w[i : i + n]) for i in range(len(w) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def unigram_perplexity(
    train_ids: Iterable[Sequence[int]], eval_ids: Iterable[Sequence[int]], vocab: int
) -> float:
    """Perplexity of an add-one-smoothed unigram model fit on ``train_ids``, measured on ``eval_ids``."""
    counts: Counter[int] = Counter()
    for seq in train_ids:
        counts.update(seq)
    total = sum(counts.values()) + vocab
    nll, n = 0.0, 0
    for seq in eval_ids:
        for t in seq:
            nll -= math.log((counts[t] + 1) / total)
            n += 1
    return math.exp(nll / n) if n else float("nan")
