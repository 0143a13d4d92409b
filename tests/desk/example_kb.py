"""The example shop's knowledge base (``botkit/presets/example_kb``) in the real :class:`KnowledgeBase`.

Embedding its chunks takes tens of seconds on a busy CPU, so it is done once per test run, in an SQLite
file (the ``example_kb_rows`` fixture of tests/desk/conftest.py), and each test copies the stored documents
and chunks (vectors included) into its own database: the knowledge base a test answers from is exactly what
``KnowledgeBase.add`` stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from botkit.config import KBSettings
from botkit.db.schema import kb_chunks, kb_documents
from botkit.kb import KnowledgeBase

EXAMPLE_KB = Path(__file__).resolve().parents[2] / "botkit" / "presets" / "example_kb"

Rows = dict[str, list[dict[str, Any]]]


def example_kb(engine: Engine, rows: Rows) -> KnowledgeBase:
    """The example knowledge base in ``engine``'s database (its rows copied there)."""
    with engine.begin() as conn:
        conn.execute(insert(kb_documents), rows["documents"])
        conn.execute(insert(kb_chunks), rows["chunks"])
    return KnowledgeBase(engine, KBSettings())
