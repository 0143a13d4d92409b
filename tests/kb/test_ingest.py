"""Adding documents, on SQLite and PostgreSQL: re-adding, replacing, removing, and bad files refused with a
message naming the file while everything already in the knowledge base stays (a test per kind of bad file).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from botkit.kb import KnowledgeBase
from tests.kb.shop import write_faq, write_pdf

SHOP_FILES = ["care.txt", "faq.csv", "manuals/warranty.pdf", "pages/stores.html", "policies/returns.md"]


def snapshot(kb: KnowledgeBase) -> list[tuple[str, str, int]]:
    """What the knowledge base holds: each document's name, fingerprint and chunk count."""
    return [(d.name, d.sha256, d.chunks) for d in kb.documents()]


def test_a_folder_is_added_recursively_and_listed_with_its_chunks(kb: KnowledgeBase, shop_dir: Path) -> None:
    report = kb.add([shop_dir])
    assert report.ok
    assert sorted(report.added) == SHOP_FILES
    docs = {d.name: d for d in kb.documents()}
    assert sorted(docs) == SHOP_FILES
    assert {name: d.kind for name, d in docs.items()} == {
        "care.txt": "text",
        "faq.csv": "csv",
        "manuals/warranty.pdf": "pdf",
        "pages/stores.html": "html",
        "policies/returns.md": "markdown",
    }
    assert docs["faq.csv"].chunks == 4
    assert docs["pages/stores.html"].url == "https://shop.example/stores"
    assert docs["faq.csv"].source == str((shop_dir / "faq.csv").resolve())
    assert report.chunks == sum(d.chunks for d in docs.values())


def test_an_unchanged_file_is_skipped_and_a_changed_one_replaces_its_chunks(
    kb: KnowledgeBase, shop_dir: Path
) -> None:
    kb.add([shop_dir])
    before = {d.name: d for d in kb.documents()}
    again = kb.add([shop_dir])
    assert sorted(again.unchanged) == SHOP_FILES
    assert again.added == again.replaced == []
    assert again.chunks == 0

    write_faq(shop_dir / "faq.csv", [("Do you sell gift cards?", "Yes, from $10 to $500.")])
    changed = kb.add([shop_dir / "faq.csv"])
    assert changed.replaced == ["faq.csv"]
    after = {d.name: d for d in kb.documents()}
    assert after["faq.csv"].id == before["faq.csv"].id  # the same document, new content
    assert after["faq.csv"].chunks == 1
    assert after["faq.csv"].sha256 != before["faq.csv"].sha256
    hits = kb.search("How long do I have to return an item?", 10)
    assert all(h.question != "How long do I have to return an item?" for h in hits)  # old rows are gone
    assert kb.search("can I buy a gift card", 1)[0].text == "Yes, from $10 to $500."


def test_removing_a_document_removes_its_chunks_from_search(kb: KnowledgeBase, shop_dir: Path) -> None:
    kb.add([shop_dir])
    faq = next(d for d in kb.documents() if d.name == "faq.csv")
    assert kb.search("Do you ship to Canada?", 1)[0].source.document == "faq.csv"
    kb.remove(faq.id)
    assert "faq.csv" not in [d.name for d in kb.documents()]
    assert all(h.source.document != "faq.csv" for h in kb.search("Do you ship to Canada?", 20))
    with pytest.raises(KeyError, match=f"there is no document {faq.id} in the knowledge base"):
        kb.remove(faq.id)


def test_the_cached_index_sees_changes_made_by_another_process(kb: KnowledgeBase, shop_dir: Path) -> None:
    kb.add([shop_dir / "faq.csv"])
    assert kb.search("opening hours of the Harbour Street shop", 1)[0].source.document == "faq.csv"
    other = KnowledgeBase(kb.engine, kb.settings)  # another process: its own cache, the same database
    other.add([shop_dir / "pages" / "stores.html"])
    assert kb.search("opening hours of the Harbour Street shop", 1)[0].source.label() == (
        "stores.html > Our stores > Harbour Street"
    )


def test_reindex_embeds_every_chunk_again_and_keeps_the_answers(kb: KnowledgeBase, shop_dir: Path) -> None:
    kb.add([shop_dir])
    chunks = sum(d.chunks for d in kb.documents())
    first = kb.search("When do refunds reach my card?", 3)
    assert kb.reindex() == chunks
    assert [h.chunk_id for h in kb.search("When do refunds reach my card?", 3)] == [h.chunk_id for h in first]


