"""One schema for everything botkit keeps: turns gain ``author`` and an aware ``created_at``, state is JSON,
and the desk's and the knowledge base's tables appear.

``turns.created`` (a Julian day, as SQLite's ``julianday('now')`` wrote it) becomes ``created_at`` (UTC),
converted in SQL so that a big history is moved without passing through Python. On SQLite the stored text
is the format SQLAlchemy's DATETIME reads back ("YYYY-MM-DD HH:MM:SS.ffffff"; Julian days carry about a
millisecond, so the last three digits are zeros).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

KEY = sa.String(255)  # a conversation's store key
TIME = sa.DateTime(timezone=True)

# The Julian day of the Unix epoch (1970-01-01T00:00Z); a day is 86,400 seconds.
CREATED_AT_FROM_JULIAN_DAY = {
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f', created) || '000'",
    "postgresql": "to_timestamp((created - 2440587.5) * 86400.0)",
}
JULIAN_DAY_FROM_CREATED_AT = {
    "sqlite": "julianday(created_at)",
    "postgresql": "extract(epoch from created_at) / 86400.0 + 2440587.5",
}
JULIAN_NOW = {  # revision 0001's default for turns.created
    "sqlite": "(julianday('now'))",
    "postgresql": "(extract(epoch from current_timestamp) / 86400.0 + 2440587.5)",
}


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    op.add_column("turns", sa.Column("author", sa.String(255), nullable=True))
    op.add_column("turns", sa.Column("created_at", TIME, nullable=True))
    op.execute(f"UPDATE turns SET created_at = {CREATED_AT_FROM_JULIAN_DAY[dialect]}")
    # SQLite: one copy of the table; AUTOINCREMENT kept, so a cleared conversation's ids are never reused.
    with op.batch_alter_table("turns", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("id", existing_type=sa.Integer(), nullable=False)  # SQLite reflects it nullable
        batch.alter_column("created_at", existing_type=TIME, nullable=False)
        batch.alter_column("conversation", existing_type=sa.Text(), type_=KEY, existing_nullable=False)
        batch.alter_column("role", existing_type=sa.Text(), type_=sa.String(16), existing_nullable=False)
        batch.drop_column("created")
    with op.batch_alter_table("state") as batch:
        batch.alter_column("conversation", existing_type=sa.Text(), type_=KEY, nullable=False)
        batch.alter_column(
            "data",
            existing_type=sa.Text(),
            type_=sa.JSON(),
            existing_nullable=False,
            postgresql_using="data::json",
        )

    op.create_table(
        "conversations",
        sa.Column("key", KEY, nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("user_name", sa.String(255), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_conversations")),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation", KEY, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("assignee", sa.String(255), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("agent_thread", sa.String(255), nullable=True),
        sa.Column("agent_thread_id", sa.String(255), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("assigned_at", TIME, nullable=True),
        sa.Column("first_reply_at", TIME, nullable=True),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("rated_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index(op.f("ix_tickets_conversation"), "tickets", ["conversation"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_events_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    op.create_index(op.f("ix_ticket_events_ticket_id"), "ticket_events", ["ticket_id"])
    op.create_table(
        "desk_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("conversation", KEY, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_events")),
    )
    op.create_index(op.f("ix_desk_events_at"), "desk_events", ["at"])
    op.create_index(op.f("ix_desk_events_conversation"), "desk_events", ["conversation"])
    op.create_table(
        "kb_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("added_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_documents")),
        sa.UniqueConstraint("source", name=op.f("uq_kb_documents_source")),
    )
    op.create_table(
        "kb_chunks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["kb_documents.id"],
            name=op.f("fk_kb_chunks_document_id_kb_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_chunks")),
    )
    op.create_index(op.f("ix_kb_chunks_document_id"), "kb_chunks", ["document_id"])


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for table in ("kb_chunks", "kb_documents", "desk_events", "ticket_events", "tickets", "conversations"):
        op.drop_table(table)
    with op.batch_alter_table("state") as batch:
        batch.alter_column("data", existing_type=sa.JSON(), type_=sa.Text(), existing_nullable=False)
        batch.alter_column("conversation", existing_type=KEY, type_=sa.Text())
    op.add_column("turns", sa.Column("created", sa.Double(), nullable=True))
    op.execute(f"UPDATE turns SET created = {JULIAN_DAY_FROM_CREATED_AT[dialect]}")
    with op.batch_alter_table("turns", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column(
            "created", existing_type=sa.Double(), nullable=False, server_default=sa.text(JULIAN_NOW[dialect])
        )
        batch.alter_column("conversation", existing_type=KEY, type_=sa.Text(), existing_nullable=False)
        batch.alter_column("role", existing_type=sa.String(16), type_=sa.Text(), existing_nullable=False)
        batch.drop_column("author")
        batch.drop_column("created_at")
