"""The bot side of the queue: :class:`CeleryGenerator`, a :class:`~botkit.types.Generator` that sends
each request to the inference queue and reads the reply back from its Redis stream.

Idempotency: the request id derives from the ``key`` the chat plugin passes
(``platform:conversation:message``). The first caller claims it with ``SET NX`` and enqueues the task;
a duplicate finds the claim taken and reads the same stream, so one platform message gets one generation
and one reply however often it is submitted or redelivered.

Token counting needs only the tokenizer and the context length: they are read from the model directory
named in the settings when this machine has it (cheap, no weights), else from the copy every worker
publishes to Redis when it starts (:data:`~botkit.queue.protocol.MODEL_INFO_KEY`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from botkit.errors import GenerationFailed, GenerationTimeout, ModelBusy
from botkit.queue.connection import check_queue, is_refusal, redact, refusal
from botkit.queue.protocol import GENERATE_TASK, RequestKeys, redis_url, request_id
from botkit.queue.tokens import TokenCounter
from botkit.types import ChatTurn, Generation, SamplingParams

if TYPE_CHECKING:
    from celery import Celery

    from botkit.config import Settings

log = logging.getLogger("botkit.queue")


class CeleryGenerator:
    """Generation on Celery inference workers, streamed back through Redis.

    Args:
        settings: botkit settings; ``queue`` says where Redis is, ``model.timeout_s`` how long to wait.
        model_dir: a local copy of the model directory for token counting (None: ask the workers).
        app: a Celery app (default: one built from ``settings``).
    """

    def __init__(self, settings: Settings, *, model_dir: str | Path | None = None, app: Celery | None = None):
        from botkit.queue.app import make_celery

        self._queue = settings.queue
        self.timeout_s = settings.model.timeout_s
        self._app = app or make_celery(settings, role="client")
        self._url = url = redis_url(settings.queue)
        # One immediate retry (a pooled connection may have died with a restarted Redis) and a short
        # connect timeout: when Redis is down the user hears "busy" at once.
        self._redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=settings.queue.connect_timeout_s,
            socket_timeout=5.0,
            retry=Retry(NoBackoff(), 1),
        )
        self._tokens = TokenCounter(url, model_dir, connect_timeout_s=settings.queue.connect_timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> CeleryGenerator:
        """Connect as ``settings.queue`` says; count tokens with ``settings.model.path`` if it exists.

        Raises:
            QueueRefused: Redis refused the credentials of ``queue.redis_url`` (one line, no password).
                A Redis that is down is no reason to stop: the bot answers "busy" until it is back.
        """
        from botkit.model.loader import default_model_dir

        check_queue(settings.queue)
        chosen = settings.model.path or default_model_dir()
        model_dir = chosen if chosen is not None and Path(chosen).is_dir() else None
        return cls(settings, model_dir=model_dir)

    @property
    def context_window(self) -> int:
        """The workers' model context window (read with the tokenizer, see the module docstring)."""
        return self._tokens.context_window()

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        """Prompt tokens of ``messages``, counted with the workers' tokenizer and chat template."""
        return self._tokens.count(messages)

    async def generate(
        self, messages: Sequence[ChatTurn], params: SamplingParams, *, key: str | None = None
    ) -> Generation:
        """Enqueue (once per ``key``) and wait for the whole reply.

        Raises:
            ModelBusy: Redis cannot be reached.
            GenerationTimeout: no reply within ``model.timeout_s`` + ``queue.queue_grace_s``.
            GenerationFailed: the worker refused the request (e.g. the prompt is too long).
        """
        reply = _Reply()
        async for record in self._records(await self._submit(messages, params, key)):
            reply.feed(record)
            if reply.result is not None:
                return reply.result
        raise GenerationFailed("the reply stream ended without a reply")  # unreachable: _records never ends

    async def stream(
        self, messages: Sequence[ChatTurn], params: SamplingParams, *, key: str | None = None
    ) -> AsyncIterator[str]:
        """Enqueue (once per ``key``) and yield the reply's text as the worker publishes it.

        Raises the same errors as :meth:`generate`, after any text that did arrive.
        """
        reply = _Reply()
        async for record in self._records(await self._submit(messages, params, key)):
            delta = reply.feed(record)
            if delta:
                yield delta
            if reply.result is not None:
                if reply.result.finish_reason == "timeout":
                    raise GenerationTimeout()  # after the partial text, say why it stopped
                return

    async def close(self) -> None:
        """Close the Redis connections and the Celery producer pool."""
        await self._redis.aclose()
        await asyncio.to_thread(self._app.close)

    async def _submit(self, messages: Sequence[ChatTurn], params: SamplingParams, key: str | None) -> str:
        """Enqueue the request unless a request with the same key already was; returns its id."""
        rid = request_id(key)
        keys = RequestKeys(rid)
        try:
            first = await self._redis.set(keys.claim, "1", nx=True, ex=self._queue.result_ttl_s)
        except RedisError as exc:
            raise self._busy(exc) from exc
        if not first:
            return rid  # a duplicate: read the reply the first submission produces
        deadline = time.time() + self.timeout_s + self._queue.queue_grace_s  # when this caller gives up
        turns = [{"role": m["role"], "content": m["content"]} for m in messages]
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._send, rid, turns, params.to_dict(), deadline),
                timeout=self._queue.connect_timeout_s * 3 + 1,
            )
        except Exception as exc:  # kombu raises many kinds when the broker is away; all mean "busy"
            log.warning("could not enqueue %s on %s: %s", rid, redact(self._url), exc)
            try:
                await self._redis.delete(keys.claim)
            except RedisError:
                pass  # it expires; a retry with the same key then waits on a stream nobody writes
            raise ModelBusy() from exc
        return rid

    def _send(self, rid: str, turns: list[dict[str, str]], params: dict[str, Any], deadline: float) -> None:
        self._app.send_task(
            GENERATE_TASK,
            args=[rid, turns, params, deadline, self.timeout_s],
            task_id=rid,
            queue=self._queue.inference_queue,
            retry=False,
            # The reply travels on the request's stream; without this the result backend would also
            # SUBSCRIBE to a result channel per task (a round trip each, and subscriptions piling up).
            ignore_result=True,
            # Flower and worker logs show this instead of the conversation (privacy; also skips
            # Celery's saferepr of the whole prompt on every send).
            argsrepr=f"({rid!r}, <{len(turns)} turns>)",
            kwargsrepr="{}",
            # Nobody is waiting any more after this; a worker drops the task instead of running it.
            expires=self.timeout_s + self._queue.queue_grace_s,
        )

    def _busy(self, exc: RedisError) -> ModelBusy:
        """What the user is told when Redis fails: "busy". A refused password (rotated while the bot
        runs) is no outage that passes by itself, so it is also logged as an error naming the cause."""
        if is_refusal(exc):
            log.error("%s", refusal(self._url, exc))
        return ModelBusy()

    async def _records(self, rid: str) -> AsyncIterator[dict[str, str]]:
        """The records of ``rid``'s stream from the first, until the caller stops or time runs out."""
        stream = RequestKeys(rid).stream
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s + self._queue.queue_grace_s
        last = "0-0"
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise GenerationTimeout()
            block_ms = max(1, int(min(left, 1.0) * 1000))
            try:
                batch: Any = await self._redis.xread({stream: last}, count=256, block=block_ms)
            except RedisError as exc:
                raise self._busy(exc) from exc
            for _name, entries in batch or []:
                for entry_id, fields in entries:
                    last = entry_id
                    yield fields


