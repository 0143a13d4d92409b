"""Prometheus counters of an inference worker (``botkit worker --metrics-port N``).

Flower already exports Celery's task metrics at ``/metrics``; these add what only the worker knows:
how requests ended, how big batches got, and how many tokens came out, and the inference queue's depth
(:class:`QueueDepth`, ``botkit_queue_depth``: requests waiting for a free worker), which an autoscaler reads
(deploy/k8s/autoscaling/). ``prometheus_client`` comes with Flower (the ``queue`` extra);
without it the worker runs without metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("botkit.queue")


QUEUE_DEPTH = "botkit_queue_depth"


class QueueDepth:
    """A Prometheus collector: ``botkit_queue_depth{queue="NAME"}``, the length of the queue's Redis list
    (``LLEN``, one round trip) read at each scrape.

    Celery's Redis transport keeps a queue's waiting messages in a list named after the queue (priority 0,
    the only one botkit sends); a message a worker has taken is no longer counted. When Redis does not
    answer, the scrape has no sample (rather than a 0 that would scale the workers in).

    Args:
        redis: a synchronous ``redis.Redis``.
        queue: the queue's name (``[queue] inference_queue``).
    """

    def __init__(self, redis: Any, queue: str) -> None:
        self._redis = redis
        self.queue = queue

    def depth(self) -> int | None:
        """The queue's length now, None when Redis does not answer."""
        try:
            return int(self._redis.llen(self.queue))
        except Exception as exc:  # Redis away: no sample
            log.debug("could not read the queue depth: %s", exc)
            return None

    def collect(self) -> Iterator[Any]:
        """The gauge family, as ``prometheus_client``'s registry asks a collector."""
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            QUEUE_DEPTH, "generation requests waiting in the queue for a free worker", labels=["queue"]
        )
        depth = self.depth()
        if depth is not None:
            family.add_metric([self.queue], depth)
        yield family


class WorkerMetrics:
    """Counters and a histogram, no-ops when ``prometheus_client`` is missing or no port was asked for.

    Args:
        port: serve ``/metrics`` on this port (None: no metrics).
        queue_depth: also export the inference queue's depth (``botkit_queue_depth``).
    """

    def __init__(self, port: int | None = None, queue_depth: QueueDepth | None = None) -> None:
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
        if queue_depth is not None:
            from prometheus_client import REGISTRY

            REGISTRY.register(queue_depth)
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
