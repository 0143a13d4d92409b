"""Finding the files to add and reading them: sizes checked before reading, formats by extension.

Nothing here writes to the database; :class:`botkit.kb.knowledge.KnowledgeBase` does, one file per
transaction, after a file was read whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from botkit.kb.errors import IngestError
from botkit.kb.parsing import ParsedDocument
from botkit.kb.readers import reader_for

MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class FileToAdd:
    """A file found under the paths given to ``add``: where it is and the name its citations show."""

    path: Path  # resolved; the document's identity in the knowledge base
    name: str  # relative to the folder it was found in ("policies/returns.md"), or the file's name


@dataclass
class AddReport:
    """What ``add`` did with each file."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    chunks: int = 0  # chunks written by this call

    @property
    def ok(self) -> bool:
        """Whether every file was added (or was already there unchanged)."""
        return not self.errors


def collect(paths: Iterable[Path | str]) -> tuple[list[FileToAdd], list[IngestError]]:
    """The files named by ``paths``; folders are walked recursively, skipping hidden files and folders.

    A path that does not exist is an error of its own; it does not stop the others.
    """
    files: list[FileToAdd] = []
    errors: list[IngestError] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            root = path.resolve()
            for found in sorted(root.rglob("*")):
                relative = found.relative_to(root)
                if found.is_file() and not any(part.startswith(".") for part in relative.parts):
                    files.append(FileToAdd(found, relative.as_posix()))
        elif path.is_file():
            files.append(FileToAdd(path.resolve(), path.name))
        else:
            errors.append(IngestError(path, "no such file or folder"))
    return files, errors


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_file(file: FileToAdd, max_mb: float) -> tuple[bytes, str]:
    """The file's bytes and their sha256, once its size and format were found acceptable.

    Raises:
        IngestError: the file is over the size limit, of an unknown format, or cannot be read.
    """
    reader_for(file.path)  # an unknown format is refused before anything is read
    try:
        size = file.path.stat().st_size
        if size > max_mb * MEGABYTE:
            raise IngestError(
                file.path,
                f"is {size / MEGABYTE:.1f} MB; the knowledge base takes files up to {max_mb:g} MB "
                "(setting kb.max_file_mb)",
            )
        data = file.path.read_bytes()
    except OSError as exc:
        raise IngestError(file.path, f"cannot be read ({exc.strerror or exc})") from None
    return data, sha256_of(data)


def parse(file: FileToAdd, data: bytes, max_words: int) -> ParsedDocument:
    """The file's chunks, read by the reader of its format."""
    return reader_for(file.path)(file.path, data, max_words)
