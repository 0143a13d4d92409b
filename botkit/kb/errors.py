"""What the knowledge base refuses, and why: each error names the file or the limit in its message."""

from __future__ import annotations

from pathlib import Path


class KBError(Exception):
    """Base of the knowledge base's own errors."""


class IngestError(KBError):
    """A file could not be added; nothing of what the knowledge base held was changed.

    Attributes:
        path: the file that was refused.
        reason: why, in words a user can act on.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class QueryTooLong(ValueError):
    """A question longer than ``kb.max_query_chars``: refused before any retrieval is done."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"the question is {length} characters long; the knowledge base takes at most {limit} "
            "(setting kb.max_query_chars)"
        )
        self.length = length
        self.limit = limit


class ModelMismatch(KBError):
    """The stored vectors were made by another embedding model than the one configured now."""
