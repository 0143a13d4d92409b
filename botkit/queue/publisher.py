"""Coalesced publishing of one reply to its Redis stream.

The model thread calls :meth:`StreamPublisher.add` for every piece of text; it only appends to a list,
so a slow Redis never stalls the batch. The task thread calls :meth:`StreamPublisher.wait` and
:meth:`StreamPublisher.flush`, which write one ``XADD`` per ``interval`` (or sooner once ``max_chars``
are waiting): publishing a record per token would cost more than generating the token.

Every record is written by :data:`~botkit.queue.protocol.WRITE_SCRIPT`, which checks that this attempt still
holds the request's lock and that the stream still exists. When either is gone (Redis lost its data,
another worker took the request over) nothing is written and :attr:`StreamPublisher.lost` turns true, so
the worker stops instead of writing a reply that has no start record.
"""

from __future__ import annotations

import threading
from typing import Any

from botkit.queue.protocol import WRITE_SCRIPT
from botkit.types import Generation


class StreamPublisher:
    """Writes the records of one attempt at one request (see :mod:`botkit.queue.protocol`).

    Args:
        redis: a synchronous ``redis.Redis`` with ``decode_responses=True``.
        stream: the request's stream key.
        lock: the request's lock key.
        holder: this attempt's lock value (``worker|nonce``).
        attempt: this attempt's number.
        ttl_s: the stream expires this long after the last record.
        interval_s: publish at most this often (0: every piece at once).
        max_chars: publish sooner when this many characters are waiting.
    """

    def __init__(
        self,
        redis: Any,
        stream: str,
        lock: str,
        holder: str,
        attempt: int,
        *,
        ttl_s: int,
        interval_s: float,
        max_chars: int,
    ) -> None:
        self._write = redis.register_script(WRITE_SCRIPT)
        self._keys = [stream, lock]
        self._holder = holder
        self.lost = False  # the lock or the stream is gone: nothing more is written
        self._attempt = str(attempt)
        self._ttl_s = ttl_s
        self._interval_s = interval_s
        self._max_chars = max_chars
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._chars = 0
        self._finished = False

    def add(self, delta: str) -> None:
        """Queue ``delta`` for publishing (called from the model thread; never blocks on Redis)."""
        with self._cond:
            self._pending.append(delta)
            self._chars += len(delta)
            if self._interval_s == 0 or self._chars >= self._max_chars:
                self._cond.notify()

    def finished(self) -> None:
        """Wake the waiting task thread: the job is done (``GenerationJob.on_done``)."""
        with self._cond:
            self._finished = True
            self._cond.notify()

    def wait(self, timeout_s: float) -> bool:
        """Block until text should be published, the job finished, or ``timeout_s``; True if finished."""
        wait_s = timeout_s if self._interval_s == 0 else min(timeout_s, self._interval_s)
        with self._cond:
            self._cond.wait_for(self._ready, wait_s)
            return self._finished

    def _ready(self) -> bool:
        if self._finished:
            return True
        return self._chars >= self._max_chars or (self._interval_s == 0 and self._chars > 0)

    def flush(self) -> None:
        """Publish what is waiting as one delta record."""
        with self._cond:
            text = "".join(self._pending)
            self._pending.clear()
            self._chars = 0
        if text:
            self._xadd({"t": "delta", "d": text})

    def final(self, generation: Generation) -> None:
        """Publish the remaining text, then the whole reply."""
        self.flush()
        self._xadd(
            {
                "t": "final",
                "text": generation.text,
                "finish_reason": generation.finish_reason,
                "prompt_tokens": str(generation.prompt_tokens),
                "completion_tokens": str(generation.completion_tokens),
                **{k: str(v) for k, v in generation.extra.items()},
            }
        )

    def error(self, kind: str, message: str) -> None:
        """Publish a failure the client turns into an exception (``kind``: timeout, too_long, failed)."""
        self.flush()
        self._xadd({"t": "error", "kind": kind, "message": message})

    def _xadd(self, fields: dict[str, str]) -> None:
        if self.lost:
            return
        flat = [item for pair in {**fields, "a": self._attempt}.items() for item in pair]
        if not self._write(keys=self._keys, args=[self._holder, self._ttl_s, *flat]):
            self.lost = True
