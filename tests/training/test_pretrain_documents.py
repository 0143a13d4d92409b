"""Pretraining reads conversations as text, and never a conversation the judge holds out."""

from __future__ import annotations

import json
from pathlib import Path

from botkit.training.config import DataConfig, PipelineConfig
from botkit.training.config_file import load
from botkit.training.corpora import iter_dialogues, iter_documents

REPO = Path(__file__).resolve().parents[2]
PRESET = REPO / "training" / "presets" / "default_model.toml"


def _key(messages: list[dict[str, str]]) -> str:
    return json.dumps([m for m in messages if m["role"] != "system"], ensure_ascii=False, sort_keys=True)


def test_dialogues_become_documents_of_their_turns(tmp_path: Path) -> None:
    (tmp_path / "text.txt").write_text("A saying.\n\nAnother one.\n", encoding="utf-8")
    dialogues = tmp_path / "d.jsonl"
    rows = [
        {"messages": [{"role": "system", "content": "be kind"}, {"role": "user", "content": f"hi {i}"},
                      {"role": "assistant", "content": f" hello {i} "}]}
        for i in range(40)
    ]  # fmt: skip
    dialogues.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = DataConfig(text_files=[tmp_path / "text.txt"], dialogue_files=[dialogues], validation_fraction=0.2)
    train, val = list(iter_documents(cfg, "train")), list(iter_documents(cfg, "validation"))
    # the system turn is not text of the conversation; each turn is one line, trimmed
    dialogue_docs = [d for d in train + val if d.startswith("hi ")]
    assert sorted(dialogue_docs) == sorted(f"hi {i}\nhello {i}" for i in range(40))
    # a dialogue's document falls on the side of the split its dialogue does
    held = {m[1]["content"] for m in iter_dialogues(cfg, "validation")}
    assert {d.split("\n")[0] for d in val if d.startswith("hi ")} == held
    assert held
    assert len(held) < 40


def test_default_recipe_never_trains_on_the_judges_held_out_conversations() -> None:
    from botkit.training.judge.data import load_held_out

    cfg = load(PipelineConfig, PRESET)
    held = load_held_out()  # the judge's split: what `botkit train compare` reports on
    held_keys = {_key(d) for half in ("test", "tune") for s in held.sets(half).values() for d in s}
    assert len(held_keys) > 300
    for stage, data in (
        ("tokenizer", cfg.tokenizer.data),
        ("pretrain", cfg.pretrain.data),
        ("sft", cfg.sft.data),
    ):
        trained = {_key(d) for d in iter_dialogues(data, "train")}
        assert trained, stage
        assert not trained & held_keys, f"{stage} trains on {len(trained & held_keys)} held-out conversations"
