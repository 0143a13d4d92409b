"""A few steps of each training stage on a tiny model: losses fall, parameters move, resume is exact."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
import torch

from botkit.training.config import DataConfig, EvalConfig, LoraConfig, PretrainConfig, SFTConfig
from botkit.training.metrics import read_metrics
from botkit.training.pretrain import run_pretrain
from botkit.training.sft import run_sft
from tests.training.conftest import tiny_loop, tiny_model


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def _losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(run_dir / "metrics.jsonl") if "loss" in r}


def _pretrain_cfg(out: Path, corpus_dir: Path, tokenizer_dir: Path, **loop) -> PretrainConfig:
    return PretrainConfig(
        output_dir=out, tokenizer=tokenizer_dir, data=DataConfig(text_files=[corpus_dir]),
        model=tiny_model(), train=tiny_loop(**loop),
    )  # fmt: skip


def test_pretrain_lowers_loss_and_changes_parameters(
    corpus_dir: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    from botkit.training.modeling import build_model

    cfg = _pretrain_cfg(tmp_path / "pt", corpus_dir, tokenizer_dir, max_steps=8, eval_every=4)
    summary = run_pretrain(cfg)
    losses = _losses(cfg.output_dir)
    assert losses[8] < losses[1] - 0.3
    assert summary["val_loss"] < losses[1]
    torch.manual_seed(cfg.train.seed)
    initial = build_model(cfg.model, AutoTokenizer.from_pretrained(str(tokenizer_dir))).state_dict()
    trained = _weights(cfg.output_dir)
    changed = [k for k, v in trained.items() if not torch.equal(v, initial[k])]
    assert len(changed) == len(trained)  # every tensor moved
    for name in ("metrics.jsonl", "loss.png", "run.json", "stage.json", "checkpoints/last.pt"):
        assert (cfg.output_dir / name).is_file(), name


def test_resume_is_exact(corpus_dir: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    straight = _pretrain_cfg(tmp_path / "straight", corpus_dir, tokenizer_dir, max_steps=6)
    run_pretrain(straight)
    stopped = _pretrain_cfg(tmp_path / "stopped", corpus_dir, tokenizer_dir, max_steps=6)
    first = run_pretrain(stopped, stop_at=3)
    assert first["steps"] == 3
    assert not (stopped.output_dir / "stage.json").exists()
    second = run_pretrain(stopped)
    assert second["resumed"]
    assert second["steps"] == 6
    a, b = _losses(straight.output_dir), _losses(stopped.output_dir)
    assert [a[s] for s in (4, 5, 6)] == [b[s] for s in (4, 5, 6)]  # bit-for-bit, not approximately
    wa, wb = _weights(straight.output_dir), _weights(stopped.output_dir)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_sft_full_lowers_loss_on_assistant_tokens(
    corpus_dir: Path, pretrained_dir: Path, tmp_path: Path
) -> None:
    cfg = SFTConfig(
        output_dir=tmp_path / "sft", init_from=pretrained_dir,
        data=DataConfig(dialogue_files=[corpus_dir / "dialogues.jsonl"], validation_fraction=0.2),
        train=tiny_loop(max_steps=8, learning_rate=5e-3),
    )  # fmt: skip
    summary = run_sft(cfg)
    losses = _losses(cfg.output_dir)
    assert losses[8] < losses[1] - 0.3
    assert summary["val_tokens"] > 0
    before, after = _weights(pretrained_dir), _weights(cfg.output_dir)
    assert all(not torch.equal(before[k], after[k]) for k in after)


def test_lora_merges_and_loads(corpus_dir: Path, pretrained_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = SFTConfig(
        output_dir=tmp_path / "lora", init_from=pretrained_dir,
        data=DataConfig(dialogue_files=[corpus_dir / "dialogues.jsonl"]),
        lora=LoraConfig(enabled=True, r=4, alpha=8, target_modules=["q_proj", "v_proj"]),
        train=tiny_loop(max_steps=6, learning_rate=2e-2),
    )  # fmt: skip
    run_sft(cfg)
    losses = _losses(cfg.output_dir)
    assert losses[6] < losses[1]
    before, after = _weights(pretrained_dir), _weights(cfg.output_dir)
    assert set(after) == set(before)  # merged: no adapter tensors left
    moved = {k for k in after if not torch.equal(before[k], after[k])}
    assert moved
    assert all("q_proj" in k or "v_proj" in k for k in moved)
    model = AutoModelForCausalLM.from_pretrained(str(cfg.output_dir), local_files_only=True)
    tok = AutoTokenizer.from_pretrained(str(cfg.output_dir), local_files_only=True)
    ids = tok.apply_chat_template([{"role": "user", "content": "hello"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)["input_ids"]  # fmt: skip
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids.shape[1]


def test_eval_writes_json_and_markdown(corpus_dir: Path, pretrained_dir: Path, tmp_path: Path) -> None:
    import json

    from botkit.training.evaluate import run_eval

    cfg = EvalConfig(
        model_dir=pretrained_dir, output_dir=tmp_path / "eval",
        data=DataConfig(dialogue_files=[corpus_dir / "dialogues.jsonl"], validation_fraction=0.2),
        max_replies=3, subset_size=3, max_new_tokens=5, prompts=["hello", "你好"],
    )  # fmt: skip
    result = run_eval(cfg)
    saved = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert saved == json.loads(json.dumps(result))
    d = saved["dialogue"]
    assert d["perplexity"] > 1
    assert d["assistant_tokens"] > 0
    assert 0 <= d["unigram_f1"] <= 1
    assert 0 <= d["distinct_1"] <= 1
    assert 0 <= d["repetition_rate"] <= 1
    assert saved["baselines"]["unigram"] > 1
    assert [s["prompt"] for s in saved["samples"]] == ["hello", "你好"]
    assert "| perplexity |" in (tmp_path / "eval" / "eval.md").read_text()


@pytest.mark.parametrize("architecture", ["gpt2"])
def test_gpt2_architecture_trains(
    corpus_dir: Path, tokenizer_dir: Path, tmp_path: Path, architecture: Literal["gpt2"]
) -> None:
    cfg = _pretrain_cfg(tmp_path / "gpt2", corpus_dir, tokenizer_dir, max_steps=4)
    cfg.model.architecture = architecture
    run_pretrain(cfg)
    losses = _losses(cfg.output_dir)
    assert losses[4] < losses[1]


# torch 2.13's inductor imports torch.utils.mkldnn, which uses its own deprecated torch.jit.script_method.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_loop_matches_eager(corpus_dir: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    """``compile = true`` runs the same training through torch.compile (inductor on the CPU here)."""
    eager = _pretrain_cfg(tmp_path / "eager", corpus_dir, tokenizer_dir, max_steps=3, eval_every=3)
    compiled = _pretrain_cfg(
        tmp_path / "compiled", corpus_dir, tokenizer_dir, max_steps=3, eval_every=3, compile=True
    )
    run_pretrain(eager)
    run_pretrain(compiled)
    eager_losses, compiled_losses = _losses(eager.output_dir), _losses(compiled.output_dir)
    assert eager_losses.keys() == compiled_losses.keys()
    for step, loss in eager_losses.items():
        assert compiled_losses[step] == pytest.approx(loss, rel=1e-3), step
    exported = _weights(compiled.output_dir)
    assert not any(name.startswith("_orig_mod.") for name in exported)  # saved without the compile wrapper


def test_time_budget_stage_resumes_to_its_planned_end(
    corpus_dir: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    """A stage stopped by ``max_minutes`` is not finished: each pipeline rerun continues it, exactly."""
    import json
    import shutil

    from botkit.training.config import PipelineConfig
    from botkit.training.pipeline import run_pipeline

    straight = _pretrain_cfg(tmp_path / "straight", corpus_dir, tokenizer_dir, max_steps=4)
    run_pretrain(straight)
    out = tmp_path / "pipe"
    shutil.copytree(tokenizer_dir, out / "tokenizer")  # a finished tokenizer stage (it has its stage.json)
    budget = _pretrain_cfg(out / "unused", corpus_dir, tokenizer_dir, max_steps=4, max_minutes=1e-9)
    cfg = PipelineConfig(output_dir=out, stages=["tokenizer", "pretrain"], pretrain=budget)
    runs = []
    while not (out / "pretrain" / "stage.json").is_file():
        report = run_pipeline(cfg.model_copy(deep=True))  # as a rerun reads the file afresh
        runs.append(report)
        assert len(runs) <= 4, "the budget-limited stage never finished"
    assert len(runs) == 4  # a budget of ~0 lets each run do one step
    assert [r["pretrain"]["result"]["steps"] for r in runs] == [1, 2, 3, 4]
    assert [r["pretrain"]["result"]["stopped_by"] for r in runs] == ["time_budget"] * 3 + ["max_steps"]
    assert [r.get("unfinished") for r in runs] == ["pretrain"] * 3 + [None]
    assert all(r["tokenizer"] == {"skipped": True} for r in runs)
    assert json.loads((out / "pretrain" / "stage.json").read_text())["steps"] == 4
    # The same schedule and the same losses as a run that was never stopped.
    want = read_metrics(straight.output_dir / "metrics.jsonl")
    got = read_metrics(out / "pretrain" / "metrics.jsonl")
    assert [(r["step"], r["lr"], r["loss"]) for r in got if "loss" in r] == [
        (r["step"], r["lr"], r["loss"]) for r in want if "loss" in r
    ]
    wa, wb = _weights(straight.output_dir), _weights(out / "pretrain")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert run_pipeline(cfg.model_copy(deep=True))["pretrain"] == {"skipped": True}  # finished now


def test_tiny_preset_runs_every_stage(tmp_path: Path) -> None:
    """``training/presets/tiny.toml``, the README's first command, runs through (into a temporary folder)."""
    import json

    from botkit.training.config import PipelineConfig
    from botkit.training.config_file import load
    from botkit.training.pipeline import run_pipeline

    preset = Path(__file__).resolve().parents[2] / "training" / "presets" / "tiny.toml"
    cfg = load(PipelineConfig, preset)
    cfg.output_dir = tmp_path / "tiny"
    cfg.pretrain.train.progress = cfg.sft.train.progress = False
    report = run_pipeline(cfg)
    assert "unfinished" not in report
    for stage in ("tokenizer", "pretrain", "sft", "eval"):
        assert (tmp_path / "tiny" / stage / "stage.json").is_file(), stage
    result = json.loads((tmp_path / "tiny" / "eval" / "eval.json").read_text())
    assert result["dialogue"]["dialogues"] > 20  # the group split holds out chatterbot dialogues


