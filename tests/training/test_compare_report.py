"""``botkit train compare`` and ``botkit train tune-generation`` end to end on tiny real models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botkit.testing.tiny_model import make_tiny_model
from botkit.training.cli import main
from botkit.training.judge.compare import PROMPTS
from botkit.training.judge.tune import choose

WORDS = "cat dog bird sun tree mat log sky rain wind fish moon star road hill lake".split()


@pytest.fixture(scope="module")
def preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A preset whose [sft.data] has 60 chitchat-format conversations and 60 dialogues, half held out."""
    d = tmp_path_factory.mktemp("judge-data")
    conversations = {}
    for i in range(60):
        w = [WORDS[(i * k) % len(WORDS)] for k in (1, 3, 5, 7)]
        msgs = [
            [{"text": f"do you like the {w[0]}? ({i})", "sender": "a"}],
            [{"text": f"yes, the {w[1]} and the {w[2]} ({i})", "sender": "b"}],
            [{"text": f"what about the {w[3]}? ({i})", "sender": "a"}],
            [{"text": f"the {w[3]} is fine too ({i})", "sender": "b"}],
        ]
        conversations[f"c{i}"] = {"messages": msgs}
    (d / "chitchat.json").write_text(json.dumps(conversations))
    with (d / "dialogues.jsonl").open("w") as f:
        for i in range(60):
            turns = [
                {"role": "user", "content": f"hello {WORDS[i % 16]} ({i})"},
                {"role": "assistant", "content": f"hi, the {WORDS[(i + 5) % 16]} says hello ({i})"},
            ]
            f.write(json.dumps({"messages": turns}) + "\n")
    (d / "preset.toml").write_text(
        '[sft.data]\ndialogue_files = ["dialogues.jsonl"]\nchitchat_files = ["chitchat.json"]\n'
        "validation_fraction = 0.5\nsplit_seed = 0\n"
    )
    return d / "preset.toml"


SET_FIELDS = {
    "dialogues",
    "bits_per_byte",
    "perplexity_per_word",
    "assistant_bytes",
    "assistant_words",
    "assistant_tokens",
    "replies",
    "unigram_f1",
    "unigram_f1_se",
    "distinct_1",
    "distinct_2",
    "repetition_rate",
    "copy_rate",
    "mean_words",
    "discriminator",
    "examples",
}


def test_compare_writes_every_field_for_every_model(preset: Path, tmp_path: Path) -> None:
    a = make_tiny_model(tmp_path / "a", seed=0)
    b = make_tiny_model(tmp_path / "b", seed=1, hidden_size=48, heads=3)
    out = tmp_path / "report"
    args = [
        "compare",
        "--model",
        str(a),
        "--model",
        str(b),
        "--out",
        str(out),
        "--data",
        str(preset),
        "--max-new-tokens",
        "8",
        "--latency-runs",
        "1",
        "--replies-per-dialogue",
        "2",
    ]
    assert main(args) == 0
    result = json.loads((out / "compare.json").read_text())
    assert set(result["models"]) == {"a", "b"}
    assert result["settings"]["dialogues"]["chitchat"] > 0
    assert result["settings"]["dialogues"]["dialogues"] > 0
    for name, m in result["models"].items():
        assert {"parameters", "context_window", "sampling", "latency", "prompt_replies", "path"} <= set(m), (
            name
        )
        for set_name in ("chitchat", "dialogues"):
            entry = m[set_name]
            assert set(entry) == SET_FIELDS, (name, set_name)
            assert entry["bits_per_byte"] > 0
            assert entry["assistant_bytes"] > 0
            assert 0 <= entry["discriminator"]["accuracy"] <= 1
            assert entry["replies"] == result["settings"]["reply_cases"][set_name]
        assert len(m["prompt_replies"]) == len(PROMPTS) == 20
        assert m["latency"]["ttft_s"] > 0
        assert m["latency"]["reply_tokens"] >= 1
    # Two different models on the same text: different figures, the same bytes.
    ca, cb = result["models"]["a"]["chitchat"], result["models"]["b"]["chitchat"]
    assert ca["assistant_bytes"] == cb["assistant_bytes"]
    assert ca["bits_per_byte"] != cb["bits_per_byte"]
    md = (out / "compare.md").read_text()
    assert "| bits per byte / a's |" in md
    assert PROMPTS[10] in md
    assert (out / "compare.png").stat().st_size > 10_000


def test_tune_rule_takes_the_best_f1_within_the_bounds_else_the_nearest() -> None:
    human = {"repetition_rate": 0.05, "distinct_2": 0.8}
    rows = [
        {"setting": {"t": 1}, "unigram_f1": 0.30, "repetition_rate": 0.20, "distinct_2": 0.9},  # repeats
        {"setting": {"t": 2}, "unigram_f1": 0.20, "repetition_rate": 0.01, "distinct_2": 0.7},
        {"setting": {"t": 3}, "unigram_f1": 0.25, "repetition_rate": 0.02, "distinct_2": 0.5},  # too few
        {"setting": {"t": 4}, "unigram_f1": 0.10, "repetition_rate": 0.00, "distinct_2": 0.95},
    ]
    best, why = choose(rows, human, 0.75)
    assert best["setting"] == {"t": 2}
    assert "highest unigram F1" in why
    best, why = choose(rows[:1] + rows[2:3], human, 0.75)
    assert best["setting"] == {"t": 3}
    assert "misses them by least" in why


def test_tune_generation_writes_the_choice_where_it_is_read(preset: Path, tmp_path: Path) -> None:
    from botkit.model.loader import load_model
    from botkit.training.judge.measures import generation_defaults

    model = make_tiny_model(tmp_path / "m")
    report_path = tmp_path / "tune.json"
    args = [
        "tune-generation",
        "--model",
        str(model),
        "--data",
        str(preset),
        "--max-new-tokens",
        "6",
        "--out",
        str(report_path),
        "--write",
    ]
    assert main(args) == 0
    report = json.loads(report_path.read_text())
    assert len(report["grid"]) == 18
    assert report["contexts"] > 0
    written = json.loads((model / "generation_config.json").read_text())
    assert {k: written[k] for k in report["chosen"]} == report["chosen"]
    assert written["do_sample"] is True
    params = generation_defaults(load_model(model, device="cpu", dtype="float32"), 40)
    assert (params.temperature, params.top_p) == (report["chosen"]["temperature"], report["chosen"]["top_p"])
    assert params.repetition_penalty == report["chosen"]["repetition_penalty"]
