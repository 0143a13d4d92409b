"""A diverging adversarial run stops with a message naming the cause and keeps the last good checkpoint."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from botkit.training.config import GANConfig
from botkit.training.gan.batch import Pair
from botkit.training.gan.discriminator import Discriminator, LSTMBackbone
from botkit.training.gan.lstm import LSTMGenerator
from botkit.training.gan.trainer import Diverged, GANTrainer
from botkit.training.metrics import read_metrics
from tests.training.conftest import tiny_loop

VOCAB = 16


class NaNAfter(Discriminator):
    """A discriminator whose output turns NaN from its ``n``-th call on (as an overflowing one would)."""

    def __init__(self, n: int) -> None:
        super().__init__(LSTMBackbone(VOCAB, 8, 8))
        self.n, self.calls = n, 0

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = super().forward(ids, attention)
        return out * math.nan if self.calls >= self.n else out


class AlwaysFake(Discriminator):
    """A discriminator that has won outright: P(human) about 0.00005 for everything."""

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        return super().forward(ids, attention) * 0 - 10.0


def _trainer(tmp_path: Path, disc: Discriminator, gen: LSTMGenerator | None = None) -> GANTrainer:
    torch.manual_seed(0)
    gen = gen or LSTMGenerator(VOCAB, 8, 8)
    g = torch.Generator().manual_seed(1)
    pairs = [Pair([], [0], torch.randint(1, VOCAB, (5,), generator=g).tolist()) for _ in range(20)]
    cfg = GANConfig(
        output_dir=tmp_path, max_new_tokens=5, patience=3, kl_coef=0.1,
        train=tiny_loop(max_steps=8, micro_batch_size=4, checkpoint_every=2),
    )  # fmt: skip
    return GANTrainer(gen, copy.deepcopy(gen), disc, pairs, cfg, pad_id=0, eos_id=None)


def test_a_nan_reward_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, NaNAfter(n=2 * 3 + 1))  # two calls a step: the fourth step goes NaN
    with pytest.raises(
        Diverged, match=r"diverged: reward and d_loss became nan at step 4; last good checkpoint"
    ):
        trainer.fit()
    assert read_metrics(tmp_path / "metrics.jsonl")[-1] == {
        "step": 4,
        "stopped": "reward and d_loss became nan at step 4",
    }
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=False)
    assert state["step"] == 2
    assert all(torch.isfinite(t).all() for t in state["discriminator"].values())


def test_reward_collapse_stops_the_run(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, AlwaysFake(LSTMBackbone(VOCAB, 8, 8)))
    with pytest.raises(Diverged, match=r"reward collapse: mean P\(human\) under 0.02 for 3 steps"):
        trainer.fit()
    assert trainer.step == 3


def test_one_repeated_reply_stops_the_run(tmp_path: Path) -> None:
    gen = LSTMGenerator(VOCAB, 8, 8)
    with torch.no_grad():
        gen.out.bias[5] = 1e4  # token 5 always: every reply is 5 5 5 5 5
    trainer = _trainer(tmp_path, Discriminator(LSTMBackbone(VOCAB, 8, 8)), gen)
    with pytest.raises(Diverged, match=r"mode collapse: every sampled reply was the same for 3 steps"):
        trainer.fit()
