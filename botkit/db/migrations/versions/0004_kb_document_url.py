"""A knowledge-base document's link: ``kb_documents.url`` (an HTML page's canonical URL, for citations).

Until now the URL rode on a second line of ``title``; this revision moves it to its own column and leaves
the title as the name alone (and puts it back on downgrade).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

documents = sa.table(
    "kb_documents",
    sa.column("id", sa.Integer()),
    sa.column("title", sa.Text()),
    sa.column("url", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("kb_documents") as batch_op:
        batch_op.add_column(sa.Column("url", sa.String(length=2048), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(documents.c.id, documents.c.title).where(documents.c.title.contains("\n")))
    for document_id, title in rows.all():
        name, _, url = title.partition("\n")
        conn.execute(
            sa.update(documents).where(documents.c.id == document_id).values(title=name, url=url or None)
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(documents.c.id, documents.c.title, documents.c.url).where(documents.c.url.is_not(None))
    )
    for document_id, title, url in rows.all():
        conn.execute(
            sa.update(documents).where(documents.c.id == document_id).values(title=f"{title}\n{url}")
        )
    with op.batch_alter_table("kb_documents") as batch_op:
        batch_op.drop_column("url")
