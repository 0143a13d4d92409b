"""The bot side of the queue: :class:`CeleryGenerator`, a :class:`~botkit.types.Generator` that sends
each request to the inference queue and reads the reply back from its Redis stream.

Idempotency: the request id derives from the ``key`` the chat plugin passes
(``platform:conversation:message``). The first caller claims it with ``SET NX`` and enqueues the task;
a duplicate finds the claim taken and reads the same stream, so one platform message gets one generation
and one reply however often it is submitted or redelivered.

Faults: while no record arrives, the waiting client asks Redis about its request every second
(:data:`~botkit.queue.protocol.WATCH_SCRIPT`). A worker that died mid-reply (its heartbeat is gone) has
its request re-queued at once, by one waiting client, instead of after Celery's visibility timeout; the
new attempt's text replaces what was shown (a :class:`~botkit.message.Rewrite` when it differs). A request
whose records Redis lost (restarted empty, flushed) ends with "busy" at once: the user never sees the
tail of one attempt joined to another, and a retry of the same message starts afresh.

Token counting needs only the tokenizer and the context length: they are read from the model directory
named in the settings when this machine has it (cheap, no weights), else from the copy every worker
publishes to Redis when it starts (:data:`~botkit.queue.protocol.MODEL_INFO_KEY`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from botkit.errors import GenerationFailed, GenerationTimeout, ModelBusy
from botkit.message import Rewrite
from botkit.queue.connection import check_queue, is_refusal, redact, refusal
from botkit.queue.protocol import (
    GENERATE_TASK,
    HEARTBEAT_PREFIX,
    HEARTBEAT_SUFFIX,
    WATCH_SCRIPT,
    WORKERS_ALIVE_KEY,
    RequestKeys,
    redis_url,
    request_id,
)
from botkit.queue.tokens import TokenCounter
from botkit.types import ChatTurn, Generation, SamplingParams

if TYPE_CHECKING:
    from celery import Celery

    from botkit.config import Settings

log = logging.getLogger("botkit.queue")

WATCH_INTERVAL_S = 1.0  # how long a silent stream waits before the client asks Redis about its request


@dataclass
class _Watch:
    """What one waiting client remembers between checks of its request."""

    nobody_since: float | None = None  # monotonic time since which no worker has been alive


@dataclass(frozen=True)
class _Request:
    """What it takes to enqueue one request (again, when its worker died)."""

    rid: str
    turns: list[dict[str, str]]
    params: dict[str, Any]
    deadline: float  # wall-clock time when this caller stops waiting


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
        self._watch = self._redis.register_script(WATCH_SCRIPT)
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

    async def _submit(
        self, messages: Sequence[ChatTurn], params: SamplingParams, key: str | None
    ) -> _Request:
        """Enqueue the request unless a request with the same key already was."""
        rid = request_id(key)
        keys = RequestKeys(rid)
        turns = [{"role": m["role"], "content": m["content"]} for m in messages]
        deadline = time.time() + self.timeout_s + self._queue.queue_grace_s  # when this caller gives up
        request = _Request(rid, turns, params.to_dict(), deadline)
        try:
            first = await self._redis.set(keys.claim, "1", nx=True, ex=self._queue.result_ttl_s)
        except RedisError as exc:
            raise self._busy(exc) from exc
        if not first:
            return request  # a duplicate: read the reply the first submission produces
        try:
            await self._enqueue(request)
        except ModelBusy:
            try:
                await self._redis.delete(keys.claim)
            except RedisError:
                pass  # it expires; a retry with the same key then waits on a stream nobody writes
            raise
        return request

    async def _enqueue(self, request: _Request) -> None:
        """Put the request's task on the inference queue; :class:`ModelBusy` when the broker is away."""
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._send, request.rid, request.turns, request.params, request.deadline),
                timeout=self._queue.connect_timeout_s * 3 + 1,
            )
        except Exception as exc:  # kombu raises many kinds when the broker is away; all mean "busy"
            log.warning("could not enqueue %s on %s: %s", request.rid, redact(self._url), exc)
            raise ModelBusy() from exc

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

    async def _records(self, request: _Request) -> AsyncIterator[dict[str, str]]:
        """The records of the request's stream from the first, until the caller stops or time runs out.

        While none arrive, :meth:`_check` looks after the request every :data:`WATCH_INTERVAL_S`.
        """
        stream = RequestKeys(request.rid).stream
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s + self._queue.queue_grace_s
        last = "0-0"
        heard = loop.time()  # when a record last arrived (or the last check)
        watch = _Watch()
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise GenerationTimeout()
            block_ms = max(1, int(min(left, WATCH_INTERVAL_S) * 1000))
            try:
                batch: Any = await self._redis.xread({stream: last}, count=256, block=block_ms)
            except RedisError as exc:
                raise self._busy(exc) from exc
            for _name, entries in batch or []:
                for entry_id, fields in entries:
                    last = entry_id
                    heard = loop.time()
                    yield fields
            if loop.time() - heard >= WATCH_INTERVAL_S:
                heard = loop.time()
                await self._check(request, watch)

    async def _check(self, request: _Request, watch: _Watch) -> None:
        """Re-queue the request if its worker died; :class:`ModelBusy` if Redis lost it, or if no worker at
        all has been alive for ``queue.queue_grace_s`` while it waits (busy, rather than waiting on)."""
        keys = RequestKeys(request.rid)
        try:
            found = await self._watch(
                keys=[keys.claim, keys.stream, keys.lock, keys.attempts, keys.requeued, WORKERS_ALIVE_KEY],
                args=[HEARTBEAT_PREFIX, HEARTBEAT_SUFFIX, self._queue.result_ttl_s],
            )
        except RedisError as exc:
            raise self._busy(exc) from exc
        state, _, nobody = str(found).partition(" ")
        if state == "gone":  # Redis restarted empty or was flushed: whatever was shown cannot be completed
            log.warning(
                "request %s vanished from Redis (restarted without its data?); answering busy", request.rid
            )
            raise ModelBusy()
        now = time.monotonic()
        if not nobody:
            watch.nobody_since = None
        elif watch.nobody_since is None:
            watch.nobody_since = now
        elif now - watch.nobody_since >= self._queue.queue_grace_s:
            log.warning(
                "no worker alive for %.0f s while %s waits; answering busy",
                now - watch.nobody_since,
                request.rid,
            )
            raise ModelBusy()
        if state == "requeue":
            log.warning("the worker generating %s stopped beating; re-queueing it", request.rid)
            await self._enqueue(request)


