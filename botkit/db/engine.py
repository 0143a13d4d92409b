"""Opening the database: the URL botkit's settings name, and an engine on it with the schema in place."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.exc import OperationalError as SqlOperationalError

from botkit.errors import BotkitError

if TYPE_CHECKING:
    from botkit.config import Settings

# The file name the SQLite store has always used, so that an existing bot keeps its history.
SQLITE_FILE = "botkit.sqlite3"

# Seconds to wait for a PostgreSQL server to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 10

# Seconds an SQLite writer waits for another process's write to finish before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0

# A database driver's import name -> the botkit extra that installs it.
DRIVER_EXTRAS = {"psycopg": "postgres", "psycopg2": "postgres"}


class DatabaseUnavailable(BotkitError):
    """The configured database cannot be opened: a URL it cannot parse, a driver not installed, a server
    that does not answer, or credentials it refuses. The message is one line naming the URL (without its
    password) and what to do."""


def database_url(settings: Settings) -> str:
    """``settings.database_url``, or the SQLite file under ``settings.data_dir``."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{Path(settings.data_dir) / SQLITE_FILE}"


def open_engine(url: str, *, migrate: bool = True) -> Engine:
    """An engine on ``url``; with ``migrate`` the schema is brought up to date first.

    SQLite files get their folder created, WAL journalling and foreign keys on (SQLite leaves them off).
    Pooled connections are pinged before use, so a database server that restarted (or dropped idle
    connections) costs a reconnect, not an error.

    Raises:
        DatabaseUnavailable: the URL, its driver or its server is not usable; one line says which.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(
            f"database_url {url!r} is not a database URL (e.g. postgresql+psycopg://user@host/db)"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(str(parsed.database)).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(f"cannot make the database's folder {folder}: {exc.strerror}") from None
    try:
        engine = create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args=_connect_args(parsed),
            # JSON columns (state, tags) keep non-ASCII text readable in the database, as the first store did.
            json_serializer=lambda value: json.dumps(value, ensure_ascii=False),
        )
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnavailable(_driver_missing(parsed, exc)) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        from botkit.db.migrate import upgrade

        try:
            upgrade(engine)
        except SqlOperationalError as exc:
            engine.dispose()
            raise DatabaseUnavailable(
                f"cannot open the database at {_shown(parsed)}: {_one_line(exc)}"
            ) from None
    return engine


def _connect_args(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        return {"connect_timeout": CONNECT_TIMEOUT_S}
    if url.get_backend_name() == "sqlite" and "timeout" not in url.query:
        # SQLite has one writer at a time; a bot, its jobs worker and a `botkit kb add` may share the file.
        return {"timeout": SQLITE_BUSY_TIMEOUT_S}
    return {}


def _driver_missing(url: URL, exc: Exception) -> str:
    """What to install for ``url``'s driver (``exc``: the error create_engine raised without it)."""
    module = getattr(exc, "name", None) or url.get_driver_name()
    extra = DRIVER_EXTRAS.get(str(module).split(".")[0])
    if extra:
        return f"the database driver for {_shown(url)} is not installed: pip install 'botkit[{extra}]'"
    return f"no database driver for {_shown(url)} ({_one_line(exc)}); install it, or fix database_url"


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _one_line(exc: BaseException) -> str:
    """The driver's own message (not SQLAlchemy's wrapping and link), on one line."""
    message = str(getattr(exc, "orig", None) or exc)
    return re.sub(r"\s+", " ", message).strip()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
