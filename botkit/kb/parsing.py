"""What a reader makes of a file, and the pieces the readers share (decoding, heading paths, paragraphs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from botkit.kb.chunking import Chunk, Section
from botkit.kb.errors import IngestError


@dataclass(frozen=True)
class ParsedDocument:
    """What a reader made of a file: its chunks, its kind, and a link where the file names one."""

    kind: str  # markdown | text | html | csv | pdf
    chunks: list[Chunk]
    url: str | None = None
    title: str = ""


def decode(path: Path, data: bytes) -> str:
    """The file's text (UTF-8, with or without a byte-order mark)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reason = f"is not UTF-8 text (byte {exc.start}); save it as UTF-8 and add it again"
        raise IngestError(path, reason) from None


class HeadingPath:
    """The headings above the current line: a new heading of level n replaces those of level n and deeper."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> None:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))

    @property
    def current(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._stack)


class SectionBuilder:
    """Collects paragraphs under the current heading path into :class:`Section` s."""

    def __init__(self) -> None:
        self.path = HeadingPath()
        self.sections: list[Section] = []
        self._paragraphs: list[str] = []
        self._headings: tuple[str, ...] = ()

    def heading(self, level: int, title: str) -> None:
        self._close()
        self.path.enter(level, title)
        self._headings = self.path.current

    def paragraph(self, text: str) -> None:
        if text.strip():
            self._paragraphs.append(text.strip())

    def finish(self) -> list[Section]:
        self._close()
        return self.sections

    def _close(self) -> None:
        if self._paragraphs:
            self.sections.append(Section(self._headings, tuple(self._paragraphs)))
        self._paragraphs = []


def paragraphs(text: str, join_lines: bool) -> list[str]:
    """Blank-line separated paragraphs; wrapped lines joined with a space where ``join_lines``."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    if join_lines:
        blocks = [" ".join(line.strip() for line in block.splitlines()) for block in blocks]
    return [b.strip() for b in blocks if b.strip()]
