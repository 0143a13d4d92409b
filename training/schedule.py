"""What each optimizer step draws on: the learning-rate schedule, AdamW's parameter groups, the data order."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from botkit.training.config import LoopConfig


def lr_factor(step: int, cfg: LoopConfig) -> float:
    """Learning-rate multiplier at ``step``: linear warmup, then cosine down to ``min_lr_ratio``."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, cfg: LoopConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters; no decay on vectors (norm gains, biases)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2))


def sample_indices(position: int, count: int, n: int, seed: int) -> np.ndarray:
    """Block indices for samples ``position .. position+count`` of the endless shuffled stream.

    Epoch ``e`` is a permutation drawn from ``seed + e``, so a cursor fully determines the data.
    """
    out = np.empty(count, dtype=np.int64)
    for i in range(count):
        epoch, offset = divmod(position + i, n)
        out[i] = _permutation(n, seed + epoch)[offset]
    return out


@functools.lru_cache(maxsize=1)  # one epoch at a time is all a run needs
def _permutation(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)
