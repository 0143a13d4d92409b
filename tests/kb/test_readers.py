"""Each format's reader on its own: what a chunk keeps (heading path, position, link) and what is dropped.

No database and no model here: readers only turn bytes into chunks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from botkit.kb.chunking import Section, section_chunks, size
from botkit.kb.errors import IngestError
from botkit.kb.readers import reader_for
from tests.kb.shop import FAQ, PDF_TEXT, write_shop


def read(path: Path, max_words: int = 180):  # type: ignore[no-untyped-def]
    return reader_for(path)(path, path.read_bytes(), max_words)


def test_markdown_chunks_keep_their_heading_path_and_order(shop_dir: Path) -> None:
    doc = read(shop_dir / "policies" / "returns.md")
    assert doc.kind == "markdown"
    assert [c.heading for c in doc.chunks] == [
        "Returns policy",
        "Returns policy > Refunds",
        "Returns policy > Damaged items",
    ]
    assert [c.position for c in doc.chunks] == [0, 1, 2]
    # A '#' line inside a code fence stays text of its section, never a heading of its own.
    assert "# this line is code, not a heading" in doc.chunks[2].text


def test_html_keeps_text_under_headings_without_scripts_styles_or_navigation(shop_dir: Path) -> None:
    doc = read(shop_dir / "pages" / "stores.html")
    assert doc.url == "https://shop.example/stores"
    assert [(c.heading, c.text) for c in doc.chunks] == [
        ("Our stores", "We run two shops."),
        (
            "Our stores > Harbour Street",
            "The Harbour Street shop opens Monday to Saturday, 10:00 to 19:00, and has free bike parking.",
        ),
    ]
    everything = " ".join(c.text for c in doc.chunks)
    assert "tracking" not in everything
    assert "navigation words" not in everything
    assert "color: red" not in everything


def test_csv_faq_has_one_chunk_per_row_with_its_question(shop_dir: Path) -> None:
    doc = read(shop_dir / "faq.csv")
    assert [(c.question, c.text) for c in doc.chunks] == FAQ
    assert [c.heading for c in doc.chunks] == [q for q, _ in FAQ]  # the citation names the question
    assert [c.language for c in doc.chunks] == ["en", "en", "en", "zh"]


def test_plain_text_is_split_into_paragraphs_without_headings(shop_dir: Path) -> None:
    doc = read(shop_dir / "care.txt")
    assert [c.heading for c in doc.chunks] == [""]
    assert doc.chunks[0].text.split("\n\n") == [
        "Wash down jackets at 30 degrees with a special down detergent.",
        "Never iron a rain shell: the heat melts the waterproof membrane.",
    ]


def test_pdf_text_is_read_page_by_page(shop_dir: Path) -> None:
    doc = read(shop_dir / "manuals" / "warranty.pdf")
    assert [c.heading for c in doc.chunks] == ["page 1"]
    assert " ".join(doc.chunks[0].text.split()) == PDF_TEXT


def test_long_sections_are_cut_into_chunks_that_keep_the_heading() -> None:
    paragraph = " ".join(f"Sentence number {i} says something about tents." for i in range(40))
    chunks = section_chunks([Section(("Tents", "Poles"), (paragraph, "A short closing paragraph."))], 60)
    assert len(chunks) > 3
    assert all(c.heading == "Tents > Poles" for c in chunks)
    assert all(size(c.text) <= 60 for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    # Nothing is lost between chunks.
    assert " ".join(c.text for c in chunks).split() == f"{paragraph} A short closing paragraph.".split()


def test_an_unknown_extension_is_refused_with_the_types_botkit_reads(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.docx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(IngestError) as caught:
        reader_for(path)
    assert str(caught.value) == (
        f"{path}: has an unknown file type (extension '.docx'); botkit reads .csv, .htm, .html, .markdown, "
        ".md, .pdf, .text, .txt"
    )


def test_a_text_file_that_is_not_utf8_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\xe9 opening hours".encode("latin-1"))
    with pytest.raises(IngestError, match=r"latin1\.txt: is not UTF-8 text \(byte 3\)"):
        read(path)


def test_a_csv_row_without_an_answer_is_named_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("question,answer\nWhere are you?,In Leeds.\nWhen do you open?,\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"faq\.csv: line 3 has no answer"):
        read(path)


def test_the_whole_shop_reads_without_errors(tmp_path: Path) -> None:
    folder = write_shop(tmp_path / "shop")
    kinds = sorted(read(p).kind for p in folder.rglob("*") if p.is_file())
    assert kinds == ["csv", "html", "markdown", "pdf", "text"]
