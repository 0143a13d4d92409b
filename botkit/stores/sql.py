"""The database store: history and state in the ``turns`` and ``state`` tables of :mod:`botkit.db.schema`.

Runs on any database SQLAlchemy reaches: an SQLite file by default, PostgreSQL when ``database_url`` names
one. The engine is synchronous; each call runs in a worker thread (``asyncio.to_thread``) so the event loop
never waits on the database. A call whose connection is lost before its commit (the server restarted)
is run again on a fresh connection, so a restart costs a delay, not a lost turn; see
:meth:`SqlStore._retrying` for why a commit that failed half-way is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql.expression import Executable

from botkit.db.schema import state, turns
from botkit.types import ChatTurn

T = TypeVar("T")

log = logging.getLogger("botkit.stores")

# How long a call waits for a database that went away (a PostgreSQL restart takes a second or two).
RETRY_S = 30.0


class SqlStore:
    """History and state in a database, through a SQLAlchemy engine.

    Args:
        engine: an engine whose schema is in place (:func:`botkit.db.open_engine` migrates it). The store
            owns it from now on: :meth:`close` disposes of it.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time and answers "database is locked" when a second one waits past its
        # timeout; queueing this process's writes here keeps that for other processes only.
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None

    async def _run(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        return await asyncio.to_thread(self._retrying, work, write)

    def _retrying(self, work: Callable[[Connection], T], write: bool) -> T:
        """Run ``work`` in one transaction; when the connection is lost (a database restart, a dropped
        connection) before the commit is sent, run it again on a fresh one, for up to :data:`RETRY_S`.

        A failure *during* the commit is raised, not retried: the server may have committed before the
        connection died, and running an append again could write its turns twice.
        """
        deadline = time.monotonic() + RETRY_S
        pause = 0.1
        while True:
            committing = False
            try:
                with self._writing() if write else contextlib.nullcontext(), self.engine.connect() as conn:
                    result = work(conn)
                    committing = True
                    conn.commit()
                    return result
            except DBAPIError as exc:
                if committing or not _lost_connection(exc) or time.monotonic() + pause > deadline:
                    raise
                log.warning("database connection lost (%s); trying again in %.1f s", _first_line(exc), pause)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
            return
        with self._write_lock:
            yield

    async def history(self, key: str, limit: int | None = None) -> list[ChatTurn]:
        query = select(turns.c.role, turns.c.content).where(turns.c.conversation == key)
        if limit is None:
            query = query.order_by(turns.c.id)
        else:
            query = query.order_by(turns.c.id.desc()).limit(max(limit, 0))

        def work(conn: Connection) -> list[ChatTurn]:
            rows = [ChatTurn(role=role, content=content) for role, content in conn.execute(query)]
            return rows if limit is None else rows[::-1]

        return await self._run(work)

    async def append(self, key: str, *turns_: ChatTurn) -> None:
        if not turns_:
            return
        now = datetime.now(UTC)
        rows = [
            {"conversation": key, "role": t["role"], "content": t["content"], "created_at": now}
            for t in turns_
        ]

        def work(conn: Connection) -> None:
            conn.execute(insert(turns), rows)  # one transaction: all of them or none

        await self._run(work, write=True)

    async def clear(self, key: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(delete(turns).where(turns.c.conversation == key))
            conn.execute(delete(state).where(state.c.conversation == key))

        await self._run(work, write=True)

    async def get_state(self, key: str) -> dict[str, Any]:
        def work(conn: Connection) -> Any:
            return conn.execute(select(state.c.data).where(state.c.conversation == key)).scalar()

        data = await self._run(work)
        return data if isinstance(data, dict) else {}

    async def set_state(self, key: str, state_: dict[str, Any]) -> None:
        def work(conn: Connection) -> None:
            if not state_:
                conn.execute(delete(state).where(state.c.conversation == key))
                return
            conn.execute(_upsert_state(conn, key, state_))

        await self._run(work, write=True)

    async def close(self) -> None:
        await asyncio.to_thread(self.engine.dispose)


def _lost_connection(exc: DBAPIError) -> bool:
    """Whether ``exc`` means the connection or the server went away (worth a fresh connection), rather
    than a refusal of the statement itself. SQLite's "database is locked" counts: it passes too."""
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


def _first_line(exc: DBAPIError) -> str:
    lines = str(exc.orig or exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def _upsert_state(conn: Connection, key: str, data: dict[str, Any]) -> Executable:
    """``INSERT ... ON CONFLICT DO UPDATE`` in the dialect's own words (one statement, no race)."""
    if conn.dialect.name == "sqlite":
        lite = sqlite.insert(state).values(conversation=key, data=data)
        return lite.on_conflict_do_update(index_elements=[state.c.conversation], set_={"data": data})
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(state).values(conversation=key, data=data)
        return pg.on_conflict_do_update(index_elements=[state.c.conversation], set_={"data": data})
    # Elsewhere: replace the row inside the caller's transaction.
    conn.execute(delete(state).where(state.c.conversation == key))
    return insert(state).values(conversation=key, data=data)
