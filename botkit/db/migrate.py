"""Bringing a database's schema up to date.

Placeholder until the Alembic migrations land: creates missing tables.
"""

from __future__ import annotations

from sqlalchemy import Engine

from botkit.db.schema import metadata


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema on ``engine``."""
    metadata.create_all(engine)
