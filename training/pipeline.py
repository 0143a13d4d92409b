"""The pipeline: tokenizer → pretrain → sft → eval into one output directory, then optionally ship.

Each stage writes into ``output_dir/<stage>``; a stage whose directory is marked complete is skipped, so
an interrupted pipeline picks up where it stopped (a half-done training stage resumes from its
checkpoint). The pipeline wires the stages together: pretraining reads the tokenizer it just trained,
SFT starts from the pretrained model, evaluation scores the SFT model against the pretrained one.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botkit.training.evaluate import EvalConfig
from botkit.training.outputs import check_writable, is_complete
from botkit.training.pretrain import PretrainConfig
from botkit.training.sft import SFTConfig
from botkit.training.tokenizer import TokenizerConfig

log = logging.getLogger(__name__)

STAGES = ("tokenizer", "pretrain", "sft", "eval")
SHIPPED = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
           "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")  # fmt: skip


@dataclass
class PipelineConfig:
    """The whole recipe.

    Attributes:
        output_dir: run directory; stages write into its sub-folders.
        stages: which stages to run, in pipeline order.
        tokenizer: tokenizer stage settings (its ``output_dir`` is set by the pipeline).
        pretrain: pretraining settings (``output_dir`` and ``tokenizer`` are set by the pipeline).
        sft: SFT settings (``output_dir`` and ``init_from`` are set by the pipeline).
        eval: evaluation settings (``model_dir``, ``output_dir`` set; baselines default to pretrain).
        ship_to: copy the final model, its evaluation and a model card here (e.g. botkit/data/default-model).
        card_template: Markdown with ``{placeholders}`` filled from the run to make the card.
    """

    output_dir: Path = Path("out/pipeline")
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    ship_to: Path | None = None
    card_template: Path | None = None


def wire(cfg: PipelineConfig) -> PipelineConfig:
    """Point each stage's inputs and outputs at the pipeline's directories."""
    out = cfg.output_dir
    cfg.tokenizer.output_dir = out / "tokenizer"
    cfg.pretrain.output_dir, cfg.pretrain.tokenizer = out / "pretrain", out / "tokenizer"
    cfg.sft.output_dir, cfg.sft.init_from = out / "sft", out / "pretrain"
    cfg.eval.model_dir, cfg.eval.output_dir = out / "sft", out / "eval"
    if not cfg.eval.baselines:
        cfg.eval.baselines = [out / "pretrain"]
    unknown = [s for s in cfg.stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; stages are {list(STAGES)}")
    return cfg


def run_pipeline(cfg: PipelineConfig) -> dict[str, Any]:
    """Run the stages in order, skipping complete ones; returns per-stage wall times and results."""
    from botkit.training.evaluate import run_eval
    from botkit.training.pretrain import run_pretrain
    from botkit.training.sft import run_sft
    from botkit.training.tokenizer import train_tokenizer

    wire(cfg)
    check_writable(cfg.output_dir)
    runs = {
        "tokenizer": (cfg.tokenizer.output_dir, lambda: train_tokenizer(cfg.tokenizer) and None),
        "pretrain": (cfg.pretrain.output_dir, lambda: run_pretrain(cfg.pretrain)),
        "sft": (cfg.sft.output_dir, lambda: run_sft(cfg.sft)),
        "eval": (cfg.eval.output_dir, lambda: run_eval(cfg.eval)),
    }
    report: dict[str, Any] = {}
    for stage in STAGES:
        if stage not in cfg.stages:
            continue
        out_dir, fn = runs[stage]
        if is_complete(out_dir, stage):  # type: ignore[arg-type]
            log.info("%s: complete in %s, skipped", stage, out_dir)
            report[stage] = {"skipped": True}
            continue
        t0 = time.perf_counter()
        result = fn()
        report[stage] = {"wall_s": time.perf_counter() - t0, "result": result}
        log.info("%s: done in %.0f s", stage, report[stage]["wall_s"])
    _record_times(cfg.output_dir, report)
    if cfg.ship_to is not None:
        ship(cfg)
    return report


def _record_times(out: Path, report: dict[str, Any]) -> None:
    path = out / "pipeline.json"
    times = json.loads(path.read_text()) if path.is_file() else {}
    for stage, r in report.items():
        if "wall_s" in r:
            times[stage] = round(r["wall_s"], 1)
    path.write_text(json.dumps(times, indent=2) + "\n")


def ship(cfg: PipelineConfig) -> Path:
    """Copy the final model, evaluation and loss plots to ``cfg.ship_to`` and write its model card."""
    from botkit.training.card import write_card

    dst = check_writable(cfg.ship_to)  # type: ignore[arg-type]
    src = cfg.sft.output_dir if "sft" in cfg.stages else cfg.pretrain.output_dir
    for name in SHIPPED:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    for name in ("eval.json", "eval.md", "heldout_subset.jsonl"):
        if cfg.eval.output_dir and (cfg.eval.output_dir / name).is_file():
            shutil.copy2(cfg.eval.output_dir / name, dst / name)
    for stage_dir in (cfg.pretrain.output_dir, cfg.sft.output_dir):
        if (stage_dir / "loss.png").is_file():
            shutil.copy2(stage_dir / "loss.png", dst / f"loss_{stage_dir.name}.png")
    if cfg.card_template is not None:
        write_card(cfg, dst)
    return dst
