"""Fixtures shared by every test package: a tiny real model and a private redis-server, once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from botkit.testing import make_tiny_model
from tests.databases import database_url, postgres_url
from tests.queue.servers import RedisServer

__all__ = ["database_url", "postgres_url"]  # fixtures, shared with every test package


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama chat model on disk (real config, safetensors, tokenizer, chat template)."""
    import torch

    torch.set_num_threads(1)  # the CI box has two cores; tests run beside other processes
    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server on a free port (the queue and the jobs outbox tests share it)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
