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


class TransformersBatcher:
    """Generates jobs with transformers' ``ContinuousBatchingManager``; same ``submit``/``close`` as
    :class:`~botkit.model.scheduler.BatchScheduler`.

    Args:
        lm: the loaded model (a transformers ``PreTrainedModel`` that supports continuous batching).
        max_batch: most requests decoding together.
    """

    name = "transformers"
    chosen_by = "constructed directly"

    def __init__(self, lm: LoadedModel, *, max_batch: int = 32) -> None:
        self.lm = lm
        self.max_batch = max_batch
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
            self._manager = start_manager(self.lm, self.max_batch)
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


def start_manager(lm: LoadedModel, max_batch: int) -> Any:
    """A started ``ContinuousBatchingManager`` for ``lm`` with per-request sampling switched on."""
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
    # Size the paged cache for what can run at once (max_batch full contexts), not for all free memory:
    # the manager otherwise fills most of the device (or, on the CPU, the RAM) and builds its attention
    # masks over all of it.
    page_size = 256
    pages_per_request = -(-lm.context_window // page_size)
    config = ContinuousBatchingConfig(
        per_request_processors=True,
        max_requests_per_batch=max_batch,
        page_size=page_size,
        num_blocks=max_batch * pages_per_request,
        max_batch_tokens=min(max_batch * lm.context_window, PREFILL_TOKENS),
    )
    manager = lm.model.init_continuous_batching(generation_config=base, continuous_batching_config=config)
    with torch.inference_mode():  # the manager's thread takes the caller's (thread-local) inference mode
        manager.start()
    return manager
