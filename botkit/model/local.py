"""The in-process generator: the embedded default. Plugins await it; a thread batches the model."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from botkit.errors import GenerationFailed, GenerationTimeout
from botkit.model.chat_format import encode_chat
from botkit.model.engines import start_engine
from botkit.model.jobs import GenerationJob
from botkit.model.loader import LoadedModel, load_model
from botkit.model.scheduler import BatchRunner
from botkit.types import ChatTurn, Generation, SamplingParams

log = logging.getLogger("botkit.model")

_DONE = object()


class LocalGenerator:
    """Runs the model in this process, batching concurrent requests.

    Args:
        lm: a loaded model.
        max_batch: most requests generated together.
        timeout_s: a reply still running after this long is cut off (``finish_reason="timeout"``).
        engine: the batch engine, ``"auto"``, ``"botkit"`` or ``"transformers"`` (see
            :mod:`botkit.model.engines`).
        runner: a stand-in batch function (benchmarks pass a trivial one to time the plumbing alone).
        sampling: what the configuration asks for (``ModelSettings.sampling_params()``), for choosing the
            engine; each request's own params are what is sampled with.

    Each request's fields left to the model (``SamplingParams.from_model``) take the values of the
    model's ``generation_config.json`` (:mod:`botkit.model.generation_defaults`).
    """

    def __init__(
        self,
        lm: LoadedModel,
        *,
        max_batch: int = 32,
        timeout_s: float = 120.0,
        engine: str = "auto",
        runner: BatchRunner | None = None,
        sampling: SamplingParams | None = None,
    ) -> None:
        self.lm = lm
        self.timeout_s = timeout_s
        # What start-up says about where sampling comes from ("" when all of it is botkit's or the config's).
        self.sampling_note = lm.sampling.note(sampling) if sampling is not None else ""
        if self.sampling_note:
            log.info("%s (%s)", self.sampling_note, lm.path / "generation_config.json")
        self.scheduler = start_engine(lm, engine, max_batch=max_batch, runner=runner, sampling=sampling)

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        max_batch: int = 32,
        timeout_s: float = 120.0,
        engine: str = "auto",
        sampling: SamplingParams | None = None,
    ) -> LocalGenerator:
        """Load the model directory at ``path`` (see :func:`botkit.model.loader.load_model`); ``sampling``
        is what the configuration asks for (see :func:`botkit.model.engines.start_engine`)."""
        lm = load_model(path, device=device, dtype=dtype)
        return cls(lm, max_batch=max_batch, timeout_s=timeout_s, engine=engine, sampling=sampling)

    @property
    def context_window(self) -> int:
        return self.lm.context_window

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        return len(encode_chat(self.lm.tokenizer, messages))

    async def generate(
        self, messages: Sequence[ChatTurn], params: SamplingParams, *, key: str | None = None
    ) -> Generation:
        job = await self._run(messages, params, None)
        return Generation(
            text=job.text,
            finish_reason=job.finish_reason or "stop",
            prompt_tokens=len(job.prompt_ids),
            completion_tokens=len(job.completion_ids),
        )

    async def stream(
        self, messages: Sequence[ChatTurn], params: SamplingParams, *, key: str | None = None
    ) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[object] = asyncio.Queue()

        def on_delta(delta: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, delta)

        task = asyncio.ensure_future(self._run(messages, params, on_delta))
        task.add_done_callback(lambda _t: loop.call_soon_threadsafe(pieces.put_nowait, _DONE))
        try:
            while (piece := await pieces.get()) is not _DONE:
                assert isinstance(piece, str)
                yield piece
            job = await task  # re-raise a failure after the text that did arrive
            if job.finish_reason == "timeout":
                raise GenerationTimeout()  # the user has seen the partial text; now say why it stopped
        finally:
            task.cancel()

    async def _run(
        self, messages: Sequence[ChatTurn], params: SamplingParams, on_delta: object
    ) -> GenerationJob:
        ids = await asyncio.to_thread(encode_chat, self.lm.tokenizer, messages)
        job = GenerationJob(
            ids,
            self.lm.sampling.fill(params),
            on_delta=on_delta,  # type: ignore[arg-type]
            deadline=time.monotonic() + self.timeout_s,
        )
        self.scheduler.submit(job)
        await asyncio.to_thread(job.done.wait)
        if job.error is not None:
            raise GenerationFailed(str(job.error)) from job.error
        return job

    async def close(self) -> None:
        await asyncio.to_thread(self.scheduler.close)
