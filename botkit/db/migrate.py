"""Bringing a database's schema up to date with the Alembic migrations in :mod:`botkit.db.migrations`.

Users need no ``alembic.ini``: the Alembic configuration is built here, pointing at the migrations folder
inside the installed package. :func:`upgrade` handles three kinds of database:

- an empty one: every revision runs, ``0001`` (the first store's tables) up to the head;
- a store made by the first ``SqliteStore`` (a ``turns`` table, no ``alembic_version``): stamped ``0001``,
  then upgraded, keeping its history and state;
- one already under Alembic: upgraded from its revision (nothing to do when it is at the head).

Two processes starting at once must not both migrate: on PostgreSQL the work runs in one transaction
holding an advisory lock; on SQLite in one ``BEGIN IMMEDIATE`` transaction, which holds the file's write
lock (the second process waits for it, then finds the schema at the head). In both cases a migration that
fails leaves the database as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.pool import NullPool

# Alembic announces each of its own autogenerate plugins at INFO on every start; `botkit run` logs at INFO.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).with_name("migrations")
LEGACY_REVISION = "0001"  # the first SqliteStore's schema

# pg_advisory_xact_lock's key: any constant the bot's own code uses for nothing else ("botkit" in ASCII).
POSTGRES_LOCK_KEY = 0x626F746B6974

# How long a second SQLite opener waits for the first one's migration (a big legacy file takes a while).
SQLITE_LOCK_TIMEOUT_S = 300.0


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of botkit's migrations; with ``connection``, env.py migrates that one."""
    config = Config()
    # Config values go through configparser interpolation, which reads "%" as its own.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision(config: Config | None = None) -> str:
    """The newest revision in :mod:`botkit.db.migrations` (or in ``config``'s script location)."""
    config = config or alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, f"no migrations in {config.get_main_option('script_location')}"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database on ``connection`` is at (None: not under Alembic)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema on ``engine`` up to the head revision, safely when other processes do the same."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # Held until this transaction ends: a second process waits here, then finds nothing to do.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
            upgrade_on(conn)
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        locked = _sqlite_immediate_engine(engine)
        try:
            with locked.begin() as conn:
                upgrade_on(conn)
        finally:
            locked.dispose()
    else:  # an in-memory SQLite database (nobody else can see it), or a database we know no lock for
        with engine.begin() as conn:
            upgrade_on(conn)


def upgrade_on(conn: Connection, config: Config | None = None) -> None:
    """Upgrade the database on ``conn`` in its current transaction (the caller holds the lock)."""
    config = config or alembic_config()
    if current_revision(conn) == head_revision(config):
        return
    config.attributes["connection"] = conn
    tables = set(inspect(conn).get_table_names())
    if "turns" in tables and "alembic_version" not in tables:
        columns = {column["name"] for column in inspect(conn).get_columns("turns")}
        # A file from the first SqliteStore; or, with created_at, one made from the metadata directly
        # (create_all, as a development build did before the migrations) and so already at the head.
        command.stamp(config, "head" if "created_at" in columns else LEGACY_REVISION)
    command.upgrade(config, "head")


def _sqlite_immediate_engine(engine: Engine) -> Engine:
    """A one-connection engine on ``engine``'s file whose transactions are ``BEGIN IMMEDIATE``.

    pysqlite opens transactions itself, lazily and only before data changes, so DDL would run outside any
    transaction: driver-level autocommit plus our own BEGIN makes the whole migration one transaction, and
    IMMEDIATE takes the write lock at its start, before the schema is read.
    """
    locked = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": SQLITE_LOCK_TIMEOUT_S})

    @event.listens_for(locked, "connect")
    def _autocommit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(locked, "begin")
    def _begin_immediate(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return locked
