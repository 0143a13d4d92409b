"""Which batch engine runs the model: botkit's own scheduler, transformers' continuous batching, or the
faster of the two on this machine.

``[model] engine`` (and ``botkit worker --engine``) picks one:

- ``"botkit"``: :class:`~botkit.model.scheduler.BatchScheduler`, a padded dynamic batch that requests
  join every few steps; honours every sampling parameter (repetition penalty, per-request seeds).
- ``"transformers"``: :class:`~botkit.model.transformers_cb.TransformersBatcher`, transformers' paged
  continuous batching (CUDA graphs, flash attention where present).
- ``"auto"`` (default): only engines that honour every sampling setting the configuration asks for are
  candidates (transformers' engine drops ``repetition_penalty`` and per-request ``seed``, so a penalty
  other than 1.0 leaves botkit's alone, and the ready line says why). Among the candidates: botkit's on the
  CPU, where it was measured about 10x faster than per-request ``generate`` while transformers' continuous
  batching was slower than per-request (bench/batching.py); on a GPU, :func:`choose_engine` times both on
  the loaded model at start-up and keeps the faster.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from botkit.model.chat_format import encode_chat
from botkit.model.jobs import GenerationJob
from botkit.model.loader import LoadedModel
from botkit.types import SamplingParams

if TYPE_CHECKING:
    from botkit.model.scheduler import BatchRunner

log = logging.getLogger("botkit.model")

ENGINES: tuple[str, ...] = ("auto", "botkit", "transformers")

PROBE_PROMPT = "Hello! Could you tell me how to reset my password, please?"


class Batcher(Protocol):
    """What a batch engine offers: jobs in from any thread, replies out through each job."""

    name: str  # "botkit" or "transformers", for logs
    chosen_by: str  # why this engine runs, for the worker's ready line
    max_batch: int

    def submit(self, job: GenerationJob) -> GenerationJob:
        """Queue ``job``; its ``done`` event is set when it finishes or fails."""

    def close(self, timeout: float = 10.0) -> None:
        """Stop, failing what has not finished, so that no caller waits forever."""


def start_engine(
    lm: LoadedModel,
    engine: str = "auto",
    *,
    max_batch: int = 32,
    runner: BatchRunner | None = None,
    measure: bool | None = None,
    sampling: SamplingParams | None = None,
) -> Batcher:
    """The batch engine named by ``engine`` for ``lm`` (``"auto"``: see the module docstring).

    Args:
        lm: the loaded model.
        engine: ``"auto"``, ``"botkit"`` or ``"transformers"``.
        max_batch: most requests decoding together.
        runner: a stand-in batch function for botkit's scheduler (benchmarks, the echo worker, tests
            that slow decoding down); it needs the botkit engine.
        measure: whether ``"auto"`` times both engines (default: on CUDA only).
        sampling: the sampling the configuration asks for (``[model]``), its fields left to the model
            filled from ``lm``'s ``generation_config.json``; ``"auto"`` leaves out an engine that would
            ignore part of it, and a configured engine that does is named so in ``chosen_by``.

    Raises:
        ValueError: an unknown engine name, or a runner with the transformers engine.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (use {', '.join(ENGINES)})")
    if runner is not None:
        if engine == "transformers":
            raise ValueError("a stand-in batch runner works only with the botkit engine")
        from botkit.model.scheduler import BatchScheduler

        stand_in = BatchScheduler(lm, max_batch=max_batch, runner=runner)
        stand_in.chosen_by = "a stand-in batch runner"
        return stand_in
    chosen_by = "configured"
    ignored = unsupported_settings("transformers", None if sampling is None else lm.sampling.fill(sampling))
    if engine == "transformers" and ignored:
        chosen_by = f"configured; it ignores {ignored}"
        log.warning(
            "the transformers engine was configured but ignores %s (the botkit engine honours it)", ignored
        )
    if engine == "auto" and ignored:
        engine, chosen_by = "botkit", f"auto, the only engine that honours {ignored}"
    elif engine == "auto":
        if measure if measure is not None else lm.device.type == "cuda":
            engine, figures = choose_engine(lm, max_batch=max_batch)
            chosen_by = "auto, timed: " + ", ".join(f"{n} {r:,.0f} tokens/s" for n, r in figures.items())
        else:
            engine, chosen_by = "botkit", "auto, the faster one on the CPU"
    batcher = _build(lm, engine, max_batch)
    batcher.chosen_by = chosen_by
    return batcher


def unsupported_settings(engine: str, sampling: SamplingParams | None) -> str:
    """What of ``sampling`` ``engine`` would ignore, as ``"repetition_penalty=1.15"`` (empty: nothing)."""
    if engine != "transformers" or sampling is None:
        return ""
    ignored = []
    if sampling.repetition_penalty != 1.0:
        ignored.append(f"repetition_penalty={sampling.repetition_penalty:g}")
    if sampling.seed is not None:
        ignored.append(f"seed={sampling.seed}")
    return ", ".join(ignored)


def choose_engine(
    lm: LoadedModel, *, max_batch: int = 32, requests: int = 16, new_tokens: int = 32
) -> tuple[str, dict[str, float]]:
    """Time both engines on ``lm`` with the same burst of ``requests`` greedy replies; name the faster.

    Each engine first runs the burst once untimed (CUDA graphs, kernels and caches are built then), then
    once timed. Returns the winner and each engine's tokens/s; the choice and the figures are logged.
    """
    prompt = _probe_prompt(lm)
    params = SamplingParams(max_new_tokens=new_tokens, temperature=0.0, repetition_penalty=1.0)
    figures: dict[str, float] = {}
    for name in ("botkit", "transformers"):
        batcher = _build(lm, name, max_batch)
        try:
            _burst(batcher, prompt, params, requests)
            figures[name] = _burst(batcher, prompt, params, requests)
        except Exception as exc:  # an engine that cannot run this model simply loses
            log.warning("engine %s could not run this model: %s", name, exc)
            figures[name] = 0.0
        finally:
            batcher.close()
    winner = max(figures, key=lambda name: figures[name])
    log.info(
        "engine: %s (%s)", winner, ", ".join(f"{name} {rate:,.0f} tokens/s" for name, rate in figures.items())
    )
    return winner, figures


def _build(lm: LoadedModel, engine: str, max_batch: int) -> Batcher:
    if engine == "transformers":
        from botkit.model.transformers_cb import TransformersBatcher

        return TransformersBatcher(lm, max_batch=max_batch)
    from botkit.model.scheduler import BatchScheduler

    return BatchScheduler(lm, max_batch=max_batch)


def _probe_prompt(lm: LoadedModel) -> list[int]:
    return encode_chat(lm.tokenizer, [{"role": "user", "content": PROBE_PROMPT}])


def _burst(batcher: Batcher, prompt: list[int], params: SamplingParams, requests: int) -> float:
    """Tokens per second for ``requests`` copies of ``prompt`` submitted together."""
    start = time.perf_counter()
    jobs = [batcher.submit(GenerationJob(list(prompt), params)) for _ in range(requests)]
    for job in jobs:
        if not job.done.wait(timeout=120):
            raise TimeoutError("no reply within 120 s")
        if job.error is not None:
            raise job.error
    elapsed = time.perf_counter() - start
    return sum(len(job.completion_ids) for job in jobs) / max(elapsed, 1e-9)
