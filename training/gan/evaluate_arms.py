"""The two arms of ``botkit train eval-gan``: the GAN stage, and continued MLE given the same compute.

Both start from the same fine-tuned model, read the same (context, human reply) pairs of the GAN
config's training split, prepared as ``stage.run_gan`` prepares them, and use the same optimizer (AdamW
from ``cfg.train``), clipping and peak learning rate.

How the compute is matched: one GAN step makes one policy-gradient update of the generator on
``micro_batch_size`` sampled replies and, every ``teacher_forcing_every`` steps, one teacher-forcing
update on the same contexts' human replies. The MLE arm makes exactly as many generator updates
(``steps + steps // teacher_forcing_every``), each the GAN stage's own teacher-forcing step
(``policy.mle_update``) on ``micro_batch_size`` human pairs drawn from the same shuffled stream
(``schedule.sample_indices`` with the run's seed), its learning rate on the same warm-up + cosine curve
stretched over its number of updates. So both arms make the same number of optimizer steps over the same
number of contexts; the GAN arm's replies are partly its own samples, so its reply tokens differ; both
counts are in each arm's ``metrics.jsonl``. The GAN arm's sampling and discriminator are extra work
the MLE arm does not do: this matches the generator's updates, not the floating-point operations.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from botkit.training.config import GANConfig
from botkit.training.gan.batch import Pair, training_pairs
from botkit.training.metrics import MetricsLog, Progress, read_metrics


def generator_updates(gan_cfg: GANConfig, steps: int) -> int:
    """Optimizer steps the GAN stage's generator takes in ``steps`` steps (policy + teacher forcing)."""
    every = gan_cfg.teacher_forcing_every
    return steps + (steps // every if every else 0)


def arm_config(gan_cfg: GANConfig, model: Path, out_dir: Path, seed: int, steps: int) -> GANConfig:
    """``gan_cfg`` for one arm: started from ``model``, seeded, ``steps`` steps, fresh, every step logged."""
    train = gan_cfg.train.model_copy(
        update={"seed": seed, "max_steps": steps, "log_every": 1, "resume": False, "max_minutes": 0.0}
    )
    return gan_cfg.model_copy(update={"init_from": model, "output_dir": out_dir, "train": train})


def run_gan_arm(cfg: GANConfig) -> dict[str, Any]:
    """The GAN stage itself (``stage.run_gan``); returns its summary with the updates read from its log."""
    from botkit.training.gan.stage import run_gan

    summary = run_gan(cfg)
    records = read_metrics(Path(cfg.output_dir) / "metrics.jsonl")
    summary["optimizer_steps"] = sum("g_loss" in r for r in records) + sum("mle_loss" in r for r in records)
    summary["contexts"] = summary["optimizer_steps"] * cfg.train.micro_batch_size
    return summary


def run_mle_arm(cfg: GANConfig, updates: int) -> dict[str, Any]:
    """Continued MLE: ``updates`` teacher-forcing steps from ``cfg.init_from`` into ``cfg.output_dir``.

    Writes the model directory, ``metrics.jsonl`` (per update: loss, contexts, reply tokens, learning
    rate) and ``arm.json``; returns the summary.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from botkit.training import runner
    from botkit.training.gan.batch import make_batch
    from botkit.training.gan.policy import mle_update, precision
    from botkit.training.modeling import save_model
    from botkit.training.pretrain import load_tokenizer
    from botkit.training.schedule import lr_factor, make_optimizer, sample_indices

    out = Path(cfg.output_dir)
    dist = runner.start(out, cfg.train)
    tokenizer = load_tokenizer(cfg.init_from)
    pairs = training_pairs(cfg, tokenizer)
    torch.manual_seed(cfg.train.seed)
    model = AutoModelForCausalLM.from_pretrained(
        str(cfg.init_from), dtype=torch.float32, local_files_only=True
    ).to(dist.device)
    loop = cfg.train.model_copy(update={"max_steps": updates})
    opt = make_optimizer(model, loop)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, loop))
    amp = precision(torch.device(dist.device), loop.bf16)
    b = loop.micro_batch_size
    metrics = MetricsLog(out / "metrics.jsonl", enabled=True)
    metrics.path.unlink(missing_ok=True)
    progress = Progress(updates, 0, loop.progress, "mle")
    t0, tokens = time.perf_counter(), 0
    for step in range(updates):
        chosen = [pairs[i] for i in sample_indices(step * b, b, len(pairs), loop.seed)]
        human = make_batch([(p.context, p.reply) for p in chosen], tokenizer.pad_token_id).to(dist.device)
        lr = sched.get_last_lr()[0]
        loss = mle_update(model, opt, sched, human, loop.grad_clip, amp)
        reply_tokens = sum(len(p.reply) for p in chosen)
        tokens += reply_tokens
        metrics.write({"step": step + 1, "mle_loss": loss, "contexts": b, "reply_tokens": reply_tokens,
                       "lr": lr, "elapsed_s": time.perf_counter() - t0})  # fmt: skip
        progress.update(loss, tokens / max(1e-9, time.perf_counter() - t0))
    progress.close()
    save_model(model, tokenizer, out)
    summary = {"optimizer_steps": updates, "contexts": updates * b, "human_reply_tokens": tokens,
               "pairs": len(pairs), "wall_s": time.perf_counter() - t0}  # fmt: skip
    (out / "arm.json").write_text(json.dumps({"arm": "mle", "summary": summary}, indent=2) + "\n")
    return summary


def gan_reply_tokens(cfg: GANConfig, pairs: list[Pair]) -> dict[str, int]:
    """Reply tokens the GAN arm trained on: its sampled replies (from its log) and the human replies of
    its teacher-forcing steps (the same draws as its contexts, recomputed from the seed)."""
    from botkit.training.schedule import sample_indices

    records = [r for r in read_metrics(Path(cfg.output_dir) / "metrics.jsonl") if "g_loss" in r]
    b = cfg.train.micro_batch_size
    sampled = round(sum(r["reply_tokens"] * b for r in records))
    human = 0
    for r in records:
        if "mle_loss" in r:
            idx = sample_indices((r["step"] - 1) * b, b, len(pairs), cfg.train.seed)
            human += sum(len(pairs[i].reply) for i in idx)
    return {"sampled_reply_tokens": sampled, "human_reply_tokens": human}
