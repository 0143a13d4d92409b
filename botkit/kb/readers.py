"""Reading the formats the knowledge base takes, one reader per format, into chunks (HTML in
:mod:`botkit.kb.html_reader`).

Every reader gets the file's bytes and returns a :class:`ParsedDocument`, or raises :class:`IngestError`
saying what is wrong with the file. Readers never touch the database, so a bad file changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

from botkit.kb.chunking import Chunk, Section, faq_chunks, section_chunks
from botkit.kb.errors import IngestError
from botkit.kb.html_reader import read_html
from botkit.kb.parsing import ParsedDocument, SectionBuilder, decode, paragraphs

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def read_markdown(path: Path, data: bytes, max_words: int) -> ParsedDocument:
    """Markdown split at its headings (ATX ``#`` and setext underlines); code fences are never headings."""
    builder = SectionBuilder()
    block: list[str] = []
    in_fence = False

    def flush() -> None:
        for paragraph in paragraphs("\n".join(block), join_lines=False):
            builder.paragraph(paragraph)
        block.clear()

    for line in decode(path, data).replace("\r\n", "\n").split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _ATX_HEADING.match(line)
        underline = None if in_fence or not block or not block[-1].strip() else _SETEXT_UNDERLINE.match(line)
        if heading:
            flush()
            builder.heading(len(heading.group(1)), heading.group(2).strip())
        elif underline and len(block) >= 1 and (len(block) == 1 or not block[-2].strip()):
            title = block.pop().strip()
            flush()
            builder.heading(1 if underline.group(1).startswith("=") else 2, title)
        else:
            block.append(line)
    flush()
    return _document(path, "markdown", section_chunks(builder.finish(), max_words))


def read_text(path: Path, data: bytes, max_words: int) -> ParsedDocument:
    """Plain text: paragraphs separated by blank lines, no headings."""
    sections = [Section((), tuple(paragraphs(decode(path, data), join_lines=True)))]
    return _document(path, "text", section_chunks(sections, max_words))


def read_faq_csv(path: Path, data: bytes, max_words: int) -> ParsedDocument:
    """A CSV FAQ with ``question`` and ``answer`` columns (header case-insensitive); one chunk per answer.

    An entry may carry other phrasings of its question, as chat intents carry training phrases: in an
    optional ``alternates`` column (separated by ``|``), or as further rows with the same answer. The first
    row's question is the one citations name; every phrasing finds the entry.
    """
    del max_words  # an FAQ answer is the company's text and is never cut
    text = decode(path, data)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if header is None:
            raise IngestError(path, "is empty; an FAQ needs a header row with the columns question,answer")
        names = [h.strip().lower() for h in header]
        if "question" not in names or "answer" not in names:
            found = ", ".join(h.strip() for h in header if h.strip()) or "none"
            reason = f"needs the columns question and answer in its header row (found: {found})"
            raise IngestError(path, reason)
        q_at, a_at = names.index("question"), names.index("answer")
        alt_at = names.index("alternates") if "alternates" in names else None
        entries: dict[str, list[str]] = {}  # answer -> its phrasings, the cited one first
        for row in reader:
            cells = [c.strip() for c in row]
            question = _one_line(cells[q_at]) if q_at < len(cells) else ""
            answer = cells[a_at] if a_at < len(cells) else ""
            if not question and not answer:
                continue
            if not question or not answer:
                missing = "answer" if question else "question"
                raise IngestError(path, f"line {reader.line_num} has no {missing}")
            alternates = cells[alt_at].split("|") if alt_at is not None and alt_at < len(cells) else []
            phrasings = entries.setdefault(answer, [])
            for phrasing in (question, *(_one_line(a) for a in alternates)):
                if phrasing and phrasing not in phrasings:
                    phrasings.append(phrasing)
    except csv.Error as exc:
        raise IngestError(path, f"is not a readable CSV file ({exc})") from None
    if not entries:
        raise IngestError(path, "has a header but no question,answer rows")
    return ParsedDocument(
        kind="csv", chunks=faq_chunks([(qs[0], answer, qs[1:]) for answer, qs in entries.items()])
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_pdf(path: Path, data: bytes, max_words: int) -> ParsedDocument:
    """A PDF's text page by page; PDFs carry no reliable headings, so a chunk's heading is ``"page N"``."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(path, "is an encrypted PDF; save an unencrypted copy and add that")
        pages = [page.extract_text() or "" for page in reader.pages]
    except IngestError:
        raise
    except Exception as exc:  # pypdf raises many kinds (its own, ValueError, KeyError...) on broken files
        raise IngestError(path, f"is not a readable PDF ({type(exc).__name__}: {exc})") from None
    sections = [
        Section((f"page {n}",), tuple(paragraphs(text, join_lines=True)))
        for n, text in enumerate(pages, start=1)
        if text.strip()
    ]
    if not sections:
        raise IngestError(
            path, f"has no extractable text in its {len(pages)} page(s) (a scan? run OCR on it first)"
        )
    return _document(path, "pdf", section_chunks(sections, max_words))


def _document(path: Path, kind: str, chunks: list[Chunk]) -> ParsedDocument:
    if not chunks:
        raise IngestError(path, "has no text to add")
    return ParsedDocument(kind=kind, chunks=chunks)


Reader = Callable[[Path, bytes, int], ParsedDocument]


READERS: dict[str, Reader] = {
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_text,
    ".text": read_text,
    ".csv": read_faq_csv,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}


def reader_for(path: Path) -> Reader:
    """The reader of ``path``'s format, by its extension.

    Raises:
        IngestError: the extension is not one the knowledge base reads.
    """
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(READERS))
        shown = f"'{path.suffix}'" if path.suffix else "none"
        raise IngestError(path, f"has an unknown file type (extension {shown}); botkit reads {known}")
    return reader