def test_shipping_in_bfloat16_with_a_comparison_and_a_card(tmp_path: Path) -> None:
    """The default model's recipe in small: bfloat16 weights scored as stored, the previous model judged
    beside the new one by the pipeline, and the card filled from both reports and the sweep."""
    import json

    from safetensors import safe_open

    from botkit.testing.tiny_model import make_tiny_model
    from botkit.training.config import DataConfig, PipelineConfig
    from botkit.training.config_file import load
    from botkit.training.corpora import iter_dialogues
    from botkit.training.evaluate import load_model, score
    from botkit.training.pipeline import run_pipeline

    presets = Path(__file__).resolve().parents[2] / "training" / "presets"
    cfg = load(PipelineConfig, presets / "tiny.toml")
    cfg.output_dir = tmp_path / "run"
    cfg.ship_to = tmp_path / "shipped"
    cfg.ship_to.mkdir()
    cfg.card_template = presets / "default_model_card.md"
    sweep = tmp_path / "sweep.jsonl"
    sweep.write_text(
        json.dumps({"candidate": "v1k-h64-L2-c128", "vocab": 1000, "hidden": 64, "layers": 2, "context": 128,
                    "parameters": 123456, "steps": 7, "heldout_chitchat_bits_per_byte": 3.25}) + "\n"
        + json.dumps({"best": "v1k-h64-L2-c128"}) + "\n"
    )  # fmt: skip
    cfg.sweep_file = sweep
    cfg.compare_with = [make_tiny_model(tmp_path / "previous")]
    cfg.compare_dialogues = 2
    cfg.tune_generation, cfg.tune_dialogues = True, 2
    cfg.eval.weights_dtype = "bfloat16"
    cfg.pretrain.train.progress = cfg.sft.train.progress = False
    report = run_pipeline(cfg)
    assert "unfinished" not in report
    assert "compare" in report

    shipped = cfg.ship_to
    with safe_open(str(shipped / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    ev = json.loads((shipped / "eval.json").read_text())
    assert ev["weights"]["dtype"] == "bfloat16"
    assert abs(ev["weights"]["change"]) < 0.05
    # the figures are the stored weights': a fresh score of the shipped files repeats them exactly
    model, tok = load_model(shipped)
    subset = list(iter_dialogues(DataConfig(dialogue_files=[shipped / "heldout_subset.jsonl"])))
    fresh = score(model, tok, subset, cfg.eval, len(subset))
    assert fresh["perplexity"] == pytest.approx(ev["subset"]["perplexity"], rel=1e-4)
    compared = json.loads((shipped / "compare.json").read_text())
    assert list(compared["models"]) == ["previous", "this-model"]
    card = (shipped / "README.md").read_text()
    assert "| **v1k-h64-L2-c128** | 1000 | 64 | 2 | 128 | 0.12 M | 7 | **3.250** |" in card
    bpb = compared["models"]["this-model"]["chitchat"]["bits_per_byte"]
    assert f"{bpb:.3f}" in card  # compare.md's table is in the card
    assert "bfloat16 safetensors" in card
    tuned = json.loads((shipped / "tune.json").read_text())["chosen"]
    served = json.loads((shipped / "generation_config.json").read_text())
    assert {k: served[k] for k in tuned} == tuned  # the choice ships in the file botkit reads
    assert compared["models"]["this-model"]["sampling"]["temperature"] == tuned["temperature"]
    assert "Sampling defaults, chosen on" in card
    assert "{" not in card.split("## Model")[1][:2000]
