"""The batching loop: one thread owns the model and turns whatever is waiting into one batch.

Requests that arrive while a batch is running wait (cheaply, in a queue) and join it a few decoding
steps later (continuous batching, up to ``max_batch`` rows), or start the next batch together. Both the
in-process generator and the Celery inference worker submit here, so the embedded default and the GPU
worker batch the same way.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from botkit.model.decoding import generate_batch
from botkit.model.jobs import GenerationJob
from botkit.model.loader import LoadedModel

log = logging.getLogger("botkit.model")

BatchRunner = Callable[[LoadedModel, list[GenerationJob]], None]


class BatchScheduler:
    """Collects jobs from any thread and generates them in batches on one model thread.

    Args:
        lm: the loaded model (touched only from the scheduler's thread).
        max_batch: most jobs in one batch.
        runner: the batch function (``generate_batch``; a benchmark may pass another).
    """

    name = "botkit"
    chosen_by = "constructed directly"

    def __init__(self, lm: LoadedModel, *, max_batch: int = 32, runner: BatchRunner = generate_batch) -> None:
        self.lm = lm
        self.max_batch = max_batch
        self._runner = runner
        self._pending: queue.SimpleQueue[GenerationJob | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._stopping = False
        self.batches_run = 0

    def submit(self, job: GenerationJob) -> GenerationJob:
        """Queue ``job``; its ``done`` event is set when it finishes (or fails)."""
        if self._closed:
            job.fail(RuntimeError("the model has been shut down"))
            return job
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="botkit-batcher", daemon=True)
                self._thread.start()
        self._pending.put(job)
        return job

    def close(self, timeout: float = 10.0) -> None:
        """Finish the running batch, fail what is still waiting, stop the thread."""
        self._closed = True
        self._pending.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _admit(self, running: int) -> list[GenerationJob]:
        """Jobs waiting now, up to the room left in a running batch of ``running`` rows (never blocks)."""
        joining: list[GenerationJob] = []
        while running + len(joining) < self.max_batch:
            try:
                job = self._pending.get_nowait()
            except queue.Empty:
                break
            if job is None:  # close() was called: finish this batch, then stop
                self._stopping = True
                break
            joining.append(job)
        return joining

    def _loop(self) -> None:
        while True:
            first = self._pending.get()
            if first is None:
                break
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    job = self._pending.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self.batches_run += 1
            try:
                if self._runner is generate_batch:  # the real runner also takes arrivals mid-batch
                    generate_batch(self.lm, batch, admit=self._admit)
                    stop = stop or self._stopping
                else:
                    self._runner(self.lm, batch)
            except Exception as exc:  # runner promises not to raise; belt and braces for the thread
                log.exception("batch failed")
                for job in batch:
                    if not job.done.is_set():
                        job.fail(exc)
            if stop:
                break
        while True:  # fail what arrived after close() so no caller waits forever
            try:
                left = self._pending.get_nowait()
            except queue.Empty:
                return
            if left is not None:
                left.fail(RuntimeError("the model has been shut down"))
