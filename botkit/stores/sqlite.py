"""The embedded default: an SQLite file, through :class:`~botkit.stores.sql.SqlStore`.

A file made by the first ``SqliteStore`` (before SQLAlchemy) is migrated in place when opened, keeping its
history and state (:mod:`botkit.db.migrate`).
"""

from __future__ import annotations

from pathlib import Path

from botkit.db.engine import open_engine
from botkit.stores.sql import SqlStore


class SqliteStore(SqlStore):
    """History and state in an SQLite file, schema brought up to date on opening.

    Args:
        path: the database file; its parent directory is created.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(open_engine(f"sqlite:///{self.path}"))
