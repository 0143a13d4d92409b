"""The schema of botkit's first store (``SqliteStore`` before SQLAlchemy): turns and state.

On SQLite these are the very statements that store ran, so that a file it made and this revision agree;
a legacy file is stamped with this revision and upgraded from here. Other databases get the same tables in
their own types (a double for the Julian day, since PostgreSQL's ``real`` would round it to the day).

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Verbatim from botkit/stores/sqlite.py as it was (commit 94a2f30).
SQLITE_DDL = (
    """CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now'))
)""",
    "CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, id)",
    """CREATE TABLE IF NOT EXISTS state (
    conversation TEXT PRIMARY KEY,
    data TEXT NOT NULL
)""",
)

# julianday('now') elsewhere: days since noon UTC, 24 November 4714 BC (the Unix epoch is day 2440587.5).
JULIAN_NOW = sa.text("(extract(epoch from current_timestamp) / 86400.0 + 2440587.5)")


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for statement in SQLITE_DDL:
            op.execute(statement)
        return
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created", sa.Double, nullable=False, server_default=JULIAN_NOW),
    )
    op.create_index("turns_by_conversation", "turns", ["conversation", "id"])
    op.create_table(
        "state",
        sa.Column("conversation", sa.Text, primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("state")
    op.drop_index("turns_by_conversation", table_name="turns")
    op.drop_table("turns")
