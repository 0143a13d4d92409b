"""Batched generation against per-request ``model.generate``, on the same model in the same run.

For each concurrency level, ``c`` requests arrive at once. The batching path submits them to botkit's
``BatchScheduler`` (one padded dynamic batch, rows leaving as they finish); the baseline serves them one
after another with ``model.generate``, as a server without batching would; the third side is the
transformers engine (``TransformersBatcher``: transformers' ``ContinuousBatchingManager``, paged cache,
requests joining every step) behind the same job and streaming code. Every reply is exactly
``--max-new-tokens`` long (end-of-turn is ignored) and the repetition penalty is off (the transformers
engine has none), so all sides do the same work.

Prints one JSON line: aggregate tokens/s, p50/p99 time-to-first-token (TTFT, from arrival) and
time-per-output-token (TPOT) per side and concurrency, and the speedups. ``--device cuda`` adds decode
speed at batch 1 as a percentage of the memory-bandwidth bound (all weight bytes read once per token at
``--bandwidth-gbs``).

    python bench/batching.py                      # CPU, the shipped model (a tiny random Llama without it)
    python bench/batching.py --device cuda --model DIR --bandwidth-gbs 4800
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from botkit.model.chat_format import encode_chat
from botkit.model.decoding import generate_batch
from botkit.model.engines import Batcher
from botkit.model.jobs import GenerationJob
from botkit.model.loader import LoadedModel, default_model_dir, load_model
from botkit.model.scheduler import BatchScheduler
from botkit.model.transformers_cb import TransformersBatcher
from botkit.testing.tiny_model import SENTENCES, make_tiny_model
from botkit.types import SamplingParams


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    at = (len(ordered) - 1) * q / 100
    low, high = math.floor(at), math.ceil(at)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def summary(wall: float, tokens: int, ttft: list[float], tpot: list[float]) -> dict[str, float]:
    ms = 1000.0
    return {
        "tokens_per_s": round(tokens / wall, 1),
        "wall_s": round(wall, 3),
        "ttft_p50_ms": round(percentile(ttft, 50) * ms, 1),
        "ttft_p99_ms": round(percentile(ttft, 99) * ms, 1),
        "tpot_p50_ms": round(percentile(tpot, 50) * ms, 2),
        "tpot_p99_ms": round(percentile(tpot, 99) * ms, 2),
    }


def run_batched(
    lm: LoadedModel,
    prompts: list[list[int]],
    params: SamplingParams,
    *,
    gap_s: float = 0.0,
    engine: str = "botkit",
) -> dict[str, float]:
    """All prompts submitted to one warm batch engine, at once or ``gap_s`` apart.

    ``engine``: ``"botkit"``; ``"botkit-batch-at-a-time"`` hides ``generate_batch`` behind a wrapper, which
    the scheduler then runs batch by batch (late arrivals wait for the whole running batch instead of
    joining it); ``"transformers"``: transformers' continuous batching.
    """
    scheduler: Batcher
    if engine == "transformers":
        scheduler = TransformersBatcher(lm, max_batch=len(prompts))
    elif engine == "botkit-batch-at-a-time":
        scheduler = BatchScheduler(lm, max_batch=len(prompts), runner=lambda m, jobs: generate_batch(m, jobs))
    else:
        scheduler = BatchScheduler(lm, max_batch=len(prompts))
    warm = [scheduler.submit(GenerationJob(prompts[0], dataclasses.replace(params, max_new_tokens=2)))]
    warm[0].done.wait()  # the engine's thread (and the manager, for transformers) is up before timing
    first: dict[int, float] = {}
    finished: dict[int, float] = {}
    jobs: list[GenerationJob] = []
    start = time.perf_counter()
    for i, ids in enumerate(prompts):
        jobs.append(
            GenerationJob(
                ids,
                params,
                on_delta=lambda _d, i=i: first.setdefault(i, time.perf_counter()),
                on_done=lambda i=i: finished.setdefault(i, time.perf_counter()),
            )
        )
    for job in jobs:
        scheduler.submit(job)
        if gap_s:
            time.sleep(gap_s)
    for job in jobs:
        job.done.wait()
    wall = time.perf_counter() - start
    scheduler.close()
    errors = [job.error for job in jobs if job.error is not None]
    if errors:
        raise RuntimeError(f"batched generation failed: {errors[0]}")
    counts = [len(job.completion_ids) for job in jobs]
    ttft = [first[i] - (start + i * gap_s) for i in range(len(jobs))]  # from each request's arrival
    tpot = [(finished[i] - first[i]) / max(1, counts[i] - 1) for i in range(len(jobs))]
    return summary(wall, sum(counts), ttft, tpot)


class _Timing:
    """A ``generate`` streamer that only notes when tokens come out (the first ``put`` is the prompt)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def put(self, _value: Any) -> None:
        self.calls.append(time.perf_counter())

    def end(self) -> None:
        pass


def run_per_request(lm: LoadedModel, prompts: list[list[int]], params: SamplingParams) -> dict[str, float]:
    """The same requests served one by one with ``model.generate`` (all arrived at the start)."""
    ttft: list[float] = []
    tpot: list[float] = []
    tokens = 0
    start = time.perf_counter()
    for ids in prompts:
        timing = _Timing()
        input_ids = torch.tensor([ids], device=lm.device)
        out = lm.model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            **_hf_sampling(lm, params),
            min_new_tokens=params.max_new_tokens,
            streamer=timing,
        )
        done = time.perf_counter()
        produced = out.shape[1] - len(ids)
        tokens += produced
        first = timing.calls[1]  # calls[0] is the prompt
        ttft.append(first - start)
        tpot.append((done - first) / max(1, produced - 1))
    return summary(time.perf_counter() - start, tokens, ttft, tpot)


