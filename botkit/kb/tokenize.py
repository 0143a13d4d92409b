"""The BM25 tokenizer: lowercased words without punctuation, Chinese segmented into words by jieba.

Whitespace splitting leaves a Chinese sentence as one "word", so a question never shares a term with the
passage that answers it; jieba cuts it into words (退货 / 政策), in its search mode, which also yields the
words inside a long one (货运费 → 货运, 运费, 货运费) so that they meet their shorter forms. English words
lose a plural or verb ending (a deliberately small rule set, not a full stemmer) so that "returns" meets
"return"; common function words are dropped because they dominate short questions.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import cache
from typing import Any

# A run of CJK ideographs (the ranges jieba's dictionary covers) or a run of letters and digits.
_IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(f"[{_IDEOGRAPHS}]+|[^\\W_{_IDEOGRAPHS}]+")
_CJK = re.compile(f"[{_IDEOGRAPHS}]")

# English function words plus the Chinese particles that carry no topic.
STOPWORDS = frozenset(
    """a an and are as at be been but by can could do does did for from had has have how i if in into is it
    its me my of on or our so than that the their them then there these they this to us was we were what
    when where which who why will with would you your yours am any about should shall may might must i'm
    我 你 您 的 了 吗 呢 吧 啊 是 在 和 与 或 也 就 都 而 及 着 过 把 被 让 给 对 这 那 个 么
    怎么 什么 如何 能 可以 要 想 请问 请 有 没有 我们 你们""".split()
)


@cache
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it announces building its dictionary on stderr otherwise
    return jieba


def _normalise_word(word: str) -> str:
    """Strip a plural or verb ending from an English word ("returns", "returned", "returning" → "return")."""
    if len(word) <= 3 or not word.isascii() or not word.isalpha():
        return word
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                return word
            if suffix == "es" and not word.endswith(("ches", "shes", "sses", "xes", "zes")):
                continue  # "prices" → "price" by the plain "s" rule, "boxes" → "box" here
            return word[: len(word) - len(suffix)] + keep
    return word


def _lone_letter(word: str) -> bool:
    return len(word) == 1 and word.isascii() and word.isalpha()


def tokenize(text: str) -> list[str]:
    """Terms of ``text`` for BM25: lowercase, no punctuation, Chinese cut into words, stopwords dropped."""
    text = unicodedata.normalize("NFKC", text).lower()
    terms: list[str] = []
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if _CJK.match(piece):
            words = [w for w in _jieba().lcut_for_search(piece) if w.strip()]
        else:
            words = [_normalise_word(piece)]
        # A lone Latin letter is what is left of "it's" or "e.g.": no topic in it.
        terms.extend(w for w in words if w not in STOPWORDS and not _lone_letter(w))
    return terms


def is_chinese(text: str, share: float = 0.2) -> bool:
    """Whether at least ``share`` of the letters in ``text`` are Chinese ideographs."""
    letters = [c for c in text if c.isalnum()]
    return bool(letters) and sum(1 for c in letters if _CJK.match(c)) / len(letters) >= share
