"""The example shop's knowledge base, embedded once per test run (see :mod:`tests.desk.example_kb`)."""

from __future__ import annotations

import os

import pytest
from filelock import FileLock
from sqlalchemy import select

from botkit.config import KBSettings
from botkit.db.schema import kb_chunks, kb_documents
from botkit.kb import KnowledgeBase
from tests.desk.engines import desk_engine
from tests.desk.example_kb import EXAMPLE_KB, Rows


@pytest.fixture(scope="session")
def example_kb_rows(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    """The example knowledge base's stored rows, added once with ``KnowledgeBase.add``.

    Embedding it takes tens of seconds on a busy CPU. Here in conftest.py it is one fixture for every test
    module (imported into each module, it was one fixture per module: three embeddings a run); under
    pytest-xdist the workers share one SQLite file in the run's common temporary folder, the first to take
    the lock embedding it, so a run embeds it once however many workers it has.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # basetemp is <run>/popen-gwN: its parent is the run's
        shared = shared.parent
    path = shared / "example_kb.sqlite3"
    done = shared / "example_kb.done"
    with FileLock(shared / "example_kb.lock"):
        if not done.exists():
            path.unlink(missing_ok=True)  # a worker that failed half-way left it
            engine = desk_engine(f"sqlite:///{path}")
            try:
                report = KnowledgeBase(engine, KBSettings()).add([EXAMPLE_KB])
                assert not report.errors, report.errors
            finally:
                engine.dispose()
            done.touch()
    engine = desk_engine(f"sqlite:///{path}", create=False)
    try:
        with engine.connect() as conn:
            return {
                "documents": [dict(r._mapping) for r in conn.execute(select(kb_documents))],
                "chunks": [dict(r._mapping) for r in conn.execute(select(kb_chunks))],
            }
    finally:
        engine.dispose()