class _Reply:
    """Turns stream records into the text to show, across attempts.

    A redelivered task starts a new attempt from scratch. It samples with the same per-request seed, so it
    writes the same text again; only the part beyond what was already shown is passed on.
    """

    def __init__(self) -> None:
        self.attempt = 0
        self.current = ""
        self.shown = ""
        self.result: Generation | None = None

    def feed(self, record: dict[str, str]) -> str:
        """Take one record; returns new text to show (may be empty). Raises on an error record."""
        attempt = int(record.get("a", "1"))
        if attempt < self.attempt:
            return ""  # a late record of an abandoned attempt
        if attempt > self.attempt:
            self.attempt, self.current = attempt, ""
        kind = record.get("t")
        if kind == "delta":
            self.current += record.get("d", "")
        elif kind == "final":
            self.current = record.get("text", "")
            self.result = Generation(
                text=self.current,
                finish_reason=record.get("finish_reason", "stop"),  # type: ignore[arg-type]  # worker-written
                prompt_tokens=int(record.get("prompt_tokens", 0)),
                completion_tokens=int(record.get("completion_tokens", 0)),
                extra={"attempts": attempt, "batch": int(record.get("batch", 0))},
            )
        elif kind == "error":
            raise _error(record)
        return self._unshown()

    def _unshown(self) -> str:
        if len(self.current) <= len(self.shown):
            return ""
        if not self.current.startswith(self.shown):
            log.warning("a retried reply differs from the part already shown; showing the rest as written")
        delta = self.current[len(self.shown) :]
        self.shown = self.current
        return delta


def _error(record: dict[str, str]) -> GenerationFailed:
    kind, message = record.get("kind"), record.get("message", "")
    if kind == "timeout":
        return GenerationTimeout()
    if kind == "busy":
        return ModelBusy()
    return GenerationFailed(message or "the model could not answer")
