"""Opening the database: the URL botkit's settings name, and an engine on it with the schema in place."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event

if TYPE_CHECKING:
    from botkit.config import Settings

# The file name the SQLite store has always used, so that an existing bot keeps its history.
SQLITE_FILE = "botkit.sqlite3"


def database_url(settings: Settings) -> str:
    """``settings.database_url``, or the SQLite file under ``settings.data_dir``."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{Path(settings.data_dir) / SQLITE_FILE}"


def open_engine(url: str, *, migrate: bool = True) -> Engine:
    """An engine on ``url``; with ``migrate`` the schema is brought up to date first.

    SQLite files get their folder created, WAL journalling and foreign keys on (SQLite leaves them off).
    """
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        from botkit.db.migrate import upgrade

        upgrade(engine)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
