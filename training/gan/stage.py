"""``botkit train gan``: load the generator, its reference and a discriminator, train, export, synthesize.

Writes into ``output_dir``: the trained generator as a model directory (what ``botkit chat --model``
loads), ``metrics.jsonl``, ``gan.png`` (discriminator accuracy, mean reward, KL, generator loss),
``checkpoints/last.pt``, ``synthetic.jsonl`` (generated dialogues the discriminator took for human, in the
chat format the SFT stage reads), ``run.json`` and, last, ``stage.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from botkit.training.config import GANConfig
from botkit.training.gan.batch import Pair, training_pairs
from botkit.training.metrics import read_metrics
from botkit.training.records import validate_dialogue, write_jsonl

log = logging.getLogger(__name__)


def run_gan(cfg: GANConfig, stop_at: int | None = None) -> dict[str, Any]:
    """Run the adversarial stage; returns the run summary.

    Raises:
        DataError: the dialogue files give no (context, reply) pair.
        ValueError: the discriminator's tokenizer is not the generator's.
        Diverged: the run diverged (the last good checkpoint is kept).
    """
    import torch
    from transformers import AutoModelForCausalLM

    from botkit.training import runner
    from botkit.training.gan import discriminator as disc_mod
    from botkit.training.gan.trainer import GANTrainer
    from botkit.training.modeling import save_model
    from botkit.training.outputs import mark_complete
    from botkit.training.pretrain import load_tokenizer

    dist = runner.start(cfg.output_dir, cfg.train)
    tokenizer = load_tokenizer(cfg.init_from)
    if cfg.discriminator_from is not None and cfg.discriminator_model is None:
        disc_tok = load_tokenizer(cfg.discriminator_from)
        disc_mod.check_same_tokenizer(tokenizer, cfg.init_from, disc_tok, cfg.discriminator_from)
    pairs = training_pairs(cfg, tokenizer)
    torch.manual_seed(cfg.train.seed)

    def load() -> Any:
        return AutoModelForCausalLM.from_pretrained(
            str(cfg.init_from), dtype=torch.float32, local_files_only=True
        )

    generator, reference = load(), load()
    if cfg.discriminator_model is not None:
        disc = disc_mod.fresh_discriminator(cfg.discriminator_model, tokenizer)
    else:
        disc = disc_mod.discriminator_from_model_dir(cfg.discriminator_from or cfg.init_from)
    trainer = GANTrainer(
        generator, reference, disc, pairs, cfg,
        pad_id=tokenizer.pad_token_id, eos_id=tokenizer.eos_token_id, dist=dist,
    )  # fmt: skip
    summary = trainer.fit(stop_at=stop_at)
    summary["pairs"] = len(pairs)
    if dist.is_main:
        plot_gan(cfg.output_dir / "metrics.jsonl", cfg.output_dir / "gan.png")
        save_model(generator, tokenizer, cfg.output_dir)
        if cfg.synthetic_dialogues and summary["steps"] >= cfg.train.max_steps:
            kept = synthesize(trainer, tokenizer, pairs[: cfg.synthetic_dialogues], cfg)
            summary["synthetic"] = {"candidates": min(len(pairs), cfg.synthetic_dialogues), "kept": kept}
        run = {"stage": "gan", "summary": summary, "config": cfg.model_dump(mode="json")}
        (cfg.output_dir / "run.json").write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n")
        if summary["steps"] >= cfg.train.max_steps:  # a time-budget stop is continued by the next run
            mark_complete(cfg.output_dir, "gan", {"steps": summary["steps"]})
        log.info("gan: %s", summary)
    runner.barrier(dist)
    return summary


def synthesize(trainer: Any, tokenizer: Any, pairs: list[Pair], cfg: GANConfig) -> int:
    """Answer each pair's context with the generator; keep replies scored P(human) >= the threshold.

    Writes ``synthetic.jsonl`` (every record checked as a chat-format dialogue); returns how many it kept.
    """
    import torch

    from botkit.training.gan.policy import sample_replies

    records = []
    for i in range(0, len(pairs), cfg.train.micro_batch_size):
        chunk = pairs[i : i + cfg.train.micro_batch_size]
        batch, replies = sample_replies(
            trainer.generator, [p.context for p in chunk], max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature, eos_id=tokenizer.eos_token_id, pad_id=tokenizer.pad_token_id,
            device=trainer.device,
        )  # fmt: skip
        batch = batch.to(trainer.device)
        with torch.no_grad():
            trainer.discriminator.eval()
            p = torch.sigmoid(trainer.discriminator(batch.ids, batch.attention)).gather(
                1, batch.last[:, None]
            )
        for pair, reply, score in zip(chunk, replies, p.squeeze(1).tolist(), strict=True):
            text = tokenizer.decode(reply, skip_special_tokens=True).strip()
            if score >= cfg.synthetic_threshold and text:
                messages = [*pair.messages, {"role": "assistant", "content": text}]
                records.append({"messages": validate_dialogue({"messages": messages}), "p_human": score})
    return write_jsonl(cfg.output_dir / "synthetic.jsonl", records)


def plot_gan(metrics_path: Path, png_path: Path) -> None:
    """Four panels against step: discriminator accuracy, mean reward, KL, generator loss.

    A discriminator warm-up is drawn at steps -N+1 .. 0 of the accuracy panel.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on training machines
    import matplotlib.pyplot as plt

    everything = read_metrics(metrics_path)
    records = [r for r in everything if "reward" in r]
    warmup = [r for r in everything if "warmup_step" in r]
    panels = [("d_acc", "discriminator accuracy"), ("reward", "mean reward P(human)"),
              ("kl", "KL(generator || reference) per token"), ("g_loss", "generator loss")]  # fmt: skip
    fig, axes = plt.subplots(2, 2, figsize=(9, 6), dpi=100)
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        pts = [(r["step"], r[key]) for r in records if key in r]
        if pts:
            ax.plot(*zip(*pts, strict=True), lw=1, label="policy gradient + KL" if key == "g_loss" else None)
        if key == "d_acc" and warmup:
            xs = [r["warmup_step"] - len(warmup) for r in warmup]
            ax.plot(xs, [r["d_acc"] for r in warmup], lw=1, color="grey", label="warm-up")
            ax.legend()
        if key == "g_loss":
            mle = [(r["step"], r["mle_loss"]) for r in records if "mle_loss" in r]
            if mle:
                ax.plot(*zip(*mle, strict=True), lw=1, label="teacher-forcing NLL")
                ax.legend()
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
