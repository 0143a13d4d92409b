"""Prometheus metrics of the support desk, computed from the database at each scrape.

Nothing is counted in the bot's memory: every value is read from the shared tables when Prometheus asks, so
any number of bot replicas (each may serve ``/metrics``) report the same figures, and a restart loses
nothing. ``prometheus_client`` comes with the ``queue`` extra.

Counters (all time, from the tables; use ``rate()``/``increase()`` over them):

- ``botkit_desk_handoffs_total{reason}``: tickets ever opened, per ``tickets.reason``;
- ``botkit_desk_events_total{kind}``: ``desk_events`` rows per kind (answered, unsure, unhelpful, ...);
- ``botkit_desk_conversations_total``: conversations with at least one user message.

Gauges, now: ``botkit_desk_tickets{status}``, ``botkit_desk_waiting_tickets``,
``botkit_desk_oldest_waiting_seconds`` (how long the longest-waiting ticket has waited; 0 when none waits).

Gauges over the trailing window (``window``, a day unless told; exactly the figures of
:func:`botkit.desk.report.support_figures` over ``[now - window, now)``): ``botkit_desk_window_seconds``,
``botkit_desk_window_conversations``, ``botkit_desk_containment_ratio``, ``botkit_desk_handoff_ratio``,
``botkit_desk_csat_mean``, ``botkit_desk_csat_ratings``, ``botkit_desk_first_reply_seconds{quantile}`` and
``botkit_desk_resolution_seconds{quantile}`` (quantile ``0.5`` and ``0.9``). A figure with nothing to
measure (a ratio without conversations, a mean without ratings) has no sample rather than a made-up 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from threading import Thread
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from botkit.db.schema import desk_events, tickets, turns
from botkit.desk.report import Durations, support_figures, ticket_counts, utc

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

DEFAULT_WINDOW = timedelta(days=1)


class DeskCollector(Collector):
    """A Prometheus collector that reads the desk's figures from ``engine`` at every scrape.

    Args:
        engine: the bot's database.
        window: the trailing span the ratio, CSAT and time gauges cover.
        clock: what "now" is (aware UTC; tests pass a fixed one).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        window: timedelta = DEFAULT_WINDOW,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if window <= timedelta(0):
            raise ValueError(f"the metrics window must be positive, not {window}")
        self.engine = engine
        self.window = window
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        """The metric families, fresh from the database."""
        now = self.clock()
        yield from self._totals()
        yield from self._backlog(now)
        yield from self._window(now)

    def _totals(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            reasons = conn.execute(select(tickets.c.reason, func.count()).group_by(tickets.c.reason)).all()
            kinds = conn.execute(select(desk_events.c.kind, func.count()).group_by(desk_events.c.kind)).all()
            conversations = conn.scalar(
                select(func.count(func.distinct(turns.c.conversation))).where(turns.c.role == "user")
            )
        handoffs = CounterMetricFamily(
            "botkit_desk_handoffs", "tickets opened (handoffs to people), by reason", labels=["reason"]
        )
        for reason, n in sorted(reasons):
            handoffs.add_metric([reason], n)
        events = CounterMetricFamily(
            "botkit_desk_events",
            "desk events (answered, unsure, unhelpful, refused, emergency)",
            labels=["kind"],
        )
        for kind, n in sorted(kinds):
            events.add_metric([kind], n)
        yield handoffs
        yield events
        yield CounterMetricFamily(
            "botkit_desk_conversations",
            "conversations with at least one user message",
            value=conversations or 0,
        )

    def _backlog(self, now: datetime) -> Iterator[Metric]:
        counts = ticket_counts(self.engine)
        by_status = GaugeMetricFamily("botkit_desk_tickets", "tickets now, by status", labels=["status"])
        for status in sorted(set(counts) | {"waiting", "assigned", "resolved", "closed"}):
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "botkit_desk_waiting_tickets", "tickets waiting for a person now", value=counts.get("waiting", 0)
        )
        with self.engine.connect() as conn:
            oldest = conn.scalar(select(func.min(tickets.c.created_at)).where(tickets.c.status == "waiting"))
        waited = max(0.0, (now - utc(oldest)).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "botkit_desk_oldest_waiting_seconds",
            "how long the longest-waiting ticket has waited",
            value=waited,
        )

    def _window(self, now: datetime) -> Iterator[Metric]:
        figures = support_figures(self.engine, now - self.window, now, top_questions=0)
        span = f"over the last {self.window.total_seconds():g} s"
        yield GaugeMetricFamily(
            "botkit_desk_window_seconds",
            "the span the windowed desk gauges cover",
            value=self.window.total_seconds(),
        )
        yield GaugeMetricFamily(
            "botkit_desk_window_conversations",
            f"conversations with a user message {span}",
            value=figures.conversations,
        )
        yield _optional(
            "botkit_desk_containment_ratio",
            f"share of those no person was involved in, {span}",
            figures.containment_rate,
        )
        yield _optional(
            "botkit_desk_handoff_ratio",
            f"share of those handed off to a person, {span}",
            figures.handoff_rate,
        )
        yield _optional("botkit_desk_csat_mean", f"mean rating 1..5 given {span}", figures.csat_mean)
        yield GaugeMetricFamily("botkit_desk_csat_ratings", f"ratings given {span}", value=figures.csat_count)
        yield _quantiles(
            "botkit_desk_first_reply_seconds",
            f"time to the first human reply of tickets opened {span}",
            figures.first_reply,
        )
        yield _quantiles(
            "botkit_desk_resolution_seconds",
            f"time to resolution of tickets opened {span}",
            figures.resolution,
        )


def _optional(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    if value is not None:
        gauge.add_metric([], value)
    return gauge


def _quantiles(name: str, documentation: str, durations: Durations) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=["quantile"])
    for quantile, value in (("0.5", durations.median), ("0.9", durations.p90)):
        if value is not None:
            gauge.add_metric([quantile], value)
    return gauge


@dataclass
class MetricsServer:
    """The ``/metrics`` endpoint :func:`serve_metrics` started; :meth:`close` stops it."""

    server: WSGIServer
    thread: Thread
    registry: CollectorRegistry
    collector: DeskCollector

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen by the system when asked for 0)."""
        return int(self.server.server_port)

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(
    engine: Engine,
    port: int,
    *,
    addr: str = "0.0.0.0",  # all interfaces: Prometheus scrapes from another host
    window: timedelta = DEFAULT_WINDOW,
) -> MetricsServer:
    """Serve the desk's metrics at ``http://addr:port/metrics`` from a daemon thread.

    The registry is the desk's own (not prometheus_client's global one), so that several engines or tests
    in one process never clash over metric names.

    Raises:
        OSError: the port is taken.
    """
    collector = DeskCollector(engine, window=window)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, thread = start_http_server(port, addr=addr, registry=registry)
    return MetricsServer(server, thread, registry, collector)
