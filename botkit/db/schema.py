"""The schema: every table botkit keeps, in one SQLAlchemy ``MetaData``.

Times are timezone-aware UTC. JSON columns hold small documents (state, tags, sources). Conversations are
named by their store key (``"telegram:12345"``), as everywhere else in botkit.

Tables and who writes them:

- ``turns``, ``state``: the conversation store (:mod:`botkit.stores.sql`); ``turns.author`` says who wrote an
  assistant turn when it was not the bot (``"agent:alice"``).
- ``conversations``: one row per conversation the bot has seen, with its handoff ``mode``
  (``bot`` | ``waiting`` | ``agent``), written by the support desk (:mod:`botkit.desk`).
- ``tickets``, ``ticket_events``: handoffs to people, their life cycle and rating.
- ``desk_events``: what the support figures are computed from (questions answered or not, unhelpful marks).
- ``kb_documents``, ``kb_chunks``: the knowledge base (:mod:`botkit.kb`); a chunk's ``embedding`` is its
  float32 vector as bytes (pgvector, where installed, gets a column of its own in a migration).
- ``console_users``, ``console_sessions``, ``audit_log``: the web console (``botkit.console``): its agents and
  admins, their server-side sessions (a hash of the cookie's token), and every admin action.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC time on every database.

    PostgreSQL keeps a ``timestamptz``; SQLite has no zones and keeps the UTC wall time as text. Values are
    converted to UTC on the way in (a naive value is taken to be UTC already) and come back aware in UTC, so
    code reading a table never needs to know which database it runs on.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # SQLite's DATETIME would write the wall time and drop the zone, so hand it UTC without one.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Stable constraint names, so that migrations can refer to them on every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

KEY = String(255)  # a conversation's store key

turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation", KEY, nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("author", String(255), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("turns_by_conversation", "conversation", "id"),
    sqlite_autoincrement=True,  # as the first SQLite store: a cleared conversation's ids are never reused
)

state = Table(
    "state",
    metadata,
    Column("conversation", KEY, primary_key=True),
    Column("data", JSON, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("key", KEY, primary_key=True),
    Column("platform", String(32), nullable=False),
    Column("user_id", String(255), nullable=True),
    Column("user_name", String(255), nullable=True),
    Column("language", String(16), nullable=True),
    # bot | waiting | agent | resolved (a person resolved it and the rating has been asked)
    Column("mode", String(16), nullable=False, default="bot"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation", KEY, nullable=False, index=True),
    Column("status", String(16), nullable=False),  # waiting | assigned | resolved | closed
    Column("reason", String(32), nullable=False),  # asked | unhelpful | unsure | keyword | plugin | button
    Column("subject", Text, nullable=False, default=""),
    Column("assignee", String(255), nullable=True),
    Column("tags", JSON, nullable=False, default=list),
    Column("sources", JSON, nullable=False, default=list),  # the bot's last retrieved sources
    Column("agent_thread", String(255), nullable=True),  # where agents answer, e.g. "slack:C123" + thread
    Column("agent_thread_id", String(255), nullable=True),
    Column("rating", Integer, nullable=True),  # CSAT 1..5
    Column("created_at", UtcDateTime(), nullable=False),
    Column("assigned_at", UtcDateTime(), nullable=True),
    Column("first_reply_at", UtcDateTime(), nullable=True),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("rated_at", UtcDateTime(), nullable=True),
)

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UtcDateTime(), nullable=False),
    # opened | assigned | agent_reply | resolved | closed | rated | tagged
    Column("kind", String(32), nullable=False),
    Column("actor", String(255), nullable=True),
    Column("data", JSON, nullable=False, default=dict),
)

desk_events = Table(
    "desk_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("conversation", KEY, nullable=False, index=True),
    # answered (from the KB) | unsure (offered a person) | unhelpful (the user said so) | refused | emergency
    Column("kind", String(32), nullable=False),
    Column("question", Text, nullable=True),
    Column("confidence", Float, nullable=True),
    Column("data", JSON, nullable=False, default=dict),
)

kb_documents = Table(
    "kb_documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(1024), nullable=False),  # the path as added (resolved), or a name
    Column("title", Text, nullable=False, default=""),
    Column("kind", String(16), nullable=False),  # markdown | text | html | csv | pdf
    Column("sha256", String(64), nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
    Column("url", String(2048), nullable=True),  # the page's canonical URL, for a linked citation
    UniqueConstraint("source"),
)

kb_chunks = Table(
    "kb_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "document_id", Integer, ForeignKey("kb_documents.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("position", Integer, nullable=False),  # order within the document
    Column("heading", Text, nullable=False, default=""),  # heading path, "Returns > Refunds"
    Column("text", Text, nullable=False),
    Column("question", Text, nullable=True),  # FAQ rows: the question (``text`` is then the answer)
    Column("language", String(16), nullable=True),
    Column("embedding", LargeBinary, nullable=True),  # float32 vector, normalised
)

# The web console (botkit.console): its people, their sessions, and what admins did.
console_users = Table(
    "console_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("password_hash", String(255), nullable=False),  # argon2id, by pwdlib
    Column("role", String(16), nullable=False),  # agent | admin
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("name"),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False),  # sha256 of the cookie's token; the token is never kept
    Column(
        "user_id", Integer, ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    UniqueConstraint("token_hash"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(64), nullable=False),  # the console user
    Column("action", String(64), nullable=False),  # user.add | user.role | kb.upload | settings.change ...
    Column("target", String(1024), nullable=False, default=""),
    Column("detail", JSON, nullable=False, default=dict),
)
