"""The held-out split of dialogues keeps paraphrases (same normalised prompt or reply) on one side."""

from __future__ import annotations

import json
import random
from pathlib import Path

from botkit.training.config import DataConfig, PipelineConfig
from botkit.training.config_file import load
from botkit.training.corpora import iter_dialogues
from botkit.training.split import held_out_flags
from botkit.training.textmetrics import normalize_answer

PRESET = Path(__file__).resolve().parents[2] / "training" / "presets" / "default_model.toml"


def _dialogue(prompt: str, reply: str, before: str = "") -> list[dict[str, str]]:
    first = [{"role": "user", "content": before}, {"role": "assistant", "content": "ok"}] if before else []
    return [*first, {"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]


def _prompt_and_reply(messages: list[dict[str, str]]) -> tuple[str, str]:
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    prompt = [m["content"] for m in messages[:last] if m["role"] == "user"][-1]
    return normalize_answer(prompt), normalize_answer(messages[last]["content"])


def _assert_no_leak(train: list, held_out: list) -> None:
    prompts = {_prompt_and_reply(m)[0] for m in train}
    replies = {_prompt_and_reply(m)[1] for m in train}
    for m in held_out:
        prompt, reply = _prompt_and_reply(m)
        assert prompt not in prompts, m
        assert reply not in replies, m


def _corpus() -> list[list[dict[str, str]]]:
    groups = []
    for g in range(40):  # paraphrase groups chained through shared prompts and replies
        groups += [
            _dialogue(f"Tell me about topic {g}?", f"Topic {g} is nice."),
            _dialogue(f"tell me about TOPIC {g}", f"I like topic {g}!", before="hi"),  # same prompt
            _dialogue(f"What of topic {g}...", f"i like the topic {g}"),  # same reply as the one above
        ]
    singles = [_dialogue(f"question number {i}", f"answer number {i}") for i in range(200)]
    return groups + singles


def test_no_held_out_dialogue_shares_a_prompt_or_reply_with_training() -> None:
    corpus = _corpus()
    flags = held_out_flags(corpus, fraction=0.3, seed=0)
    train = [m for m, f in zip(corpus, flags, strict=True) if not f]
    held_out = [m for m, f in zip(corpus, flags, strict=True) if f]
    assert 20 < len(held_out) <= 0.3 * len(corpus) + 10
    _assert_no_leak(train, held_out)
    for g in range(40):  # each chained group lies on one side
        assert len(set(flags[3 * g : 3 * g + 3])) == 1


def test_split_ignores_file_order_and_repeats(tmp_path: Path) -> None:
    corpus = _corpus()
    lines = [json.dumps({"messages": m}, ensure_ascii=False) for m in corpus]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    random.Random(0).shuffle(lines)
    (tmp_path / "b.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def held_out(*files: str) -> set[str]:
        cfg = DataConfig(dialogue_files=[tmp_path / f for f in files], validation_fraction=0.3)
        return {json.dumps(m, sort_keys=True) for m in iter_dialogues(cfg, "validation")}

    assert held_out("a.jsonl")
    assert held_out("a.jsonl") == held_out("b.jsonl") == held_out("a.jsonl", "a.jsonl")
    other_seed = DataConfig(dialogue_files=[tmp_path / "a.jsonl"], validation_fraction=0.3, split_seed=1)
    assert {json.dumps(m, sort_keys=True) for m in iter_dialogues(other_seed, "validation")} != held_out(
        "a.jsonl"
    )


def test_default_preset_split_has_no_leak_and_sft_never_sees_eval() -> None:
    cfg = load(PipelineConfig, PRESET)
    train = list(iter_dialogues(cfg.eval.data, "train"))
    held_out = list(iter_dialogues(cfg.eval.data, "validation"))
    assert len(held_out) > 40
    _assert_no_leak(train, held_out)
    # [sft.data] lists some sources twice; its held-out dialogues are the evaluation's.
    sft_held_out = {json.dumps(m, sort_keys=True) for m in iter_dialogues(cfg.sft.data, "validation")}
    assert sft_held_out == {json.dumps(m, sort_keys=True) for m in held_out}
    _assert_no_leak(list(iter_dialogues(cfg.sft.data, "train")), held_out)
