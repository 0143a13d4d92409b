"""The embedded default store: one SQLite file under the bot's data directory.

One connection, used from a single worker thread (``asyncio.to_thread`` behind a lock), in WAL mode,
so concurrent conversations never interleave half-written rows and the file survives restarts.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, TypeVar

from botkit.types import ChatTurn

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now'))
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, id);
CREATE TABLE IF NOT EXISTS state (
    conversation TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
"""


class SqliteStore:
    """History and state in an SQLite file.

    Args:
        path: the database file; its parent directory is created.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        def work() -> list[tuple[Any, ...]]:
            with self._lock:
                return self._conn.execute(sql, params).fetchall()

        return await asyncio.to_thread(work)

    async def history(self, key: str, limit: int | None = None) -> list[ChatTurn]:
        if limit is None:
            rows = await self._run(
                "SELECT role, content FROM turns WHERE conversation = ? ORDER BY id", (key,)
            )
        else:
            rows = await self._run(
                "SELECT role, content FROM (SELECT id, role, content FROM turns WHERE conversation = ?"
                " ORDER BY id DESC LIMIT ?) ORDER BY id",
                (key, max(limit, 0)),
            )
        return [ChatTurn(role=role, content=content) for role, content in rows]

    async def append(self, key: str, *turns: ChatTurn) -> None:
        def work() -> None:
            with self._lock:
                self._conn.execute("BEGIN")
                try:
                    self._conn.executemany(
                        "INSERT INTO turns (conversation, role, content) VALUES (?, ?, ?)",
                        [(key, t["role"], t["content"]) for t in turns],
                    )
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")

        await asyncio.to_thread(work)

    async def clear(self, key: str) -> None:
        await self._run("DELETE FROM turns WHERE conversation = ?", (key,))
        await self._run("DELETE FROM state WHERE conversation = ?", (key,))

    async def get_state(self, key: str) -> dict[str, Any]:
        rows = await self._run("SELECT data FROM state WHERE conversation = ?", (key,))
        if not rows:
            return {}
        data = json.loads(rows[0][0])
        return data if isinstance(data, dict) else {}

    async def set_state(self, key: str, state: dict[str, Any]) -> None:
        if not state:
            await self._run("DELETE FROM state WHERE conversation = ?", (key,))
            return
        await self._run(
            "INSERT INTO state (conversation, data) VALUES (?, ?)"
            " ON CONFLICT(conversation) DO UPDATE SET data = excluded.data",
            (key, json.dumps(state, ensure_ascii=False)),
        )

    async def close(self) -> None:
        def work() -> None:
            with self._lock:
                self._conn.close()

        await asyncio.to_thread(work)
