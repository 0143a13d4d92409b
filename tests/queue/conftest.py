"""Fixtures: a tiny real model, a private Redis and real inference workers (all cleaned up on exit)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from botkit.config import QueueSettings, Settings, load_settings
from botkit.queue.client import CeleryGenerator
from tests.queue.servers import RedisServer, WorkerProcess, free_port, write_config

# write_config shortens these for quick tests; fault tests use what a user gets without a config.
QUEUE_DEFAULTS: dict[str, Any] = {
    name: QueueSettings.model_fields[name].default
    for name in (
        "visibility_timeout_s",
        "restore_interval_s",
        "lock_ttl_s",
        "heartbeat_ttl_s",
        "stream_interval_ms",
        "queue_grace_s",
    )
}


@pytest.fixture
def default_config(tmp_path: Path) -> Callable[..., Path]:
    """``write(redis_url, model_dir, **queue)``: a botkit.toml with the default ``[queue]`` settings (plus
    ``queue`` overrides, for a test that changes one on purpose)."""

    def write(redis_url: str, model: Path, **queue: Any) -> Path:
        return write_config(tmp_path / "botkit.toml", redis_url, model, **{**QUEUE_DEFAULTS, **queue})

    return write


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, so stopping, flushing it or killing workers disturbs no other test."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Workers a test starts; all are stopped at the end, however the test ends."""
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.stop()


@pytest.fixture(scope="session")
def model_dir(tiny_model_dir: Path) -> Path:
    """The session's tiny model (context window 256 tokens), from tests/conftest.py."""
    return tiny_model_dir


@pytest.fixture(scope="session")
def config_file(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, model_dir: Path) -> Path:
    return write_config(tmp_path_factory.mktemp("config") / "botkit.toml", redis_server.url, model_dir)


@pytest.fixture(scope="session")
def worker(
    tmp_path_factory: pytest.TempPathFactory, config_file: Path, model_dir: Path
) -> Iterator[WorkerProcess]:
    """One shared inference worker (batch of up to 8) for the tests that do not kill anything."""
    port = free_port()
    proc = WorkerProcess(
        tmp_path_factory.mktemp("worker"), config_file, model_dir, "--metrics-port", str(port)
    )
    proc.metrics_port = port
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()


@pytest.fixture
def settings(config_file: Path) -> Settings:
    return load_settings(config_file)


@pytest.fixture
async def generator(settings: Settings, worker: WorkerProcess) -> AsyncIterator[CeleryGenerator]:
    gen = CeleryGenerator.from_settings(settings)
    try:
        yield gen
    finally:
        await gen.close()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()
