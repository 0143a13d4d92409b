"""Fixtures of the knowledge-base tests: a shop's documents on disk and a knowledge base on each database.

The embedding model is loaded once per test session (``botkit.kb.embedder`` keeps it per process).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from botkit.config import KBSettings
from botkit.db.engine import open_engine
from botkit.kb import KnowledgeBase
from tests.kb.shop import write_shop


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)  # two shared cores: embedding with more threads only slows everyone down


@pytest.fixture
def shop_dir(tmp_path: Path) -> Path:
    return write_shop(tmp_path / "shop")


@pytest.fixture
def kb(database_url: str) -> Iterator[KnowledgeBase]:
    """An empty knowledge base on an SQLite file and on a throw-away PostgreSQL database (two runs)."""
    engine = open_engine(database_url)
    try:
        yield KnowledgeBase(engine, KBSettings(threshold=0.4))
    finally:
        engine.dispose()
