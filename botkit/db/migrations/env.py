"""Alembic's environment: migrate the connection :func:`botkit.db.migrate.upgrade` hands over.

The caller holds the connection, its transaction and the lock that keeps two processes from migrating at
once, so this file only configures the context. Batch mode makes SQLite's ALTERs (which SQLite mostly lacks)
a copy of the table; on other databases it is plain ALTER TABLE.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from botkit.db.schema import UtcDateTime, metadata

if context.is_offline_mode():
    raise RuntimeError(
        "botkit's migrations run on a live connection (botkit.db.migrate.upgrade), not offline"
    )

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run botkit's migrations through botkit.db.migrate.upgrade(engine)")


def render_item(kind: str, item: Any, _autogen: AutogenContext) -> str | Literal[False]:
    """A new revision spells UtcDateTime as the column type it is, so revisions never import schema.py."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False  # Alembic's own rendering


context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
