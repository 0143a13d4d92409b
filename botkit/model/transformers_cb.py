"""The other batch engine: transformers' own continuous batching behind the scheduler's surface.

transformers (5.x) ships a ``ContinuousBatchingManager``: a paged KV cache, requests joining and leaving
every step, CUDA graphs and flash attention where the GPU has them. On the CPU it was measured slower
than per-request ``generate`` (bench/batching.py), so botkit's own scheduler is the default there; on a
GPU the worker can measure both and keep the faster (``[model] engine = "auto"``, see
:mod:`botkit.model.engines`).

Replies are still finished and streamed by :class:`~botkit.model.jobs.ReplyRow` (stop sequences,
token budget, deadline, held-back partial characters), so both engines end replies the same way. The
manager streams each request's tokens; a router thread hands them to the rows and cancels a request
the moment its row is done. What this engine cannot honour per request: ``repetition_penalty`` (the
manager drops that processor) and ``seed`` (one generator for the whole manager).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from typing import Any

from botkit.model.jobs import GenerationJob, PromptTooLongError, ReplyRow, token_budget
from botkit.model.loader import LoadedModel
from botkit.types import SamplingParams

log = logging.getLogger("botkit.model")

SHUT_DOWN = "the model has been shut down"
DIED = "transformers' continuous batching stopped unexpectedly; please try again"
PREFILL_TOKENS = 2048  # most tokens in one forward pass (prompts are prefilled in chunks of this)
PAGE_SIZE = 256  # tokens per block of the paged KV cache
# Share of the free device memory (RAM on the CPU) the KV cache may take: activations, the other
# process's needs and fragmentation get the rest.
CACHE_MEMORY_SHARE = 0.5


class CacheTooSmallError(RuntimeError):
    """The paged KV cache cannot hold even one block in the memory that is free."""


def kv_bytes_per_token(lm: LoadedModel) -> int:
    """Bytes of keys and values one token occupies over all layers, at the model's dtype."""
    config = lm.model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    element = next(lm.model.parameters()).element_size()
    return int(2 * config.num_hidden_layers * heads * head_dim * element)


