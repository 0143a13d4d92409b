"""Tokens/s of botkit's pretraining loop against a bare PyTorch loop on the same model and data.

Prints one JSON line. The bare loop is what the Trainer must not be much slower than: forward, summed
cross-entropy, backward, clip, AdamW step. Runs alternate (bare, loop, bare, loop, ...); the ratio is of
the best run of each, because on a shared machine other processes only ever slow a run down, so the best
is the closest to the code's own speed (medians are printed too). Goal: ratio >= 0.95.

    python bench/train_throughput.py [--steps 10] [--repeats 5] [--threads 1] [--hidden 256]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from botkit.training.config import LoopConfig
from botkit.training.loop import Trainer
from botkit.training.metrics import read_metrics
from botkit.training.packing import TokenBlocks
from botkit.training.schedule import make_optimizer


def build(args: argparse.Namespace) -> tuple[torch.nn.Module, TokenBlocks]:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=64 * ((8 * args.hidden // 3 + 63) // 64),
        num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 64,
        max_position_embeddings=args.context,
        tie_word_embeddings=True,
    )
    rng = np.random.default_rng(0)
    ids = rng.integers(0, args.vocab, size=(512, args.context), dtype=np.uint32)
    return LlamaForCausalLM(config), TokenBlocks(ids)


def bare_loop(model: torch.nn.Module, blocks: TokenBlocks, cfg: LoopConfig, steps: int) -> float:
    opt = make_optimizer(model, cfg)
    model.train()
    tokens, t0 = 0, time.perf_counter()
    for step in range(steps):
        idx = np.arange(step * cfg.micro_batch_size, (step + 1) * cfg.micro_batch_size) % len(blocks)
        ids, labels = blocks.batch(idx)
        logits = model(input_ids=ids).logits
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1),
                               reduction="sum")  # fmt: skip
        n = labels[:, 1:].numel()
        (loss / n).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        tokens += n
    return tokens / (time.perf_counter() - t0)


def trainer_loop(model: torch.nn.Module, blocks: TokenBlocks, cfg: LoopConfig) -> float:
    with tempfile.TemporaryDirectory() as d:
        Trainer(model, blocks, None, cfg, Path(d)).fit()
        # The loop's own figure at its last step: excludes the end-of-run checkpoint and plot.
        return [r for r in read_metrics(Path(d) / "metrics.jsonl") if "tokens_per_s" in r][-1]["tokens_per_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--vocab", type=int, default=6000)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, blocks = build(args)
    cfg = LoopConfig(
        max_steps=args.steps, micro_batch_size=args.batch, warmup_steps=1, eval_every=0, checkpoint_every=0,
        log_every=args.steps, progress=False, resume=False, device="cpu",
    )  # fmt: skip
    bare_loop(copy.deepcopy(model), blocks, cfg, 2)  # warm-up: allocator, kernels
    bare, loop = [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(copy.deepcopy(model), blocks, cfg, args.steps))
        loop.append(trainer_loop(copy.deepcopy(model), blocks, cfg))
    b, t = max(bare), max(loop)
    print(json.dumps({
        "bench": "train_throughput", "params": sum(p.numel() for p in model.parameters()),
        "tokens_per_step": args.batch * (args.context - 1), "steps": args.steps, "repeats": args.repeats,
        "threads": args.threads, "bare_tokens_per_s": round(b, 1), "trainer_tokens_per_s": round(t, 1),
        "ratio": round(t / b, 4), "goal": ">= 0.95",
        "bare_median": round(statistics.median(bare), 1), "trainer_median": round(statistics.median(loop), 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
