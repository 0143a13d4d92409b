"""The pipeline: tokenizer → pretrain → sft → eval into one output directory, then optionally ship.

Each stage writes into ``output_dir/<stage>``; a stage whose directory is marked complete is skipped, so
an interrupted pipeline picks up where it stopped (a half-done training stage resumes from its
checkpoint). A training stage stopped by its time budget is not complete: the pipeline stops after it
(later stages would build on a half-trained model) and the next run continues it to its planned end.
The pipeline wires the stages together: pretraining reads the tokenizer it just trained,
SFT starts from the pretrained model, evaluation scores the SFT model against the pretrained one.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botkit.training.card import write_card
from botkit.training.config import STAGES, PipelineConfig
from botkit.training.outputs import check_writable, is_complete

log = logging.getLogger(__name__)

SHIPPED = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
           "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")  # fmt: skip


def wire(cfg: PipelineConfig) -> PipelineConfig:
    """Point each stage's inputs and outputs at the pipeline's directories."""
    out = cfg.output_dir
    cfg.tokenizer.output_dir = out / "tokenizer"
    cfg.pretrain.output_dir, cfg.pretrain.tokenizer = out / "pretrain", out / "tokenizer"
    cfg.sft.output_dir, cfg.sft.init_from = out / "sft", out / "pretrain"
    cfg.eval.model_dir, cfg.eval.output_dir = out / "sft", out / "eval"
    if not cfg.eval.baselines:
        cfg.eval.baselines = [out / "pretrain"]
    if cfg.gan is not None and "sft" in cfg.stages:  # the optional adversarial step: after sft, before eval
        cfg.gan.init_from, cfg.gan.output_dir = out / "sft", out / "gan"
        cfg.eval.model_dir = out / "gan"
    if cfg.vae is not None:  # the optional last step: compress the final model's weights
        cfg.vae.model_dir, cfg.vae.output_dir = cfg.eval.model_dir, out / "vae"
    return cfg


def run_pipeline(cfg: PipelineConfig) -> dict[str, Any]:
    """Run the stages in order, skipping complete ones; returns per-stage wall times and results."""
    from botkit.training.evaluate import run_eval
    from botkit.training.pretrain import run_pretrain
    from botkit.training.sft import run_sft
    from botkit.training.tokenizer import train_tokenizer

    wire(cfg)
    check_writable(cfg.output_dir)
    runs: dict[str, Callable[[], Any]] = {
        "tokenizer": lambda: train_tokenizer(cfg.tokenizer) and None,
        "pretrain": lambda: run_pretrain(cfg.pretrain),
        "sft": lambda: run_sft(cfg.sft),
        "eval": lambda: run_eval(cfg.eval),
    }
    report: dict[str, Any] = {}
    if cfg.gan is not None:
        from botkit.training.gan.stage import run_gan

        gan = cfg.gan
        runs["gan"] = lambda: run_gan(gan)
    if cfg.tune_generation:
        runs["tune"] = lambda: _tune(cfg)
    if cfg.compare_with:
        runs["compare"] = lambda: _compare(cfg)
    if cfg.vae is not None:
        from botkit.training.compress.stage import run_vae

        vae = cfg.vae
        runs["vae"] = lambda: {"bits_per_weight": run_vae(vae)["bits_per_weight"]}
    for stage in _order(cfg):
        out_dir = cfg.output_dir / stage  # where wire() pointed the stage
        if is_complete(out_dir, stage):
            log.info("%s: complete in %s, skipped", stage, out_dir)
            report[stage] = {"skipped": True}
            continue
        t0 = time.perf_counter()
        result = runs[stage]()
        report[stage] = {"wall_s": time.perf_counter() - t0, "result": result}
        if not is_complete(out_dir, stage):
            steps = result.get("steps") if isinstance(result, dict) else None
            report["unfinished"] = stage
            log.warning("%s: unfinished after %s steps; rerun the pipeline to continue it", stage, steps)
            break
        log.info("%s: done in %.0f s", stage, report[stage]["wall_s"])
    _record_times(cfg.output_dir, report)
    if cfg.ship_to is not None and "unfinished" not in report:
        ship(cfg, cfg.ship_to)
    return report


def _order(cfg: PipelineConfig) -> list[str]:
    stages: list[str] = [s for s in STAGES if s in cfg.stages]
    if cfg.gan is not None and "sft" in stages:
        stages.insert(stages.index("sft") + 1, "gan")
    if cfg.tune_generation and "eval" in stages:
        stages.insert(stages.index("eval") + 1, "tune")
    if cfg.compare_with and "eval" in stages:
        stages.insert(stages.index("eval") + 1 + cfg.tune_generation, "compare")
    if cfg.vae is not None:
        stages.append("vae")
    return stages


def _tune(cfg: PipelineConfig) -> dict[str, Any]:
    """Choose the evaluated model's sampling defaults on the judge's tuning half; written into its
    ``generation_config.json`` (so into the shipped copy) and reported in ``tune/tune.json``."""
    from botkit.training.judge.tune import TuneOptions, run_tune
    from botkit.training.outputs import mark_complete

    out = cfg.output_dir / "tune"
    opts = TuneOptions(
        model=cfg.eval.model_dir,
        dialogues=cfg.tune_dialogues,
        threads=cfg.eval.num_threads,
        write=True,
        out=out / "tune.json",
    )
    report = run_tune(opts)
    mark_complete(out, "tune")
    return {"chosen": report["chosen"], "why": report["why"]}


def _compare(cfg: PipelineConfig) -> dict[str, Any]:
    """Judge the evaluated model beside ``cfg.compare_with`` on the held-out split of its own SFT sources."""
    from botkit.training.judge.compare import CompareOptions, run_compare
    from botkit.training.outputs import mark_complete

    missing = [str(p) for p in cfg.compare_with if not (Path(p) / "config.json").is_file()]
    if missing:
        raise FileNotFoundError(
            f"compare_with: no model in {', '.join(missing)} (training/README.md says how to get the "
            "previous default model back from git, or drop compare_with from the config)"
        )
    out = cfg.output_dir / "compare"
    model_dir = cfg.eval.model_dir
    if cfg.eval.weights_dtype != "float32":  # judge the weights that ship, rounded as they are stored
        model_dir = out / "this-model"
        model_dir.mkdir(parents=True, exist_ok=True)
        for name in SHIPPED:
            if (cfg.eval.model_dir / name).is_file():
                shutil.copy2(cfg.eval.model_dir / name, model_dir / name)
        _save_weights_as(cfg.eval.model_dir, model_dir, cfg.eval.weights_dtype)
    opts = CompareOptions(
        models=[*map(Path, cfg.compare_with), model_dir],
        out=out,
        dialogues=cfg.compare_dialogues,
        threads=cfg.eval.num_threads,
    )  # on the judge's own held-out split (judge/data.py), which no default-model preset trains on
    result = run_compare(opts)
    mark_complete(out, "compare")
    return {"wall_s": result["wall_s"]}


def _record_times(out: Path, report: dict[str, Any]) -> None:
    # A stage continued from its checkpoint adds this run's time to the earlier runs'.
    path = out / "pipeline.json"
    times = json.loads(path.read_text()) if path.is_file() else {}
    for stage, r in report.items():
        if isinstance(r, dict) and "wall_s" in r:
            result = r.get("result")
            resumed = isinstance(result, dict) and result.get("resumed")
            times[stage] = round(r["wall_s"] + (times.get(stage, 0.0) if resumed else 0.0), 1)
    path.write_text(json.dumps(times, indent=2) + "\n")


def _save_weights_as(src: Path, dst: Path, dtype: str) -> None:
    """Write ``src``'s weights into ``dst`` in ``dtype`` (the evaluation scored these rounded weights)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=getattr(torch, dtype), local_files_only=True)
    model.save_pretrained(str(dst), safe_serialization=True)


