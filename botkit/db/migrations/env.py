"""Alembic's environment: migrate the connection :func:`botkit.db.migrate.upgrade` hands over.

The caller holds the connection, its transaction and the lock that keeps two processes from migrating at
once, so this file only configures the context. Batch mode makes SQLite's ALTERs (which SQLite mostly lacks)
a copy of the table; on other databases it is plain ALTER TABLE.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from botkit.db.schema import metadata

if context.is_offline_mode():
    raise RuntimeError(
        "botkit's migrations run on a live connection (botkit.db.migrate.upgrade), not offline"
    )

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run botkit's migrations through botkit.db.migrate.upgrade(engine)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
