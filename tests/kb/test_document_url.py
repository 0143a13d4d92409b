"""The ``url`` column of ``kb_documents``: an HTML page's canonical URL, in its own column, cited as a link;
migration 0004 moves links that older versions kept on the title's second line."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, select, text

from botkit.db.migrate import alembic_config, upgrade
from botkit.db.schema import kb_documents
from botkit.kb import KnowledgeBase

OLD_ROWS = [
    ("/kb/pages/stores.html", "pages/stores.html\nhttps://shop.example/stores"),
    ("/kb/faq.csv", "faq.csv"),
]


def test_an_html_page_keeps_its_canonical_url_in_its_own_column(kb: KnowledgeBase, shop_dir: Path) -> None:
    kb.add([shop_dir])
    with kb.engine.connect() as conn:
        rows = {r.title: r.url for r in conn.execute(select(kb_documents.c.title, kb_documents.c.url))}
    assert rows["pages/stores.html"] == "https://shop.example/stores"
    assert rows["faq.csv"] is None
    hits = kb.search("When does the Harbour Street shop open?", 3)
    page = next(h for h in hits if h.source.document == "pages/stores.html")
    assert page.source.url == "https://shop.example/stores"  # what the desk turns into a link button


def test_migration_0004_moves_the_link_off_the_title_and_back_on_downgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        for source, title in OLD_ROWS:
            conn.execute(
                text(
                    "INSERT INTO kb_documents (source, title, kind, sha256, added_at) "
                    "VALUES (:source, :title, 'html', 'x', CURRENT_TIMESTAMP)"
                ),
                {"source": source, "title": title},
            )
    upgrade(engine)
    with engine.connect() as conn:
        moved = conn.execute(
            select(kb_documents.c.title, kb_documents.c.url).order_by(kb_documents.c.id)
        ).all()
    assert [tuple(r) for r in moved] == [
        ("pages/stores.html", "https://shop.example/stores"),
        ("faq.csv", None),
    ]
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    with engine.connect() as conn:
        titles = conn.execute(text("SELECT source, title FROM kb_documents ORDER BY id")).all()
    assert [tuple(r) for r in titles] == OLD_ROWS
    engine.dispose()
