"""What an inference worker process holds: the model, one batch engine, and a Redis connection.

Every Celery task thread hands its request to the same batch engine (:mod:`botkit.model.engines`),
so requests that arrive while the model is busy go together into the next batch, exactly as in the
in-process generator. The task thread then streams the reply into Redis while the model thread moves on.

A heartbeat thread (:mod:`botkit.queue.heartbeat`) tells clients the worker is alive; an attempt writes only
while it holds the request's lock, and stops generating as soon as it finds the lock or the stream gone.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from botkit.errors import BUSY, GenerationTimeout
from botkit.model.chat_format import encode_chat
from botkit.model.engines import start_engine
from botkit.model.jobs import GenerationJob, PromptTooLongError
from botkit.model.loader import LoadedModel
from botkit.model.scheduler import BatchRunner
from botkit.queue.heartbeat import Heartbeat
from botkit.queue.metrics import QueueDepth, WorkerMetrics
from botkit.queue.protocol import (
    CLAIM_SCRIPT,
    HEARTBEAT_PREFIX,
    HEARTBEAT_SUFFIX,
    MODEL_INFO_KEY,
    REFRESH_SCRIPT,
    RELEASE_SCRIPT,
    RequestKeys,
    seed_for,
)
from botkit.queue.publisher import StreamPublisher
from botkit.types import ChatTurn, Generation, SamplingParams

log = logging.getLogger("botkit.queue")

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
)


@dataclass(frozen=True)
class WorkerOptions:
    """How ``botkit worker`` was asked to run (the queue itself comes from the settings)."""

    model: str | None
    device: str = "auto"
    dtype: str = "auto"
    max_batch: int = 32
    engine: str = "auto"  # see botkit.model.engines
    echo: bool = False  # no model: replies echo the last message (benchmarks of the plumbing)
    metrics_port: int | None = None  # serve Prometheus metrics on this port
    threads: int | None = None  # torch intra-op threads; None keeps torch's default
    sampling: SamplingParams | None = None  # what [model] asks for: "auto" picks an engine honouring it


class WorkerRuntime:
    """The per-process state of an inference worker. Build it after the worker started (never before
    a fork: CUDA cannot be re-initialised in a forked child).

    Args:
        lm: the loaded model (or the echo stand-in).
        redis: a synchronous ``redis.Redis`` with ``decode_responses=True``.
        queue: the ``[queue]`` settings.
        options: how the worker was started.
        runner: a stand-in batch function (echo worker, slowed tests), or None for the real engine.
    """

    def __init__(
        self, lm: LoadedModel, redis: Any, queue: Any, options: WorkerOptions, runner: BatchRunner | None
    ) -> None:
        self.lm = lm
        self.redis = redis
        self.queue = queue
        self.options = options
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.scheduler = start_engine(
            lm, options.engine, max_batch=options.max_batch, runner=runner, sampling=options.sampling
        )
        # The queue's depth too: what the workers' autoscaler reads (deploy/k8s/autoscaling/hpa.yaml).
        self.metrics = WorkerMetrics(options.metrics_port, QueueDepth(redis, queue.inference_queue))
        self._claim_script = redis.register_script(CLAIM_SCRIPT)
        self._refresh = redis.register_script(REFRESH_SCRIPT)
        self._release = redis.register_script(RELEASE_SCRIPT)
        self.heartbeat = Heartbeat(
            redis, self.name, queue.heartbeat_ttl_s, publish_info=self.publish_model_info
        )

    @classmethod
    def create(
        cls, settings: Any, options: WorkerOptions, runner: BatchRunner | None = None
    ) -> WorkerRuntime:
        """Load the model (or the echo stand-in) and connect to Redis.

        Args:
            settings: botkit settings (``queue`` says where Redis is).
            options: how the worker was started.
            runner: a stand-in batch function (e.g. :func:`botkit.testing.slow_runner.slowed`), or None
                for the real engine (or, with ``options.echo``, the echo runner).
        """
        import redis

        from botkit.queue.protocol import redis_url

        if options.threads is not None:
            import torch

            torch.set_num_threads(options.threads)
        if options.echo:
            from botkit.queue.echo import echo_batch, echo_model

            lm, runner = echo_model(), runner or echo_batch
        else:
            from botkit.model.loader import load_model

            if options.model is None:
                raise ValueError("an inference worker needs --model DIR (or --echo)")
            lm = load_model(options.model, device=options.device, dtype=options.dtype)
        client = redis.Redis.from_url(
            redis_url(settings.queue),
            decode_responses=True,
            socket_connect_timeout=settings.queue.connect_timeout_s,
            socket_timeout=5.0,
            health_check_interval=10,
        )
        runtime = cls(lm, client, settings.queue, options, runner)
        try:
            runtime.publish_model_info()
        except Exception:  # Redis may be down at start: the heartbeat publishes it once Redis is back
            log.warning("could not publish the model info to Redis", exc_info=True)
        runtime.heartbeat.start()
        return runtime

    def publish_model_info(self) -> None:
        """Put the context window and tokenizer files in Redis, for clients without the model dir."""
        info = {"context_window": str(self.lm.context_window)}
        for name in TOKENIZER_FILES:
            path = self.lm.path / name
            if path.is_file():
                info[f"file:{name}"] = path.read_text(encoding="utf-8")
        self.redis.hset(MODEL_INFO_KEY, mapping=info)

    def handle(
        self,
        rid: str,
        messages: Sequence[ChatTurn],
        params: dict[str, Any],
        deadline: float,
        limit_s: float | None = None,
    ) -> str:
        """Generate the reply to request ``rid`` into its stream, once, however often it is delivered.

        Args:
            rid: the request id (names its Redis keys).
            messages: the conversation.
            params: :meth:`SamplingParams.to_dict` output.
            deadline: wall-clock time after which the user no longer waits (nothing is generated then).
            limit_s: the generation time limit, counted from when generation starts; a task redelivered
                after a crash gets the full limit again, within ``deadline``.

        Returns:
            What happened (``"generated"``, ``"duplicate"``) for the task's log line.
        """
        keys = RequestKeys(rid)
        holder = f"{self.name}|{uuid.uuid4().hex[:12]}"  # this attempt's lock value
        attempt = self._claim(keys, holder, deadline)
        if attempt == 0:
            self.metrics.request("duplicate")
            return "duplicate"
        publisher = StreamPublisher(
            self.redis,
            keys.stream,
            keys.lock,
            holder,
            attempt,
            ttl_s=self.queue.result_ttl_s,
            interval_s=self.queue.stream_interval_ms / 1000,
            max_chars=self.queue.stream_chars,
        )
        try:
            self._generate(keys, holder, publisher, messages, params, deadline, limit_s)
        except RedisError as exc:  # the queue failed, not the model: "busy", as the bot says itself
            log.warning("request %s: Redis failed under it (%s); telling the user busy", rid, exc)
            publisher.error("busy", BUSY)
            self.metrics.request("busy")
        except Exception as exc:  # tell the user now rather than let them wait for the timeout
            log.exception("request %s failed", rid)
            publisher.error("failed", f"The model failed on this message ({type(exc).__name__}).")
            self.metrics.request("failed")
        finally:
            self._release(keys=[keys.lock], args=[holder])
        if publisher.lost:
            log.warning(
                "request %s: its lock or stream was lost (Redis lost its data or a worker took it over)", rid
            )
            self.metrics.request("lost")
            return "lost"
        return "generated"

    def _claim(self, keys: RequestKeys, holder: str, deadline: float) -> int:
        """Take the request's lock and start an attempt (its number), or 0 when the reply exists.

        While another live worker holds the lock (a copy of a task still running), wait: it ends with a
        reply, or its heartbeat stops because the worker died and this copy takes over.
        """
        lock_ttl = self.queue.lock_ttl_s
        while True:
            attempt = int(
                self._claim_script(
                    keys=[keys.stream, keys.lock, keys.attempts],
                    args=[holder, lock_ttl, self.queue.result_ttl_s, HEARTBEAT_PREFIX, HEARTBEAT_SUFFIX],
                )
            )
            if attempt >= 0:
                return attempt
            if time.time() > deadline + lock_ttl:
                return 0
            time.sleep(0.2)

    def _generate(
        self,
        keys: RequestKeys,
        holder: str,
        publisher: StreamPublisher,
        messages: Sequence[ChatTurn],
        params: dict[str, Any],
        deadline: float,
        limit_s: float | None,
    ) -> None:
        remaining = deadline - time.time()
        if remaining <= 0:  # it waited in the queue past its deadline; the user has been told already
            publisher.error("timeout", GenerationTimeout().args[0])
            self.metrics.request("expired")
            return
        if limit_s is not None:
            remaining = min(remaining, limit_s)
        # Fields the bot left to the model (it may not have the model's directory) take this model's.
        sampling = self.lm.sampling.fill(SamplingParams.from_dict(params))
        if sampling.seed is None:
            sampling = dataclasses.replace(sampling, seed=seed_for(keys.rid))
        job = GenerationJob(
            encode_chat(self.lm.tokenizer, messages),
            sampling,
            on_delta=publisher.add,
            on_done=publisher.finished,
            deadline=time.monotonic() + remaining,
        )
        self.scheduler.submit(job)
        try:
            if not self._follow(job, keys, holder, publisher, give_up=time.monotonic() + remaining + 30):
                return
        except BaseException:  # Redis failed under the task: nobody can read this attempt, stop it
            job.deadline = time.monotonic()
            raise
        job.done.wait()
        if job.error is not None:
            kind = "too_long" if isinstance(job.error, PromptTooLongError) else "failed"
            publisher.error(kind, str(job.error))
            self.metrics.request(kind)
            return
        publisher.final(
            Generation(
                text=job.text,
                finish_reason=job.finish_reason or "stop",
                prompt_tokens=len(job.prompt_ids),
                completion_tokens=len(job.completion_ids),
                extra={"batch": job.batch_size},
            )
        )
        if not publisher.lost:  # else handle() counts it as lost
            self.metrics.request(job.finish_reason or "stop", len(job.completion_ids), job.batch_size)

    def _follow(
        self,
        job: GenerationJob,
        keys: RequestKeys,
        holder: str,
        publisher: StreamPublisher,
        *,
        give_up: float,
    ) -> bool:
        """Publish the job's text while it runs and keep its lock; False when the attempt ended here (hung,
        or its lock or stream lost: then its batch row is freed at once)."""
        beat = max(0.2, self.queue.lock_ttl_s / 3)
        next_beat = time.monotonic() + beat
        while not publisher.wait(beat):
            publisher.flush()
            if time.monotonic() >= give_up:  # a hung model thread must not hold the user for ever
                publisher.error("timeout", GenerationTimeout().args[0])
                self.metrics.request("hung")
                return False
            if time.monotonic() >= next_beat:  # still ours: keep the lock from expiring
                if not self._refresh(keys=[keys.lock], args=[holder, self.queue.lock_ttl_s]):
                    publisher.lost = True
                next_beat = time.monotonic() + beat
            if publisher.lost:  # nobody reads this attempt any more
                job.deadline = time.monotonic()
                job.done.wait()
                return False
        return True

    def close(self) -> None:
        """Stop the heartbeat and the batching thread, and drop the connection."""
        self.heartbeat.stop()
        self.scheduler.close()
        self.redis.close()
