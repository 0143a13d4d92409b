"""Fixtures: a tiny real model, a private Redis and real inference workers (all cleaned up on exit)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from botkit.config import Settings, load_settings
from botkit.queue.client import CeleryGenerator
from tests.queue.servers import RedisServer, WorkerProcess, free_port, write_config


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