class _Reply:
    """Turns stream records into the text to show, across attempts.

    Records count only after their attempt's ``start`` (a worker writing without one is no reply). A new
    attempt (a re-queued request after its worker died) starts from scratch; it samples with the same
    per-request seed, so it usually writes the text already shown again and only what lies beyond is
    passed on. Where it differs, the new text replaces the shown one as a :class:`Rewrite`: never a join
    of two attempts.
    """

    def __init__(self) -> None:
        self.attempt: str | None = None  # the attempt whose start record was read last
        self.current = ""
        self.shown = ""
        self.result: Generation | None = None

    def feed(self, record: dict[str, str]) -> str:
        """Take one record; returns new text to show (may be empty). Raises on an error record."""
        kind = record.get("t")
        attempt = record.get("a")
        if kind == "start":
            self.attempt, self.current = attempt, ""
            return ""
        if attempt is None or attempt != self.attempt:
            return ""  # an attempt whose start this reader never saw: not part of any reply
        if kind == "delta":
            self.current += record.get("d", "")
        elif kind == "final":
            self.current = record.get("text", "")
            self.result = Generation(
                text=self.current,
                finish_reason=record.get("finish_reason", "stop"),  # type: ignore[arg-type]  # worker-written
                prompt_tokens=int(record.get("prompt_tokens", 0)),
                completion_tokens=int(record.get("completion_tokens", 0)),
                extra={"attempts": int(attempt), "batch": int(record.get("batch", 0))},
            )
        elif kind == "error":
            raise _error(record)
        return self._unshown(final=kind == "final")

    def _unshown(self, *, final: bool) -> str:
        if self.current == self.shown:
            return ""
        if self.current.startswith(self.shown):
            delta = self.current[len(self.shown) :]
            self.shown = self.current
            return delta
        if not final and self.shown.startswith(self.current):
            return ""  # a new attempt rewriting the text already shown: nothing new yet
        log.info("a retried reply differs from the part already shown; replacing it")
        self.shown = self.current
        return Rewrite(self.current)


def _error(record: dict[str, str]) -> GenerationFailed:
    kind, message = record.get("kind"), record.get("message", "")
    if kind == "timeout":
        return GenerationTimeout()
    if kind == "busy":
        return ModelBusy()
    return GenerationFailed(message or "the model could not answer")
