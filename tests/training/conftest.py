"""Fixtures for the training tests: tiny corpora, a tiny tokenizer and tiny stage configs in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botkit.training.config import DataConfig, LoopConfig, ModelConfig

SENTENCES = [
    "the cat sat on the mat and looked at the dog.",
    "the dog sat on the log and looked at the cat.",
    "a bird sang in the tree while the sun came up.",
    "小猫坐在垫子上看着小狗。",
    "小狗坐在木头上看着小猫。",
    "emoji make people smile 🙂 and laugh 😂.",
]
DIALOGUES = [
    [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there, how are you?"}],
    [{"role": "user", "content": "who are you?"}, {"role": "assistant", "content": "I am a tiny test bot."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "你好"},
     {"role": "assistant", "content": "你好！"}],
    [{"role": "user", "content": "what is /reset?"}, {"role": "assistant", "content": "it clears the chat."},
     {"role": "user", "content": "thanks"}, {"role": "assistant", "content": "you are welcome."}],
]  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)  # two cores shared by several engineers and CI


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A text corpus (txt + jsonl) and a dialogue corpus (jsonl), a few KB each."""
    d = tmp_path_factory.mktemp("corpus")
    docs = [f"{s} ({i})" for i in range(60) for s in SENTENCES]
    (d / "text.txt").write_text("\n\n".join(docs[: len(docs) // 2]) + "\n", encoding="utf-8")
    with (d / "text.jsonl").open("w", encoding="utf-8") as f:
        for doc in docs[len(docs) // 2 :]:
            f.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
    with (d / "dialogues.jsonl").open("w", encoding="utf-8") as f:
        for i in range(40):
            for dia in DIALOGUES:
                # Each copy's last prompt and reply are its own: the held-out split keeps dialogues that
                # share either on the training side, so copies alike in both could never be held out.
                *head, prompt, reply = dia
                dia = [*head, {**prompt, "content": f"{prompt['content']} ({i})"},
                       {**reply, "content": f"{reply['content']} ({i})"}]  # fmt: skip
                f.write(json.dumps({"messages": dia}, ensure_ascii=False) + "\n")
    return d


@pytest.fixture(scope="session")
def tokenizer_dir(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer trained on the tiny corpora by the tokenizer stage."""
    from botkit.training.config import TokenizerConfig
    from botkit.training.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tok")
    data = DataConfig(text_files=[corpus_dir / "text.txt"], dialogue_files=[corpus_dir / "dialogues.jsonl"])
    train_tokenizer(TokenizerConfig(output_dir=out, data=data, vocab_size=400, min_frequency=1))
    return out


def tiny_model() -> ModelConfig:
    return ModelConfig(hidden_size=32, num_layers=2, num_heads=2, context_length=32)


def tiny_loop(**kw: object) -> LoopConfig:
    base: dict[str, object] = dict(
        max_steps=6, micro_batch_size=4, learning_rate=3e-3, warmup_steps=1, eval_every=0, eval_batches=2,
        checkpoint_every=0, log_every=1, progress=False, num_threads=1, device="cpu",
    )  # fmt: skip
    base.update(kw)
    return LoopConfig.model_validate(base)


@pytest.fixture(scope="session")
def pretrained_dir(corpus_dir: Path, tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model after a few pretraining steps (the starting point of the SFT tests)."""
    from botkit.training.config import PretrainConfig
    from botkit.training.pretrain import run_pretrain

    out = tmp_path_factory.mktemp("pretrained")
    cfg = PretrainConfig(
        output_dir=out, tokenizer=tokenizer_dir, data=DataConfig(text_files=[corpus_dir]),
        model=tiny_model(), train=tiny_loop(max_steps=8),
    )  # fmt: skip
    run_pretrain(cfg)
    return out
