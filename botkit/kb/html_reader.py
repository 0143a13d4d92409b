"""HTML pages: visible text under their headings, without scripts, styles and navigation."""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import Comment, NavigableString, Tag

from botkit.kb.chunking import section_chunks
from botkit.kb.errors import IngestError
from botkit.kb.parsing import ParsedDocument, SectionBuilder, decode

_DROPPED = ("script", "style", "nav", "noscript", "template", "svg", "iframe", "head")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements that end a paragraph; everything else (a, em, span...) is inline text.
_BLOCKS = frozenset(
    "address article aside blockquote dd div dl dt fieldset figcaption figure footer form header hr li main "
    "ol p pre section table tbody td tfoot th thead tr ul br".split()
)


def read_html(path: Path, data: bytes, max_words: int) -> ParsedDocument:
    """The page's text split at its ``h1``-``h6``; ``<link rel=canonical>`` becomes the citation's link."""
    soup = BeautifulSoup(decode(path, data), "html.parser")
    url = _canonical(soup)
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    builder = SectionBuilder()
    inline: list[str] = []

    def flush() -> None:
        builder.paragraph(re.sub(r"\s+", " ", "".join(inline)))
        inline.clear()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                inline.append(str(child))
            elif isinstance(child, Tag) and child.name in _HEADINGS:
                flush()
                builder.heading(_HEADINGS[child.name], re.sub(r"\s+", " ", child.get_text(" ")).strip())
            elif isinstance(child, Tag) and child.name in _BLOCKS:
                flush()
                walk(child)
                flush()
            elif isinstance(child, Tag):
                walk(child)

    walk(soup.body or soup)
    flush()
    chunks = section_chunks(builder.finish(), max_words)
    if not chunks:
        raise IngestError(path, "has no text outside its markup, scripts and navigation")
    return ParsedDocument(kind="html", chunks=chunks, url=url, title=title)


def _canonical(soup: BeautifulSoup) -> str | None:
    for link in soup.find_all("link", href=True):
        rel: object = link.get("rel") or []
        rels = rel.split() if isinstance(rel, str) else [str(r) for r in rel] if isinstance(rel, list) else []
        if "canonical" in (r.lower() for r in rels):
            href = str(link["href"]).strip()
            return href or None
    return None
