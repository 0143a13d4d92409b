"""The BM25 tokenizer: Chinese is cut into words, so a Chinese question meets its Chinese passage."""

from __future__ import annotations

import bm25s

from botkit.kb.tokenize import tokenize

PASSAGES = [
    "我们支持七天无理由退货，退货运费由顾客承担。",  # returns: 7 days, the customer pays the postage
    "订单付款后二十四小时内发货，偏远地区除外。",  # dispatch within 24 hours of payment
    "Our stores open from nine to six on weekdays.",
]
QUESTION = "退货运费谁出？"  # who pays the return postage?


def bm25_scores(tokenizer) -> list[float]:  # type: ignore[no-untyped-def]
    index = bm25s.BM25()
    index.index([tokenizer(p) for p in PASSAGES], show_progress=False)
    return [float(s) for s in index.get_scores(tokenizer(QUESTION))]


def test_english_is_lowercased_without_punctuation_stopwords_or_plural_endings() -> None:
    assert tokenize("How do I RETURN two boxes? Returns, returned & returning!") == [
        "return",
        "two",
        "box",
        "return",
        "return",
        "return",
    ]


def test_chinese_is_segmented_into_words() -> None:
    assert tokenize("国外买家退货流程是什么？") == ["国外", "买家", "退货", "流程"]
    # Search mode: a long word also yields the words inside it, so "运费" meets "退货运费".
    assert "运费" in tokenize("退货运费谁出？")


def test_a_chinese_question_finds_its_passage_by_bm25_where_whitespace_splitting_cannot() -> None:
    ours = bm25_scores(tokenize)
    assert max(range(3), key=lambda i: ours[i]) == 0
    assert ours[0] > 0
    # Split at whitespace (lowercased, punctuation stripped), a Chinese sentence is one "word" that no
    # question repeats: every passage scores nothing.
    whitespace = bm25_scores(lambda text: [w.strip("？，。?,.!") for w in text.lower().split()])
    assert whitespace == [0.0, 0.0, 0.0]
