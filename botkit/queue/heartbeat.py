"""A worker's heartbeat: a Redis key with a short TTL that one thread of the worker keeps setting.

Celery redelivers a crashed worker's task only after the broker's visibility timeout, which must outlast
the longest generation (a copy redelivered sooner would wait on the running worker's lock). The heartbeat
is what makes recovery fast instead: a waiting client whose request's lock holder has no heartbeat any
more re-queues the request at once (:data:`~botkit.queue.protocol.WATCH_SCRIPT`), and the next claim takes
the dead holder's lock over without waiting for it to expire
(:data:`~botkit.queue.protocol.CLAIM_SCRIPT`).

The same thread notices a Redis that lost its data (the model info is missing) and publishes the model
info again within seconds, so bots without a local model directory can count tokens again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botkit.queue.protocol import MODEL_INFO_KEY, WORKERS_ALIVE_KEY, heartbeat_key

log = logging.getLogger("botkit.queue")


class Heartbeat:
    """Sets ``heartbeat_key(worker)`` and ``WORKERS_ALIVE_KEY`` every ``ttl_s / 3`` seconds, with a TTL of
    ``ttl_s``.

    Args:
        redis: a synchronous ``redis.Redis``.
        worker: the worker's name (the part of its locks' values before ``|``).
        ttl_s: how long the key outlives the last beat: a worker silent this long counts as dead.
        publish_info: called when the model info is missing from Redis (checked every ``info_check_s``).
        info_check_s: how often to look for the model info (one ``EXISTS``).
    """

    def __init__(
        self,
        redis: Any,
        worker: str,
        ttl_s: float,
        *,
        publish_info: Callable[[], None] | None = None,
        info_check_s: float = 2.0,
    ) -> None:
        self._redis = redis
        self.key = heartbeat_key(worker)
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._interval_s = ttl_s / 3
        self._publish_info = publish_info
        self._info_check_s = info_check_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="botkit-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        """Beat once now (so the worker counts as alive before its first task) and start the thread."""
        self._beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and delete the key: a stopped worker is not alive."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        try:
            self._redis.delete(self.key)
        except Exception:  # Redis down at shutdown: the key expires by itself
            log.debug("could not delete the heartbeat key", exc_info=True)

    def _run(self) -> None:
        next_info = time.monotonic()
        while not self._stop.wait(self._interval_s):
            self._beat()
            if self._publish_info is not None and time.monotonic() >= next_info:
                next_info = time.monotonic() + self._info_check_s
                self._check_info()

    def _beat(self) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(self.key, "1", px=self._ttl_ms)
            pipe.set(WORKERS_ALIVE_KEY, "1", px=self._ttl_ms)
            pipe.execute()
        except Exception as exc:  # Redis away: clients cannot see us either; keep trying
            log.debug("heartbeat failed: %s", exc)

    def _check_info(self) -> None:
        assert self._publish_info is not None
        try:
            if not self._redis.exists(MODEL_INFO_KEY):  # a Redis that lost its data (or was flushed)
                log.info("the model info is missing from Redis; publishing it again")
                self._publish_info()
        except Exception as exc:
            log.debug("could not check the model info: %s", exc)