def free_memory_bytes(lm: LoadedModel) -> int:
    """Memory free where the model runs: the CUDA device's free memory, else the host's available RAM."""
    import os

    import torch

    if lm.device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(lm.device)
        return int(free)
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def cache_blocks(lm: LoadedModel, max_batch: int, free_bytes: int | None = None) -> int:
    """Blocks of the paged KV cache: enough for ``max_batch`` full contexts, but never more than
    :data:`CACHE_MEMORY_SHARE` of the free memory.

    A long-context model (128k tokens) would otherwise ask for ``max_batch`` whole contexts, hundreds of GB,
    at start-up. The manager hands out blocks as requests grow, so a cache smaller than ``max_batch`` full
    contexts still serves ``max_batch`` requests of ordinary length; a request longer than the whole cache
    is refused when it arrives (:meth:`TransformersBatcher.submit`).

    Raises:
        CacheTooSmallError: not one block fits, with the figures and what to change.
    """
    per_block = kv_bytes_per_token(lm) * PAGE_SIZE
    wanted = max_batch * -(-lm.context_window // PAGE_SIZE)
    free = free_memory_bytes(lm) if free_bytes is None else free_bytes
    fits = int(free * CACHE_MEMORY_SHARE) // per_block
    if fits < 1:
        raise CacheTooSmallError(
            f"the transformers engine's KV cache needs {per_block / 2**20:,.1f} MiB per block of {PAGE_SIZE} "
            f"tokens and {free / 2**20:,.0f} MiB are free on {lm.device}; free memory, use a smaller "
            'dtype, or run the botkit engine ([model] engine = "botkit")'
        )
    return min(wanted, fits)


class TransformersBatcher:
    """Generates jobs with transformers' ``ContinuousBatchingManager``; same ``submit``/``close`` as
    :class:`~botkit.model.scheduler.BatchScheduler`.

    Args:
        lm: the loaded model (a transformers ``PreTrainedModel`` that supports continuous batching).
        max_batch: most requests decoding together.
    """

    name = "transformers"
    chosen_by = "constructed directly"

    def __init__(self, lm: LoadedModel, *, max_batch: int = 32, free_bytes: int | None = None) -> None:
        self.lm = lm
        self.max_batch = max_batch
        # Sized now, so that a cache that cannot fit stops the worker at start-up with the reason.
        self.num_blocks = cache_blocks(lm, max_batch, free_bytes)
        self._rows: dict[str, ReplyRow] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._manager: Any = None
        self._router: threading.Thread | None = None
        self._closed = False
        self._warned: set[str] = set()

    def submit(self, job: GenerationJob) -> GenerationJob:
        """Start ``job``; its ``done`` event is set when it finishes (or fails)."""
        if self._closed:
            job.fail(RuntimeError(SHUT_DOWN))
            return job
        try:
            row = ReplyRow(job, self.lm, token_budget(self.lm, len(job.prompt_ids), job.params))
        except PromptTooLongError as exc:
            job.fail(exc)
            return job
        capacity = self.num_blocks * PAGE_SIZE
        if len(job.prompt_ids) + row.budget > capacity:
            job.fail(
                PromptTooLongError(
                    f"the conversation is too long for the memory this model has ({len(job.prompt_ids)} "
                    f"tokens and a reply of up to {row.budget}; the cache holds {capacity}). Send /reset to "
                    "start over."
                )
            )
            return job
        self._warn_unsupported(job.params)
        with self._lock:
            manager, orphans = self._start()
            request_id = f"botkit-{next(self._ids)}"
            self._rows[request_id] = row
            job.batch_size = len(self._rows)
        _fail(orphans, RuntimeError(DIED))
        try:
            accepted = manager.add_request(
                list(job.prompt_ids),
                request_id=request_id,
                max_new_tokens=row.budget,
                streaming=True,
                eos_token_id=sorted(self.lm.eos_ids),
                **per_request_sampling(job.params),
            )
        except queue.Full:
            accepted = None
        if accepted is None:  # the manager is stopping or its queue stayed full for 10 s
            self._drop(request_id, RuntimeError("the model is not taking requests right now"))
        return job

    def close(self, timeout: float = 10.0) -> None:
        """Stop the manager and fail whatever is still running, so no caller waits forever."""
        self._closed = True
        with self._lock:
            manager, router = self._manager, self._router
        if manager is not None:
            manager.stop(block=True, timeout=timeout, hard_stop=True)
        if router is not None:
            router.join(timeout)
        self._fail_all(RuntimeError(SHUT_DOWN))

    def _start(self) -> tuple[Any, list[ReplyRow]]:
        """The running manager (call with the lock held), and the rows of a dead one it replaced.

        The manager is created on first use, in the thread that submits (never before a fork), and again
        after its generation thread died: the requests it held are lost, later ones need not be.
        """
        orphans: list[ReplyRow] = []
        if self._manager is not None and not self._manager.is_running():
            orphans, self._rows, self._manager = list(self._rows.values()), {}, None
        if self._manager is None:
            self._manager = start_manager(self.lm, self.max_batch, self.num_blocks)
            self._router = threading.Thread(
                target=self._route, args=(self._manager,), name="botkit-cb-router", daemon=True
            )
            self._router.start()
        return self._manager, orphans

    def _route(self, manager: Any) -> None:
        """Hand each streamed output to its row; finish rows past their deadline even if no token came."""
        while not self._closed and self._manager is manager:
            output = manager.get_result(timeout=0.05)
            if output is not None:
                self._deliver(output)
            elif not manager.is_running():
                with self._lock:
                    if self._manager is not manager:  # a submit already replaced it
                        return
                    rows, self._rows, self._manager = list(self._rows.values()), {}, None
                _fail(rows, RuntimeError(DIED))
                return
            self._expire(time.monotonic())

    def _deliver(self, output: Any) -> None:
        request_id = output.request_id
        with self._lock:
            row = self._rows.get(request_id)
        if row is None:  # a request this router already finished (and cancelled)
            return
        if output.error is not None:
            self._drop(request_id, RuntimeError(f"generation failed: {output.error}"))
            return
        # Outputs are cumulative; a row appends every token it does not finish on, so its count says
        # where the new ones start.
        for token in output.generated_tokens[len(row.job.completion_ids) :]:
            if row.push(int(token)):
                self._forget(request_id, cancel=not output.is_finished())
                return
        if output.is_finished():  # the manager stopped it (its own length cap) before the row did
            row.finish("length")
            self._forget(request_id, cancel=False)

    def _expire(self, now: float) -> None:
        with self._lock:
            late = [
                (rid, row) for rid, row in self._rows.items() if row.job.deadline and now >= row.job.deadline
            ]
        for request_id, row in late:
            row.finish("timeout")
            self._forget(request_id, cancel=True)

    def _forget(self, request_id: str, *, cancel: bool) -> None:
        with self._lock:
            self._rows.pop(request_id, None)
        if cancel and self._manager is not None:
            self._manager.cancel_request(request_id)

    def _drop(self, request_id: str, error: Exception) -> None:
        with self._lock:
            row = self._rows.pop(request_id, None)
        if row is not None and not row.job.done.is_set():
            row.job.fail(error)

    def _fail_all(self, error: Exception) -> None:
        with self._lock:
            rows, self._rows = list(self._rows.values()), {}
        _fail(rows, error)

    def _warn_unsupported(self, params: SamplingParams) -> None:
        for name, used in (("repetition_penalty", params.repetition_penalty != 1.0), ("seed", params.seed)):
            if used and name not in self._warned:
                self._warned.add(name)
                log.warning(
                    "the transformers engine ignores per-request %s (the botkit engine honours it)", name
                )


def _fail(rows: list[ReplyRow], error: Exception) -> None:
    for row in rows:
        if not row.job.done.is_set():
            row.job.fail(error)


def per_request_sampling(params: SamplingParams) -> dict[str, Any]:
    """The manager's per-request logits-processor arguments for ``params``.

    Greedy (temperature 0) becomes top-k 1: the manager samples for every request or for none. Top-k 0
    (no limit) becomes the largest int32, which the manager clamps to the vocabulary.
    """
    if params.temperature <= 0:
        return {"temperature": 1.0, "top_k": 1, "top_p": 1.0}
    top_k = params.top_k if params.top_k > 0 else 2**31 - 1
    return {"temperature": float(params.temperature), "top_k": int(top_k), "top_p": float(params.top_p)}


def start_manager(lm: LoadedModel, max_batch: int, num_blocks: int) -> Any:
    """A started ``ContinuousBatchingManager`` for ``lm`` with per-request sampling switched on and a
    paged cache of ``num_blocks`` blocks (:func:`cache_blocks`)."""
    import torch
    from transformers import ContinuousBatchingConfig, GenerationConfig

    # The manager's logger has its own stderr handler and reports every start-up at INFO; keep its
    # warnings, drop the chatter that would land in a terminal chat.
    logging.getLogger("ContinuousBatchingLogger").setLevel(logging.WARNING)

    # Per-request temperature/top-k/top-p processors exist only when the base config enables them,
    # hence base values that are neither None nor neutral; each request then sets its own.
    base = GenerationConfig(
        do_sample=True,
        temperature=0.7,
        top_k=50,
        top_p=0.95,
        max_new_tokens=lm.context_window,
        eos_token_id=sorted(lm.eos_ids),
        pad_token_id=lm.tokenizer.pad_token_id or 0,
    )
    # The paged cache is sized by cache_blocks, not left to the manager: it would otherwise fill most of
    # the device (or, on the CPU, the RAM) and build its attention masks over all of it.
    config = ContinuousBatchingConfig(
        per_request_processors=True,
        max_requests_per_batch=max_batch,
        page_size=PAGE_SIZE,
        num_blocks=num_blocks,
        max_batch_tokens=min(max_batch * lm.context_window, PREFILL_TOKENS),
    )
    manager = lm.model.init_continuous_batching(generation_config=base, continuous_batching_config=config)
    with torch.inference_mode():  # the manager's thread takes the caller's (thread-local) inference mode
        manager.start()
    return manager