def ship(cfg: PipelineConfig, dst: Path) -> Path:
    """Copy the final model, evaluation and loss plots of a wired pipeline to ``dst``, with its model card."""
    check_writable(dst)
    src = cfg.sft.output_dir if "sft" in cfg.stages else cfg.pretrain.output_dir
    if cfg.gan is not None and "sft" in cfg.stages:
        src = cfg.gan.output_dir
    for name in SHIPPED:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    if cfg.eval.weights_dtype != "float32":
        _save_weights_as(src, dst, cfg.eval.weights_dtype)
    for name in ("compare/compare.json", "compare/compare.md", "compare/compare.png", "tune/tune.json"):
        if (cfg.output_dir / name).is_file():
            shutil.copy2(cfg.output_dir / name, dst / Path(name).name)
    for name in ("eval.json", "eval.md", "heldout_subset.jsonl"):
        if cfg.eval.output_dir and (cfg.eval.output_dir / name).is_file():
            shutil.copy2(cfg.eval.output_dir / name, dst / name)
    for stage_dir in (cfg.pretrain.output_dir, cfg.sft.output_dir):
        if (stage_dir / "loss.png").is_file():
            shutil.copy2(stage_dir / "loss.png", dst / f"loss_{stage_dir.name}.png")
    if cfg.card_template is not None:
        write_card(cfg, cfg.card_template, dst)
    return dst
