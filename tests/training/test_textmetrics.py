"""Reply measures: unigram F1 normalises as SQuAD's official script does."""

from __future__ import annotations

import pytest

from botkit.training.textmetrics import answer_tokens, normalize_answer, unigram_f1


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("The Denver Broncos", "denver broncos"),
        ("  Denver   Broncos. ", "denver broncos"),
        ("an apple, a pear and the plum!", "apple pear and plum"),
        ("Don't stop", "dont stop"),  # punctuation removed without a space, as SQuAD does
        ("Theory of another anthem", "theory of another anthem"),  # articles only as whole words
        ("你好，世界！", "你好世界"),  # CJK punctuation is punctuation too
    ],
)
def test_normalize_answer_like_squad(text: str, normalised: str) -> None:
    assert normalize_answer(text) == normalised


@pytest.mark.parametrize(
    ("hypothesis", "reference", "f1"),
    [
        ("the Denver Broncos", "Denver Broncos", 1.0),  # articles do not count
        ("Denver Broncos!", "denver broncos", 1.0),  # neither do case and punctuation
        ("the cat sat on the mat", "a cat on a mat", 6 / 7),  # P = 3/4, R = 3/3
        ("cat cat", "cat", 2 / 3),  # with multiplicity: P = 1/2, R = 1
        ("Dogs.", "cats", 0.0),
        ("The.", "a!", 1.0),  # both empty after normalising: SQuAD 2.0 scores 1
        ("...", "yes", 0.0),  # one empty: 0
        ("你好！", "你好", 1.0),  # each CJK character a token
        ("你好吗", "你好", 0.8),  # P = 2/3, R = 1
    ],
)
def test_unigram_f1_squad_cases(hypothesis: str, reference: str, f1: float) -> None:
    assert unigram_f1(hypothesis, reference) == pytest.approx(f1)


def test_answer_tokens_split_cjk_characters_and_keep_words() -> None:
    assert answer_tokens("I like 北京 a lot.") == ["i", "like", "北", "京", "lot"]
