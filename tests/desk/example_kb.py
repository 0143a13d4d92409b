"""The example shop's knowledge base (``botkit/presets/example_kb``) in the real :class:`KnowledgeBase`.

Embedding its chunks takes tens of seconds on a busy CPU, so it is done once per test session, in an
SQLite file, and each test copies the stored documents and chunks (vectors included) into its own
database: the knowledge base a test answers from is exactly what ``KnowledgeBase.add`` stored.

A test module uses it by importing ``example_kb_rows_fixture`` (pytest name ``example_kb_rows``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from botkit.config import KBSettings
from botkit.db.schema import kb_chunks, kb_documents
from botkit.kb import KnowledgeBase
from tests.desk.engines import desk_engine

EXAMPLE_KB = Path(__file__).resolve().parents[2] / "botkit" / "presets" / "example_kb"

Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(name="example_kb_rows", scope="session")
def example_kb_rows_fixture(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    """The example knowledge base's stored rows, added once with ``KnowledgeBase.add``."""
    engine = desk_engine(f"sqlite:///{tmp_path_factory.mktemp('example_kb') / 'kb.sqlite3'}")
    try:
        report = KnowledgeBase(engine, KBSettings()).add([EXAMPLE_KB])
        assert not report.errors, report.errors
        with engine.connect() as conn:
            return {
                "documents": [dict(r._mapping) for r in conn.execute(select(kb_documents))],
                "chunks": [dict(r._mapping) for r in conn.execute(select(kb_chunks))],
            }
    finally:
        engine.dispose()


def example_kb(engine: Engine, rows: Rows) -> KnowledgeBase:
    """The example knowledge base in ``engine``'s database (its rows copied there)."""
    with engine.begin() as conn:
        conn.execute(insert(kb_documents), rows["documents"])
        conn.execute(insert(kb_chunks), rows["chunks"])
    return KnowledgeBase(engine, KBSettings())
