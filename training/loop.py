"""The training loop shared by pretraining and SFT.

AdamW with linear warmup then cosine decay, gradient accumulation and clipping, bf16 autocast on CUDA,
optional ``torch.compile``, DDP, periodic validation, a wall-clock budget, and checkpoints that resume
exactly: model, optimizer, scheduler, RNG states and the data position (the sample cursor into a
seeded per-epoch permutation, so no data iterator state needs saving).

The loss of a step is the sum of token losses over the whole global batch divided by its number of
target tokens, whatever the split into micro-batches and ranks, so one process and two give the same
update (up to float summation order).
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from botkit.training.checkpoint import load_state, save_state
from botkit.training.config import LoopConfig
from botkit.training.distributed import DistInfo, all_reduce_sum
from botkit.training.metrics import MetricsLog, Progress, plot_loss
from botkit.training.packing import IGNORE, TokenBlocks
from botkit.training.schedule import lr_factor, make_optimizer, sample_indices


class Trainer:
    """Runs the loop for one model on one set of blocks; writes metrics, plot and checkpoints.

    Args:
        model: the causal LM (its forward returns ``.logits``).
        train: training blocks.
        val: validation blocks (or None).
        cfg: loop settings.
        out_dir: run directory (``metrics.jsonl``, ``loss.png``, ``checkpoints/``).
        dist: this process's place in the job.
        name: label for the progress bar and plot.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        train: TokenBlocks,
        val: TokenBlocks | None,
        cfg: LoopConfig,
        out_dir: Path,
        dist: DistInfo | None = None,
        name: str = "train",
    ) -> None:
        if len(train) == 0:
            raise ValueError("no training blocks: the corpus is empty or shorter than one block")
        self.cfg, self.train, self.val, self.name = cfg, train, val, name
        self.dist = dist or DistInfo()
        self.device = torch.device(self.dist.device)
        self.out_dir = Path(out_dir)
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(self.model, cfg)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, cfg))
        self.step = 0
        self.metrics = MetricsLog(self.out_dir / "metrics.jsonl", enabled=self.dist.is_main)
        self.net: torch.nn.Module = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        if cfg.compile:
            self.net = torch.compile(self.net)  # type: ignore[assignment]
        self.autocast = self.device.type == "cuda" and cfg.bf16

    # -- checkpoints -----------------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoints" / "last.pt"

    def save_checkpoint(self) -> None:
        """Save everything needed to continue exactly (main rank writes; all ranks wait)."""
        if self.dist.is_main:
            save_state(self.checkpoint_path, self.step, self.model, self.optimizer, self.scheduler)
        if self.dist.enabled:
            torch.distributed.barrier()

    def load_checkpoint(self) -> bool:
        """Restore from ``checkpoints/last.pt`` if present; returns whether it did."""
        step = load_state(self.checkpoint_path, self.model, self.optimizer, self.scheduler, self.device)
        if step is None:
            return False
        self.step = step
        return True

    # -- the loop --------------------------------------------------------------------------------------

    def token_losses(
        self, ids: torch.Tensor, labels: torch.Tensor, extra: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Next-token loss at each position, 0 where there is no target: ``(B, T)`` ids -> ``(B, T-1)``.

        ``extra`` holds packed dialogues' position ids and block mask (``TokenBlocks.attention_inputs``).
        """
        ids, labels = ids.to(self.device), labels.to(self.device)
        extra = {k: v.to(self.device) for k, v in (extra or {}).items()}
        if self.autocast and "attention_mask" in extra:
            # The additive mask in the attention's own dtype, so fused CUDA kernels take it as it is.
            extra["attention_mask"] = extra["attention_mask"].to(torch.bfloat16)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.net(input_ids=ids, **extra).logits  # (B, T, V)
        targets = labels[:, 1:]  # position t predicts token t+1
        loss = F.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.size(-1)),
            targets.reshape(-1),
            ignore_index=IGNORE,
            reduction="none",
        )
        return loss.view(targets.shape)

    def _loss_sum(
        self, ids: torch.Tensor, labels: torch.Tensor, extra: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, int]:
        """Summed next-token loss over target tokens, and their count."""
        return self.token_losses(ids, labels, extra).sum(), int((labels[:, 1:] != IGNORE).sum())

    def _micro_batches(self) -> list[tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]]:
        cfg, d = self.cfg, self.dist
        per_step = cfg.micro_batch_size * cfg.grad_accum_steps * d.world_size
        batches = []
        for k in range(cfg.grad_accum_steps):
            start = self.step * per_step + (k * d.world_size + d.rank) * cfg.micro_batch_size
            idx = sample_indices(start, cfg.micro_batch_size, len(self.train), cfg.seed)
            batches.append((*self.train.batch(idx), self.train.attention_inputs(idx)))
        return batches

    def train_step(self) -> dict[str, float]:
        """One optimizer step over ``grad_accum_steps`` micro-batches on every rank."""
        self.net.train()
        batches = self._micro_batches()
        local_tokens = sum(int((lab[:, 1:] != IGNORE).sum()) for _, lab, _ in batches)
        (global_tokens,) = all_reduce_sum([float(local_tokens)], self.dist)
        # DDP averages gradients over ranks; scale so the result is sum(loss) / global target tokens.
        scale = self.dist.world_size / max(global_tokens, 1.0)
        loss_sum = 0.0
        for k, (ids, labels, extra) in enumerate(batches):
            last = k == len(batches) - 1
            # Under DDP only the last micro-batch's backward all-reduces the gradients.
            sync = self.net.no_sync() if self.dist.enabled and not last else contextlib.nullcontext()  # type: ignore[operator]
            with sync:
                loss, _ = self._loss_sum(ids, labels, extra)
                (loss * scale).backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            loss_sum += loss.item()
        grad_norm = 0.0
        if self.cfg.grad_clip > 0:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        (loss_total,) = all_reduce_sum([loss_sum], self.dist)
        return {"loss": loss_total / max(global_tokens, 1.0), "grad_norm": grad_norm, "tokens": global_tokens}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean loss per target token over the validation blocks (split across ranks) and perplexity."""
        blocks = self.val
        if blocks is None or len(blocks) == 0:
            return {}
        self.net.eval()
        bs, d = self.cfg.micro_batch_size, self.dist
        starts = list(range(d.rank * bs, len(blocks), bs * d.world_size))
        if self.cfg.eval_batches:
            starts = starts[: self.cfg.eval_batches]
        total, count = 0.0, 0
        for s in starts:
            idx = np.arange(s, min(s + bs, len(blocks)))
            loss, n = self._loss_sum(*blocks.batch(idx), blocks.attention_inputs(idx))
            total, count = total + loss.item(), count + n
        total, tokens = all_reduce_sum([total, float(count)], d)
        val_loss = total / max(tokens, 1.0)
        return {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50.0)), "val_tokens": tokens}

    def fit(self, stop_at: int | None = None) -> dict[str, Any]:
        """Train to ``cfg.max_steps`` (or to ``stop_at``, or until the time budget), then checkpoint.

        Returns:
            A summary: steps run, final train and validation loss, tokens/s, wall time, why it stopped.
        """
        cfg = self.cfg
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed + self.dist.rank)
        resumed = cfg.resume and self.load_checkpoint()
        if not resumed and self.dist.is_main:
            self.metrics.path.unlink(missing_ok=True)
        end = min(cfg.max_steps, stop_at) if stop_at is not None else cfg.max_steps
        progress = Progress(end, self.step, cfg.progress and self.dist.is_main, self.name)
        t0 = time.perf_counter()
        tokens = 0.0
        last: dict[str, float] = {}
        evals: dict[str, float] = {}
        stopped_by = "max_steps"
        while self.step < end:
            rec = self.train_step()
            tokens += rec["tokens"]
            elapsed = time.perf_counter() - t0
            tps = tokens / max(elapsed, 1e-9)
            last = rec
            progress.update(rec["loss"], tps)
            if self.step % cfg.log_every == 0 or self.step in (1, end):
                lr = self.scheduler.get_last_lr()[0]
                self.metrics.write(
                    {
                        "step": self.step,
                        "loss": rec["loss"],
                        "lr": lr,
                        "grad_norm": rec["grad_norm"],
                        "tokens_per_s": tps,
                        "elapsed_s": elapsed,
                    }
                )
            if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < end:
                evals = self.evaluate()
                self.metrics.write({"step": self.step, **evals})
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save_checkpoint()
            if cfg.max_minutes <= 0 or self.step >= end:
                continue  # no budget, or the planned end is reached: the run is finished, not cut short
            over = elapsed > cfg.max_minutes * 60
            (over_any,) = all_reduce_sum([float(over)], self.dist)  # all ranks stop on the same step
            if over_any:
                stopped_by = "time_budget"
                break
        progress.close()
        evals = self.evaluate()
        if evals:
            self.metrics.write({"step": self.step, **evals})
        self.save_checkpoint()
        wall = time.perf_counter() - t0
        if self.dist.is_main:
            plot_loss(self.metrics.path, self.out_dir / "loss.png", title=self.name)
        return {
            "steps": self.step,
            "train_loss": last.get("loss"),
            **evals,
            "stopped_by": stopped_by,
            "resumed": bool(resumed),
            "tokens": tokens,
            "wall_s": wall,
            "tokens_per_s": tokens / max(wall, 1e-9),
        }