def _hf_sampling(lm: LoadedModel, params: SamplingParams) -> dict[str, Any]:
    return {
        "do_sample": params.temperature > 0,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "repetition_penalty": params.repetition_penalty,
        "max_new_tokens": params.max_new_tokens,
        "pad_token_id": lm.tokenizer.pad_token_id,
    }


def median_run(measure: Callable[[], dict[str, float]], repeats: int) -> dict[str, float]:
    """The run with the median throughput out of ``repeats``."""
    runs = sorted((measure() for _ in range(repeats)), key=lambda r: r["tokens_per_s"])
    return runs[len(runs) // 2]


def bandwidth_bound(lm: LoadedModel, batch1_tpot_ms: float, bandwidth_gbs: float) -> dict[str, float]:
    """Decode at batch 1 against reading every weight once per token."""
    weight_bytes = sum(p.numel() * p.element_size() for p in lm.model.parameters())
    bound_ms = weight_bytes / (bandwidth_gbs * 1e9) * 1000
    return {
        "weight_mb": round(weight_bytes / 1e6, 1),
        "bound_ms_per_token": round(bound_ms, 4),
        "measured_ms_per_token": batch1_tpot_ms,
        "percent_of_bound": round(100 * bound_ms / batch1_tpot_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--model", help="model dir (default: shipped model, else a tiny Llama 256x4)")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the CI box is shared)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is kept")
    parser.add_argument("--arrival-gap-ms", type=float, default=10.0, help="gap in the staggered scenario")
    parser.add_argument(
        "--bandwidth-gbs", type=float, default=4800.0, help="GPU memory bandwidth (H200: 4800)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        chosen = args.model or default_model_dir()
        if chosen is None:
            chosen = make_tiny_model(Path(tmp), hidden_size=256, layers=4, heads=4, context_window=512)
        lm = load_model(chosen, device=args.device)
    # Ignore end-of-turn so every reply is exactly max_new_tokens long on both sides.
    fixed = dataclasses.replace(lm, eos_ids=frozenset())
    params = SamplingParams(
        max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.95, top_k=50, repetition_penalty=1.0
    )
    levels = [int(c) for c in args.concurrency.split(",")]
    prompts = [
        encode_chat(lm.tokenizer, [{"role": "user", "content": f"{SENTENCES[i % len(SENTENCES)]} ({i})"}])
        for i in range(max(levels))
    ]
    run_batched(fixed, prompts[:2], dataclasses.replace(params, max_new_tokens=4))  # warm-up
    run_per_request(fixed, prompts[:1], dataclasses.replace(params, max_new_tokens=4))

    results: dict[str, Any] = {}
    for c in levels:
        # Median of --repeats runs each: the box is shared, and a single short run is noisy.
        batched = median_run(lambda c=c: run_batched(fixed, prompts[:c], params), args.repeats)
        baseline = median_run(lambda c=c: run_per_request(fixed, prompts[:c], params), args.repeats)
        theirs = median_run(
            lambda c=c: run_batched(fixed, prompts[:c], params, engine="transformers"), args.repeats
        )
        results[str(c)] = {
            "batched": batched,
            "per_request_generate": baseline,
            "transformers_engine": theirs,
            "speedup": round(batched["tokens_per_s"] / baseline["tokens_per_s"], 2),
            "botkit_vs_transformers_engine": round(batched["tokens_per_s"] / theirs["tokens_per_s"], 2),
        }
    # Requests arriving one by one while others decode: joining the running batch (continuous) against
    # waiting for it to finish (batch at a time).
    c, gap = max(levels), args.arrival_gap_ms / 1000
    staggered = {
        "requests": c,
        "arrival_gap_ms": args.arrival_gap_ms,
        "continuous": median_run(lambda: run_batched(fixed, prompts[:c], params, gap_s=gap), args.repeats),
        "batch_at_a_time": median_run(
            lambda: run_batched(fixed, prompts[:c], params, gap_s=gap, engine="botkit-batch-at-a-time"),
            args.repeats,
        ),
        "transformers_engine": median_run(
            lambda: run_batched(fixed, prompts[:c], params, gap_s=gap, engine="transformers"), args.repeats
        ),
    }
    report: dict[str, Any] = {
        "bench": "batching",
        "device": str(lm.device),
        "torch_threads": torch.get_num_threads(),
        "model": {
            "path": "tiny-llama-256x4" if args.model is None and default_model_dir() is None else str(chosen),
            "parameters_m": round(sum(p.numel() for p in lm.model.parameters()) / 1e6, 2),
            "dtype": str(next(lm.model.parameters()).dtype),
        },
        "max_new_tokens": args.max_new_tokens,
        "repeats": args.repeats,
        "results": results,
        "staggered_arrivals": staggered,
    }
    if args.device == "cuda" and "1" in results:
        tpot = results["1"]["batched"]["tpot_p50_ms"]
        report["batch1_vs_bandwidth"] = bandwidth_bound(lm, tpot, args.bandwidth_gbs)
    print(json.dumps(report))


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
