"""The judge's measures on a tiny real model: bits per byte by hand, the copy rate, the discriminator
test's two ends, and the report of ``botkit train compare`` with every field for every model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from botkit.model.loader import LoadedModel, load_model
from botkit.testing.tiny_model import make_tiny_model
from botkit.training.importers import iter_chitchat
from botkit.training.judge import measures
from botkit.training.judge.discriminator_test import discriminator_accuracy


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return load_model(make_tiny_model(tmp_path_factory.mktemp("tiny")), device="cpu", dtype="float32")


def test_bits_per_byte_is_the_sum_of_minus_log2_p_over_the_bytes(tiny: LoadedModel) -> None:
    import torch

    reply = "hello there, 你好 🙂"
    dialogue = [{"role": "user", "content": "how are you today?"}, {"role": "assistant", "content": reply}]
    # By hand: the prompt as botkit serves it, then the reply's tokens and the end of the turn, each
    # scored from a fresh forward pass over everything before it.
    prompt = measures.encode_chat(tiny.tokenizer, dialogue[:1])
    target = tiny.tokenizer(reply, add_special_tokens=False)["input_ids"]
    target.append(tiny.tokenizer.convert_tokens_to_ids("<|im_end|>"))
    bits = 0.0
    with torch.no_grad():
        for j, token in enumerate(target):
            logits = tiny.model(input_ids=torch.tensor([prompt + target[:j]])).logits[0, -1]
            bits -= float(torch.log_softmax(logits.double(), -1)[token]) / math.log(2)
    got = measures.assistant_bits(tiny, [dialogue])
    assert got.tokens == len(target)
    assert got.bytes == len(reply.encode("utf-8")) == 24
    assert got.summary()["bits_per_byte"] == pytest.approx(bits / 24, rel=1e-5)
    assert got.summary()["perplexity_per_word"] == pytest.approx(
        2 ** (bits / 4), rel=1e-5
    )  # hello there 你 好


def test_a_dialogue_longer_than_the_context_is_scored_token_by_token_once(tmp_path: Path) -> None:
    lm = load_model(make_tiny_model(tmp_path, context_window=32), device="cpu", dtype="float32")
    dialogue = []
    for i in range(6):
        dialogue += [
            {"role": "user", "content": f"question number {i}, the cat sat on the mat"},
            {"role": "assistant", "content": f"answer {i}: I am a small test model."},
        ]
    _, labels = measures.encode_dialogue(lm.tokenizer, dialogue)
    got = measures.assistant_bits(lm, [dialogue])
    assert len(labels) > 4 * 32
    assert got.tokens == int((labels != measures.IGNORE).sum())
    assert got.bytes == sum(len(m["content"].encode()) for m in dialogue[1::2])
    assert 0 < got.bits < math.inf


def test_copy_rate_counts_an_exact_copy_and_not_a_near_one() -> None:
    training = frozenset({"I am fine, thanks.", "你好！"})
    replies = [
        "I am fine, thanks.",
        "  I am fine, thanks.\n",
        "I am fine, thanks!",
        "i am fine, thanks.",
        "I am fine thanks.",
        "你好",
        "你好！",
    ]
    assert measures.copy_rate(replies, training) == pytest.approx(3 / 7)
    assert measures.copy_rate([], training) == 0.0


@pytest.fixture(scope="module")
def human_pairs() -> tuple[list[str], list[str], list[str]]:
    """Contexts and last replies of 200 chitchat conversations, and the replies of 200 others."""
    cases = []
    for d in iter_chitchat():
        m = d["messages"]
        if len(m) >= 2 and m[-2]["role"] == "user":
            cases.append((m[-2]["content"], m[-1]["content"]))
        if len(cases) == 400:
            break
    return [c for c, _ in cases[:200]], [r for _, r in cases[:200]], [r for _, r in cases[200:]]


def test_discriminator_tells_a_constant_reply_from_people(human_pairs: tuple[list[str], ...]) -> None:
    contexts, human, _ = human_pairs
    result = discriminator_accuracy(contexts, human, ["I don't know."] * len(human), seed=0)
    assert result.accuracy >= 0.98
    assert result.pairs == 200
    assert result.folds == 5


def test_discriminator_is_at_chance_on_human_replies_from_another_split(
    human_pairs: tuple[list[str], ...],
) -> None:
    contexts, human, others = human_pairs
    result = discriminator_accuracy(contexts, human, others, seed=0)
    # 400 replies: one standard error of chance accuracy is 2.5 points; the tolerance is four of them.
    assert abs(result.accuracy - 0.5) <= 0.10, result


def test_discriminator_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="differ in number"):
        discriminator_accuracy(["a", "b"], ["x", "y"], ["z"])
