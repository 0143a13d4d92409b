"""The adversarial loop: per step one discriminator update, one policy-gradient update, and teacher forcing.

Before the first step, ``discriminator_warmup`` discriminator-only steps train the classifier on human
replies against the starting generator's samples, so that the first rewards carry a signal.

It stops on divergence (a non-finite reward or loss, a mean reward under ``collapse_reward``, or every
sampled reply the same, the last two for ``patience`` steps in a row) with a message naming the cause; the
checkpoint on disk is then the last one saved before it, never the diverged state. Checkpoints hold
both models, both optimizers, the generator's schedule, the reward baseline, the divergence counters and
the RNG states, and the data order is a function of the step, so a resumed run repeats an uninterrupted
one exactly.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from botkit.training.config import GANConfig
from botkit.training.distributed import DistInfo, all_reduce_sum
from botkit.training.gan.batch import Pair, make_batch
from botkit.training.gan.policy import (
    discriminator_update,
    generator_update,
    mle_update,
    precision,
    sample_replies,
)
from botkit.training.metrics import MetricsLog, Progress
from botkit.training.schedule import lr_factor, make_optimizer, sample_indices

log = logging.getLogger(__name__)


class Diverged(ValueError):
    """The adversarial run went wrong; the message says how and where the last good checkpoint is."""


@dataclass
class Health:
    """What the divergence checks carry from step to step (saved in checkpoints)."""

    baseline: float = 0.5
    collapsed_steps: int = 0
    repeated_steps: int = 0
    warmed: int = 0  # discriminator warm-up steps done
    extra: dict[str, Any] = field(default_factory=dict)


class GANTrainer:
    """Trains ``generator`` against ``discriminator`` on ``pairs``; writes metrics and checkpoints.

    Args:
        generator: the causal LM being trained (a Hugging Face model or ``LSTMGenerator``).
        reference: the frozen model the KL penalty pulls towards.
        discriminator: the reply classifier.
        pairs: the human (context, reply) pairs.
        cfg: the stage settings.
        pad_id: padding token id; eos_id: the end-of-reply token id (None: replies run to the cap).
        dist: this process's place in the job.
    """

    def __init__(
        self,
        generator: Any,
        reference: Any,
        discriminator: Any,
        pairs: list[Pair],
        cfg: GANConfig,
        *,
        pad_id: int,
        eos_id: int | None,
        dist: DistInfo | None = None,
    ) -> None:
        self.cfg, self.pairs, self.pad_id, self.eos_id = cfg, pairs, pad_id, eos_id
        self.dist = dist or DistInfo()
        self.device = torch.device(self.dist.device)
        self.generator = generator.to(self.device)
        self.reference = reference.to(self.device).requires_grad_(False).eval()
        self.discriminator = discriminator.to(self.device)
        loop = cfg.train
        self.g_opt = make_optimizer(self.generator, loop)
        self.g_sched = torch.optim.lr_scheduler.LambdaLR(self.g_opt, lambda s: lr_factor(s, loop))
        self.d_opt = make_optimizer(
            self.discriminator, loop.model_copy(update={"learning_rate": cfg.discriminator_lr})
        )
        self.g_net, self.d_net = self.generator, self.discriminator
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_net = DDP(self.generator, device_ids=ids)
            self.d_net = DDP(self.discriminator, device_ids=ids)
        self.step, self.health = 0, Health()
        self.out_dir = Path(cfg.output_dir)
        self.metrics = MetricsLog(self.out_dir / "metrics.jsonl", enabled=self.dist.is_main)

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoints" / "last.pt"

    def save_checkpoint(self) -> None:
        """Write everything needed to continue exactly (main rank; atomically)."""
        if self.dist.is_main:
            state = {
                "step": self.step, "health": self.health.__dict__,
                "generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                "g_opt": self.g_opt.state_dict(), "g_sched": self.g_sched.state_dict(),
                "d_opt": self.d_opt.state_dict(),
                "rng": (random.getstate(), np.random.get_state(), torch.get_rng_state(),
                        torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None),
            }  # fmt: skip
            self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.checkpoint_path.with_suffix(".tmp")
            torch.save(state, tmp)
            tmp.replace(self.checkpoint_path)
        if self.dist.enabled:
            torch.distributed.barrier()

    def load_checkpoint(self) -> bool:
        """Restore ``checkpoints/last.pt`` if present; returns whether it did."""
        if not self.checkpoint_path.is_file():
            return False
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=False)  # our own file
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.g_opt.load_state_dict(state["g_opt"])
        self.g_sched.load_state_dict(state["g_sched"])
        self.d_opt.load_state_dict(state["d_opt"])
        self.step, self.health = int(state["step"]), Health(**state["health"])
        py, npy, cpu, cuda = state["rng"]
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu.cpu())
        if cuda is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
        return True

    def _batches(self, position: int) -> tuple[Any, Any, list[list[int]]]:
        """Human replies and the generator's replies for the contexts at ``position`` of the data stream."""
        cfg = self.cfg
        b = cfg.train.micro_batch_size
        idx = sample_indices(position, b, len(self.pairs), cfg.train.seed)
        chosen = [self.pairs[i] for i in idx]
        human = make_batch([(p.context, p.reply) for p in chosen], self.pad_id).to(self.device)
        fake, replies = sample_replies(
            self.generator, [p.context for p in chosen], max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature, eos_id=self.eos_id, pad_id=self.pad_id, device=self.device,
        )  # fmt: skip
        return human, fake.to(self.device), replies

    def warm_up(self) -> None:
        """The discriminator-only steps still to do of ``discriminator_warmup``; checkpoints after them.

        Their contexts come after the adversarial steps' in the data stream, so the adversarial batches
        are the same with or without a warm-up. Interrupted, the warm-up starts again from the run's seed
        (no checkpoint is written during it), so the result is the same.

        Raises:
            Diverged: the discriminator's loss became non-finite.
        """
        cfg, d, loop = self.cfg, self.dist, self.cfg.train
        total, amp = cfg.discriminator_warmup, precision(self.device, loop.bf16)
        progress = Progress(
            total, self.health.warmed, loop.progress and d.is_main, "gan: discriminator warm-up"
        )
        while self.health.warmed < total:
            position = ((loop.max_steps + self.health.warmed) * d.world_size + d.rank) * loop.micro_batch_size
            human, fake, _ = self._batches(position)
            rec = discriminator_update(self.d_net, self.d_opt, human, fake, cfg.credit, loop.grad_clip, amp)
            if not math.isfinite(rec["d_loss"]):
                progress.close()
                step = self.health.warmed + 1
                raise Diverged(f"the discriminator's loss became {rec['d_loss']} at warm-up step {step}")
            self.health.warmed += 1
            self.metrics.write({"warmup_step": self.health.warmed, **rec})
            if progress.bar is not None:
                progress.bar.set_postfix(d_acc=f"{rec['d_acc']:.2f}", refresh=False)
                progress.bar.update(1)
        progress.close()
        self.save_checkpoint()

    def train_step(self) -> dict[str, float]:
        """One adversarial round; returns its metrics (``reward`` may be non-finite: the caller checks)."""
        cfg, d = self.cfg, self.dist
        b = cfg.train.micro_batch_size
        human, fake, replies = self._batches((self.step * d.world_size + d.rank) * b)
        amp = precision(self.device, cfg.train.bf16)
        clip = cfg.train.grad_clip
        rec = discriminator_update(self.d_net, self.d_opt, human, fake, cfg.credit, clip, amp)
        rec |= generator_update(
            self.g_net, self.reference, self.discriminator, self.g_opt, self.g_sched, fake,
            baseline=self.health.baseline, kl_coef=cfg.kl_coef, credit=cfg.credit, grad_clip=clip, amp=amp,
        )  # fmt: skip
        if cfg.teacher_forcing_every and (self.step + 1) % cfg.teacher_forcing_every == 0:
            rec["mle_loss"] = mle_update(self.g_net, self.g_opt, None, human, clip, amp)
        rec["distinct_replies"] = len({tuple(r) for r in replies}) / len(replies)
        rec["reply_tokens"] = sum(map(len, replies)) / len(replies)
        self.step += 1
        return rec

    def check(self, rec: dict[str, float]) -> str | None:
        """Update the baseline and the divergence counters after a step; returns why to stop, or None."""
        cfg, h = self.cfg, self.health
        bad = [k for k in ("reward", "g_loss", "d_loss", "kl") if k in rec and not math.isfinite(rec[k])]
        if bad:
            return f"{' and '.join(bad)} became {rec[bad[0]]} at step {self.step}"
        (reward,) = all_reduce_sum([rec["reward"]], self.dist)
        h.baseline = (
            cfg.baseline_decay * h.baseline + (1 - cfg.baseline_decay) * reward / self.dist.world_size
        )
        h.collapsed_steps = h.collapsed_steps + 1 if rec["reward"] < cfg.collapse_reward else 0
        one_reply = (
            cfg.train.micro_batch_size > 1 and rec["distinct_replies"] <= 1 / cfg.train.micro_batch_size
        )
        h.repeated_steps = h.repeated_steps + 1 if one_reply else 0
        if h.collapsed_steps >= cfg.patience:
            return (
                f"reward collapse: mean P(human) under {cfg.collapse_reward} for {h.collapsed_steps} "
                "steps (the discriminator wins outright; lower discriminator_lr or raise kl_coef)"
            )
        if h.repeated_steps >= cfg.patience:
            return f"mode collapse: every sampled reply was the same for {h.repeated_steps} steps"
        return None

    def fit(self, stop_at: int | None = None) -> dict[str, Any]:
        """Run to ``train.max_steps`` (or ``stop_at``, or the time budget); checkpoint at the end.

        Raises:
            Diverged: the run diverged; the checkpoint on disk is the last good one.
        """
        loop = self.cfg.train
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(loop.seed + self.dist.rank)
        resumed = loop.resume and self.load_checkpoint()
        if not resumed and self.dist.is_main:
            self.metrics.path.unlink(missing_ok=True)
        if self.health.warmed < self.cfg.discriminator_warmup:
            self.warm_up()
        end = min(loop.max_steps, stop_at) if stop_at is not None else loop.max_steps
        progress = Progress(end, self.step, loop.progress and self.dist.is_main, "gan")
        t0, stopped_by, last = time.perf_counter(), "max_steps", {}
        while self.step < end:
            rec = self.train_step()
            why = self.check(rec)
            if why is not None:
                progress.close()
                self.metrics.write({"step": self.step, "stopped": why})
                kept = (
                    f"last good checkpoint kept: {self.checkpoint_path}"
                    if self.checkpoint_path.is_file()
                    else "no checkpoint was saved before it"
                )
                log.error("gan: diverged: %s; %s", why, kept)
                raise Diverged(f"adversarial training diverged: {why}; {kept}")
            last = rec
            elapsed = time.perf_counter() - t0
            if progress.bar is not None:
                progress.bar.set_postfix(reward=f"{rec['reward']:.3f}", d_acc=f"{rec['d_acc']:.2f}",
                                         kl=f"{rec['kl']:.4f}", refresh=False)  # fmt: skip
                progress.bar.update(1)
            if self.step % loop.log_every == 0 or self.step in (1, end):
                self.metrics.write({"step": self.step, **rec, "baseline": self.health.baseline,
                                    "lr": self.g_sched.get_last_lr()[0], "elapsed_s": elapsed})  # fmt: skip
            if loop.checkpoint_every and self.step % loop.checkpoint_every == 0:
                self.save_checkpoint()
            if loop.max_minutes <= 0 or self.step >= end:
                continue  # no budget, or the planned end is reached: finished, not cut short
            (over,) = all_reduce_sum([float(elapsed > loop.max_minutes * 60)], self.dist)
            if over:
                stopped_by = "time_budget"
                break
        progress.close()
        self.save_checkpoint()
        summary = {"steps": self.step, "stopped_by": stopped_by, "resumed": bool(resumed)}
        summary["wall_s"] = time.perf_counter() - t0
        return summary | {k: last[k] for k in ("reward", "d_acc", "kl") if k in last}
