"""The desk's Prometheus metrics, scraped over real HTTP and parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert

from botkit.config import DeskSettings
from botkit.db.engine import open_engine
from botkit.db.schema import metadata, tickets
from botkit.desk.metrics import DeskCollector, MetricsServer, serve_metrics
from tests.desk import report_history as history

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url, migrate=False)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def scrape(port: int) -> tuple[str, Samples]:
    """GET /metrics; the text and its samples keyed by (name, sorted labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def serve_at_window_end(engine: Engine) -> MetricsServer:
    """A server whose "now" is the end of the scripted week and whose window is that week."""
    server = serve_metrics(engine, 0, addr="127.0.0.1", window=timedelta(days=7))
    server.collector.clock = lambda: history.UNTIL
    return server


def test_the_figures_over_http(engine: Engine) -> None:
    history.fill(engine)
    server = serve_at_window_end(engine)
    try:
        text, samples = scrape(server.port)
    finally:
        server.close()
    assert "# TYPE botkit_desk_handoffs_total counter" in text
    assert "# TYPE botkit_desk_containment_ratio gauge" in text
    # all-time counters: every ticket (9), event and user conversation in the tables
    assert samples[("botkit_desk_handoffs_total", (("reason", "asked"),))] == 5  # tickets 1, 2, 4, 6, 8
    assert sum(v for (name, _), v in samples.items() if name == "botkit_desk_handoffs_total") == 9
    assert samples[("botkit_desk_handoffs_total", (("reason", "plugin"),))] == 1
    assert samples[("botkit_desk_events_total", (("kind", "unsure"),))] == 11
    assert samples[("botkit_desk_events_total", (("kind", "answered"),))] == 5
    assert samples[("botkit_desk_events_total", (("kind", "unhelpful"),))] == 3
    assert (
        samples[("botkit_desk_conversations_total", ())] == 9
    )  # telegram:1,2,4,5,7,9,10, slack:3, discord:6
    # now (at the week's end): tickets 5 and 8 wait; ticket 5 since T0 + 3 days
    assert samples[("botkit_desk_waiting_tickets", ())] == 2
    assert samples[("botkit_desk_tickets", (("status", "waiting"),))] == 2
    assert samples[("botkit_desk_tickets", (("status", "assigned"),))] == 2
    assert samples[("botkit_desk_tickets", (("status", "resolved"),))] == 4
    assert samples[("botkit_desk_tickets", (("status", "closed"),))] == 1
    assert samples[("botkit_desk_oldest_waiting_seconds", ())] == 4 * 86400
    # the window: exactly support_figures over the scripted week
    assert samples[("botkit_desk_window_seconds", ())] == 7 * 86400
    assert samples[("botkit_desk_window_conversations", ())] == 8
    assert samples[("botkit_desk_containment_ratio", ())] == 3 / 8
    assert samples[("botkit_desk_handoff_ratio", ())] == 0.5
    assert samples[("botkit_desk_csat_mean", ())] == 3.0
    assert samples[("botkit_desk_csat_ratings", ())] == 3
    assert samples[("botkit_desk_first_reply_seconds", (("quantile", "0.5"),))] == 210.0
    assert samples[("botkit_desk_first_reply_seconds", (("quantile", "0.9"),))] == pytest.approx(510.0)
    assert samples[("botkit_desk_resolution_seconds", (("quantile", "0.5"),))] == 3600.0
    assert samples[("botkit_desk_resolution_seconds", (("quantile", "0.9"),))] == pytest.approx(6480.0)


def test_replicas_agree_and_see_new_rows_at_the_next_scrape(engine: Engine) -> None:
    history.fill(engine)
    first, second = serve_at_window_end(engine), serve_at_window_end(engine)
    try:
        assert first.port != second.port
        assert scrape(first.port)[1] == scrape(second.port)[1]
        # Another replica opens a ticket: both endpoints count it at once, nothing was cached.
        with engine.begin() as conn:
            conn.execute(
                insert(tickets).values(
                    conversation="telegram:77",
                    status="waiting",
                    reason="button",
                    subject="",
                    tags=[],
                    sources=[],
                    created_at=history.UNTIL - history.H,
                )
            )
        after_first, after_second = scrape(first.port)[1], scrape(second.port)[1]
        assert after_first == after_second
        assert after_first[("botkit_desk_handoffs_total", (("reason", "button"),))] == 1
        assert after_first[("botkit_desk_waiting_tickets", ())] == 3
    finally:
        first.close()
        second.close()


def test_an_empty_database_has_no_made_up_ratios(engine: Engine) -> None:
    server = serve_metrics(engine, 0, addr="127.0.0.1")
    try:
        text, samples = scrape(server.port)
    finally:
        server.close()
    assert samples[("botkit_desk_waiting_tickets", ())] == 0
    assert samples[("botkit_desk_oldest_waiting_seconds", ())] == 0
    assert samples[("botkit_desk_window_conversations", ())] == 0
    assert samples[("botkit_desk_window_seconds", ())] == 86400  # a day unless told
    assert samples[("botkit_desk_conversations_total", ())] == 0
    for name in ("botkit_desk_containment_ratio", "botkit_desk_handoff_ratio", "botkit_desk_csat_mean"):
        assert f"# TYPE {name} gauge" in text  # declared, without a sample
        assert not [key for key in samples if key[0] == name]
    assert not [key for key in samples if key[0] == "botkit_desk_first_reply_seconds"]


def test_a_closed_server_frees_its_port_and_a_bad_window_is_refused(engine: Engine) -> None:
    server = serve_metrics(engine, 0, addr="127.0.0.1")
    port = server.port
    server.close()
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    again = serve_metrics(engine, port, addr="127.0.0.1")  # the port is free again
    again.close()
    with pytest.raises(ValueError, match="must be positive"):
        DeskCollector(engine, window=timedelta(0))


def test_metrics_port_setting() -> None:
    assert DeskSettings().metrics_port is None
    assert DeskSettings(metrics_port=9108).metrics_port == 9108
    with pytest.raises(ValueError, match="less than or equal to 65535"):
        DeskSettings(metrics_port=70000)


async def test_the_desk_serves_its_metrics_when_metrics_port_is_set(tmp_path: Path) -> None:
    import socket

    from botkit.app import Bot
    from botkit.config import Settings
    from botkit.desk import SupportDesk
    from botkit.testing import BotTester
    from tests.desk.answerers import FaqOverlap

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(data_dir=tmp_path, desk=DeskSettings(enabled=True, metrics_port=port))

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    async with BotTester(Bot([SupportDesk(FaqOverlap())], settings=settings)):
        assert "botkit_desk_waiting_tickets 0.0" in await asyncio.to_thread(scrape)
    with pytest.raises(urllib.error.URLError, match="Connection refused"):  # teardown stopped the server
        await asyncio.to_thread(scrape)