# -- bad input: a clear message naming the file, and nothing already in the knowledge base lost ----------


def refused(kb: KnowledgeBase, shop_dir: Path, bad: Path) -> str:
    """Add the shop, then ``bad``; check the shop is intact and return the one error message."""
    kb.add([shop_dir])
    before = snapshot(kb)
    answer_before = kb.search("When do refunds reach my card?", 1)[0]
    report = kb.add([bad])
    assert not report.ok
    assert report.added == report.replaced == []
    assert snapshot(kb) == before
    assert kb.search("When do refunds reach my card?", 1)[0] == answer_before
    (error,) = report.errors
    assert error.path == bad
    return str(error)


def test_a_corrupt_pdf_is_refused(kb: KnowledgeBase, shop_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_bytes((shop_dir / "manuals" / "warranty.pdf").read_bytes()[:300])  # cut off mid-file
    assert refused(kb, shop_dir, bad).startswith(f"{bad}: is not a readable PDF (")


def test_a_pdf_without_text_is_refused(kb: KnowledgeBase, shop_dir: Path, tmp_path: Path) -> None:
    bad = write_pdf(tmp_path / "scan.pdf", None)
    assert refused(kb, shop_dir, bad) == (
        f"{bad}: has no extractable text in its 1 page(s) (a scan? run OCR on it first)"
    )


def test_a_csv_without_the_two_columns_is_refused(kb: KnowledgeBase, shop_dir: Path, tmp_path: Path) -> None:
    bad = write_faq(tmp_path / "faq.csv", [("Where?", "Leeds")], header=("Frage", "Antwort"))
    assert refused(kb, shop_dir, bad) == (
        f"{bad}: needs the columns question and answer in its header row (found: Frage, Antwort)"
    )


def test_an_html_page_without_text_is_refused(kb: KnowledgeBase, shop_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "empty.html"
    bad.write_text(
        "<html><head><title>Shop</title><script>var a = 'all script';</script></head>"
        "<body><nav><a href='/'>Home</a></nav><div><img src='banner.png'></div></body></html>",
        encoding="utf-8",
    )
    assert refused(kb, shop_dir, bad) == f"{bad}: has no text outside its markup, scripts and navigation"


def test_a_50_mb_file_is_refused_before_it_is_read(kb: KnowledgeBase, shop_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "huge.txt"
    with bad.open("wb") as out:  # sparse: 50 MB long, no disk used
        out.truncate(50 * 1024 * 1024)
    assert os.path.getsize(bad) == 50 * 1024 * 1024
    assert refused(kb, shop_dir, bad) == (
        f"{bad}: is 50.0 MB; the knowledge base takes files up to 20 MB (setting kb.max_file_mb)"
    )


def test_an_unknown_extension_is_refused(kb: KnowledgeBase, shop_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "catalogue.docx"
    bad.write_bytes(b"PK\x03\x04 not really a document")
    assert "has an unknown file type (extension '.docx')" in refused(kb, shop_dir, bad)


def test_a_bad_replacement_keeps_the_earlier_version(kb: KnowledgeBase, shop_dir: Path) -> None:
    kb.add([shop_dir])
    before = snapshot(kb)
    (shop_dir / "faq.csv").write_text("title,body\nx,y\n", encoding="utf-8")  # the same file, now broken
    report = kb.add([shop_dir])
    assert [str(e) for e in report.errors] == [
        f"{(shop_dir / 'faq.csv').resolve()}: needs the columns question and answer in its header row "
        "(found: title, body)"
    ]
    assert sorted(report.unchanged) == [f for f in SHOP_FILES if f != "faq.csv"]
    assert snapshot(kb) == before
    assert kb.search("Do you ship to Canada?", 1)[0].text.startswith("Yes. Parcels to Canada")


def test_a_missing_path_does_not_stop_the_others(kb: KnowledgeBase, shop_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    report = kb.add([missing, shop_dir / "care.txt"])
    assert [str(e) for e in report.errors] == [f"{missing}: no such file or folder"]
    assert report.added == ["care.txt"]
