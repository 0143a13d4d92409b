"""What pretraining and SFT share around the loop: process setup, seeding, training, export."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botkit.training.config import LoopConfig
from botkit.training.distributed import DistInfo, barrier, setup
from botkit.training.loop import Trainer
from botkit.training.outputs import check_writable, mark_complete
from botkit.training.packing import TokenBlocks

log = logging.getLogger(__name__)


def start(out_dir: Path, loop: LoopConfig) -> DistInfo:
    """Set up the process group, threads and output directory for a stage.

    Raises:
        OutputError: ``out_dir`` cannot be written.
    """
    import torch

    if loop.num_threads:
        torch.set_num_threads(loop.num_threads)
    dist = setup(loop.device)
    if dist.is_main:
        check_writable(out_dir)
    barrier(dist)
    return dist


def train_and_export(
    *,
    stage: str,
    model: Any,
    tokenizer: Any,
    train: TokenBlocks,
    val: TokenBlocks | None,
    loop: LoopConfig,
    out_dir: Path,
    dist: DistInfo,
    config: dict[str, Any],
    export: Callable[[Any], Any] | None = None,
    stop_at: int | None = None,
) -> dict[str, Any]:
    """Run the shared loop, then save the (exported) model, tokenizer and a run summary.

    Args:
        stage: stage name, for the marker and progress bar.
        model: the model to train.
        tokenizer: saved beside the model.
        train: training blocks.
        val: validation blocks.
        loop: loop settings.
        out_dir: the stage's output directory; also the run directory.
        dist: process placement.
        config: the stage config as plain data, recorded in ``run.json``.
        export: turns the trained model into the one to save (e.g. merge LoRA adapters).
        stop_at: stop after this step without finishing the schedule (for tests of resume).
    """
    from botkit.training.modeling import save_model

    trainer = Trainer(model, train, val, loop, out_dir, dist=dist, name=stage)
    summary = trainer.fit(stop_at=stop_at)
    summary.update({"train_blocks": len(train), "val_blocks": len(val) if val is not None else 0})
    summary["parameters"] = sum(p.numel() for p in model.parameters())
    if dist.is_main:
        final = export(model) if export else model
        save_model(final, tokenizer, out_dir)
        (out_dir / "run.json").write_text(
            json.dumps({"stage": stage, "summary": summary, "config": config}, indent=2, ensure_ascii=False)
            + "\n"
        )
        # Only a run that reached its planned end is complete; one stopped by its time budget is
        # continued from its checkpoint by the next run (the pipeline reruns an incomplete stage).
        if summary["steps"] >= loop.max_steps:
            mark_complete(out_dir, stage, {"steps": summary["steps"]})
        else:
            log.warning(
                "%s: stopped at step %d of %d (%s); run it again to continue from its checkpoint",
                stage, summary["steps"], loop.max_steps, summary["stopped_by"],
            )  # fmt: skip
        log.info("%s: %s", stage, summary)
    barrier(dist)
    return summary
