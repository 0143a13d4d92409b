"""Training checkpoints that resume exactly: model, optimizer, scheduler, RNG states and the step.

The step is also the data position: the data order is a seeded permutation per epoch
(``botkit.training.schedule.sample_indices``), so no iterator state needs saving.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def save_state(path: Path, step: int, model: torch.nn.Module, optimizer: Any, scheduler: Any) -> None:
    """Write a checkpoint atomically (a crash mid-save leaves the previous one intact)."""
    state = {
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_state(
    path: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, device: torch.device
) -> int | None:
    """Restore a checkpoint into the given objects; returns its step, or None when there is none."""
    if not path.is_file():
        return None
    # weights_only=False: the RNG states are plain Python/numpy objects, and the file is our own.
    state = torch.load(path, map_location=device, weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = state["rng"]
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"].cpu())
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return int(state["step"])
