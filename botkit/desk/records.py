"""The rows the desk keeps besides tickets: one per conversation (with its handoff mode), and its turns.

Plain functions over a SQLAlchemy ``Connection`` so that :mod:`botkit.desk.tickets` can change a ticket and
the conversation's mode in one transaction, and :class:`ConversationLog` for the desk plugin, which runs
the same work off the event loop (``asyncio.to_thread``: the engine is synchronous).

Times are aware UTC datetimes. SQLite hands timestamps back without a zone: :func:`utc` puts UTC back on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from botkit.db.schema import conversations, desk_events, turns

Mode = Literal["bot", "waiting", "agent", "resolved"]
"""Who answers a conversation: the bot; nobody yet (a ticket waits); a person; or the bot again, which has
just asked for a rating of the person's help (``resolved``: the next message may be that rating)."""

SILENT_MODES: frozenset[str] = frozenset({"waiting", "agent"})  # modes in which the bot says nothing

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """``value`` as aware UTC (SQLite returns naive datetimes for what was stored as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def maybe_utc(value: datetime | None) -> datetime | None:
    """:func:`utc` that lets None through."""
    return None if value is None else utc(value)


@dataclass(frozen=True)
class TranscriptLine:
    """One turn of a conversation as an agent reads it.

    Attributes:
        at: when it was said (UTC).
        role: ``"user"`` or ``"assistant"``.
        author: who wrote an assistant turn when it was not the bot (``"agent:alice"``), else None.
        content: the text.
    """

    at: datetime
    role: str
    author: str | None
    content: str

    @property
    def speaker(self) -> str:
        """``"user"``, ``"bot"`` or the agent (``"agent:alice"``)."""
        if self.author:
            return self.author
        return "user" if self.role == "user" else "bot"


def ensure_conversation(
    conn: Connection, key: str, now: datetime, *, user_id: str | None = None, user_name: str | None = None
) -> None:
    """Insert the conversation's row (mode ``bot``) unless it exists; its platform is the key's prefix."""
    exists = conn.execute(select(conversations.c.key).where(conversations.c.key == key)).first()
    if exists is not None:
        return
    values = {
        "key": key,
        "platform": key.partition(":")[0],
        "user_id": user_id,
        "user_name": user_name,
        "mode": "bot",
        "created_at": now,
        "last_seen_at": now,
    }
    try:
        with conn.begin_nested():  # a concurrent insert of the same key is not an error
            conn.execute(insert(conversations).values(**values))
    except IntegrityError:
        pass


def get_mode(conn: Connection, key: str) -> Mode:
    """The conversation's mode (``bot`` for a conversation the desk never saw)."""
    found: Mode | None = conn.execute(select(conversations.c.mode).where(conversations.c.key == key)).scalar()
    return found or "bot"


def set_mode(conn: Connection, key: str, mode: Mode, now: datetime) -> None:
    """Set the conversation's mode (its row is created if missing)."""
    ensure_conversation(conn, key, now)
    conn.execute(update(conversations).where(conversations.c.key == key).values(mode=mode))


def add_turn(
    conn: Connection, key: str, role: str, content: str, now: datetime, *, author: str | None = None
) -> None:
    """Append one turn to the conversation (``author`` for an assistant turn written by a person)."""
    conn.execute(
        insert(turns).values(conversation=key, role=role, content=content, author=author, created_at=now)
    )


def read_transcript(conn: Connection, key: str, limit: int | None = None) -> list[TranscriptLine]:
    """The conversation's turns, oldest first (the last ``limit`` when given)."""
    query = select(turns.c.created_at, turns.c.role, turns.c.author, turns.c.content).where(
        turns.c.conversation == key
    )
    if limit is not None:
        query = query.order_by(turns.c.id.desc()).limit(max(limit, 0))
        rows = list(reversed(conn.execute(query).all()))
    else:
        rows = list(conn.execute(query.order_by(turns.c.id)).all())
    return [TranscriptLine(utc(r.created_at), r.role, r.author, r.content) for r in rows]


class ConversationLog:
    """The desk plugin's view of ``conversations`` and ``turns``, async (each call runs in a thread).

    Args:
        engine: the database (schema in place: :func:`botkit.db.open_engine`).
        clock: what "now" is (tests pass a fixed one).
    """

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    async def seen(self, key: str, *, user_id: str, user_name: str = "", language: str | None = None) -> Mode:
        """Record that the user wrote now (upsert of user, language, last_seen); return the mode."""

        def work() -> Mode:
            now = self.clock()
            with self.engine.begin() as conn:
                ensure_conversation(conn, key, now, user_id=user_id, user_name=user_name or None)
                values: dict[str, object] = {"last_seen_at": now, "user_id": user_id}
                if user_name:
                    values["user_name"] = user_name
                if language:
                    values["language"] = language[:16]
                conn.execute(update(conversations).where(conversations.c.key == key).values(**values))
                return get_mode(conn, key)

        return await asyncio.to_thread(work)

    async def mode(self, key: str) -> Mode:
        """The conversation's mode."""

        def work() -> Mode:
            with self.engine.connect() as conn:
                return get_mode(conn, key)

        return await asyncio.to_thread(work)

    async def set_mode(self, key: str, mode: Mode) -> None:
        """Set the conversation's mode."""

        def work() -> None:
            with self.engine.begin() as conn:
                set_mode(conn, key, mode, self.clock())

        await asyncio.to_thread(work)

    async def add_turn(self, key: str, role: str, content: str, *, author: str | None = None) -> None:
        """Append one turn (see :func:`add_turn`)."""

        def work() -> None:
            with self.engine.begin() as conn:
                add_turn(conn, key, role, content, self.clock(), author=author)

        await asyncio.to_thread(work)

    async def language(self, key: str) -> str | None:
        """The language last seen for the conversation's user (None: unknown)."""

        def work() -> str | None:
            with self.engine.connect() as conn:
                query = select(conversations.c.language).where(conversations.c.key == key)
                found: str | None = conn.execute(query).scalar()
                return found

        return await asyncio.to_thread(work)

    async def user_label(self, key: str) -> str:
        """``"Tess (id 42)"``: who the conversation's user is, as agents see it ("" when unknown)."""

        def work() -> str:
            with self.engine.connect() as conn:
                query = select(conversations.c.user_name, conversations.c.user_id).where(
                    conversations.c.key == key
                )
                row = conn.execute(query).first()
            if row is None or not (row.user_name or row.user_id):
                return ""
            return f"{row.user_name} (id {row.user_id})" if row.user_name else f"id {row.user_id}"

        return await asyncio.to_thread(work)

    async def record_event(
        self,
        key: str,
        kind: str,
        *,
        question: str | None = None,
        confidence: float | None = None,
        data: Mapping[str, object] | None = None,
    ) -> None:
        """Write a ``desk_events`` row: ``answered``, ``unsure`` or ``unhelpful`` (what the figures count)."""

        def work() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(desk_events).values(
                        at=self.clock(),
                        conversation=key,
                        kind=kind,
                        question=question,
                        confidence=confidence,
                        data=dict(data or {}),
                    )
                )

        await asyncio.to_thread(work)

    async def transcript(self, key: str, limit: int | None = None) -> list[TranscriptLine]:
        """The conversation's turns, oldest first."""

        def work() -> list[TranscriptLine]:
            with self.engine.connect() as conn:
                return read_transcript(conn, key, limit)

        return await asyncio.to_thread(work)
