"""Prometheus counters of an inference worker (``botkit worker --metrics-port N``).

Flower already exports Celery's task metrics at ``/metrics``; these add what only the worker knows:
how requests ended, how big batches got, and how many tokens came out. ``prometheus_client`` comes with
Flower (the ``queue`` extra); without it the worker runs without metrics.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("botkit.queue")


class WorkerMetrics:
    """Counters and a histogram, no-ops when ``prometheus_client`` is missing or no port was asked for."""

    def __init__(self, port: int | None = None) -> None:
        self.enabled = False
        self._requests: Any = None
        self._tokens: Any = None
        self._batch: Any = None
        if port is None:
            return
        try:
            from prometheus_client import Counter, Histogram, start_http_server
        except ImportError:
            log.warning("prometheus_client is not installed; --metrics-port is ignored")
            return
        self._requests = Counter("botkit_requests_total", "generation requests by outcome", ["outcome"])
        self._tokens = Counter("botkit_generated_tokens_total", "tokens generated")
        self._batch = Histogram(
            "botkit_batch_rows",
            "rows decoding together when a request started",
            buckets=(1, 2, 4, 8, 16, 32, 64),
        )
        start_http_server(port)
        self.enabled = True

    def request(self, outcome: str, tokens: int = 0, batch: int = 0) -> None:
        """Count one request that ended with ``outcome`` (generated, duplicate, timeout, too_long...)."""
        if not self.enabled:
            return
        self._requests.labels(outcome).inc()
        if tokens:
            self._tokens.inc(tokens)
        if batch:
            self._batch.observe(batch)
