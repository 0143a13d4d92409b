"""What the fake Discord saw: the REST calls it received and the messages the bot created."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    """One REST request the fake received."""

    method: str
    path: str  # without the /api/v10 prefix
    body: Any
    status: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class SentFile:
    """A file the bot uploaded with a message: the bytes received and what the upload form said of them.

    ``metadata`` is the file's entry in ``payload_json``'s ``attachments`` (``id``, ``filename``,
    ``description``...); ``url`` is where the fake's CDN serves it.
    """

    id: str
    filename: str
    content_type: str
    data: bytes
    metadata: dict[str, Any]
    url: str


@dataclass
class SentMessage:
    """A message the bot created: its current content and every content it had (creation, edits).

    ``channel_id`` is where it shows; ``interaction`` is the interaction token it answers, if any;
    ``files`` are the files uploaded with it, in the order of their ``files[n]`` fields.
    """

    id: str
    channel_id: str
    content: str
    components: list[Any] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    history: list[str] = field(default_factory=list)
    interaction: str | None = None
    deleted: bool = False
    files: list[SentFile] = field(default_factory=list)

    @property
    def pings_everyone(self) -> bool:
        """Whether Discord would notify @everyone/@here for this content and ``allowed_mentions``."""
        parse = (self.allowed_mentions or {"parse": ["everyone"]}).get("parse", [])
        return "everyone" in parse and bool(re.search(r"@(everyone|here)", self.content))
