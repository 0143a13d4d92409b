"""Engines on the throw-away test databases for the desk's tests.

The schema comes from :data:`botkit.db.schema.metadata` directly (``create_all``), so that these tests
depend on the schema the desk is written against, not on the state of the migrations being written beside
it; the migrations have tests of their own.
"""

from __future__ import annotations

from sqlalchemy import Engine

from botkit.db import metadata, open_engine


def desk_engine(url: str, *, create: bool = True) -> Engine:
    """An engine on ``url``; with ``create`` the tables are made first."""
    engine = open_engine(url, migrate=False)
    if create:
        metadata.create_all(engine)
    return engine
