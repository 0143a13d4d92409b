"""Files and images the bot sends to web visitors: kept in memory under unguessable links, bounded in bytes.

A reply's attachment with bytes is shelved here and the widget shows a link to ``files/<token>/<name>``
(resolved against the widget's own server); one with only a URL is linked as it is, if it is http(s).
Only raster images are served inline (an SVG can carry script); everything else is served as a download
with ``nosniff``, so a file never runs as a page of the chat server's origin.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from botkit.message import Attachment

INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_SHELF_BYTES = 64 * 1024 * 1024  # the newest files up to this many bytes stay downloadable


@dataclass(frozen=True)
class ShelvedFile:
    """A file's bytes and how to serve them."""

    name: str
    mime_type: str
    data: bytes

    @property
    def inline(self) -> bool:
        """Whether browsers may show it in place (a raster image) rather than download it."""
        return self.mime_type in INLINE_IMAGES


class FileShelf:
    """Attachments' bytes under random tokens; the oldest go once the total passes ``limit`` bytes."""

    def __init__(self, limit: int = MAX_SHELF_BYTES) -> None:
        self._files: OrderedDict[str, ShelvedFile] = OrderedDict()
        self._bytes = 0
        self._limit = limit

    def put(self, name: str, mime_type: str, data: bytes) -> str:
        """Shelve ``data``; returns its token."""
        token = secrets.token_urlsafe(18)
        self._files[token] = ShelvedFile(name, mime_type or "application/octet-stream", data)
        self._bytes += len(data)
        while self._bytes > self._limit and len(self._files) > 1:
            _, old = self._files.popitem(last=False)
            self._bytes -= len(old.data)
        return token

    def get(self, token: str) -> ShelvedFile | None:
        """The file shelved under ``token``, or None (never shelved, or dropped for room)."""
        return self._files.get(token)

    def describe(self, attachment: Attachment) -> dict[str, Any] | None:
        """The ``files`` entry of a frame for ``attachment``; None when it can be not be served or linked."""
        name = attachment.name or attachment.kind
        if attachment.data is not None:
            token = self.put(name, attachment.mime_type, attachment.data)
            url = f"files/{token}/{quote(name, safe='')}"
            image = attachment.mime_type in INLINE_IMAGES  # what this server will show in place
        elif attachment.url and urlsplit(attachment.url).scheme in ("http", "https"):
            url = attachment.url
            image = attachment.kind == "image"
        else:
            return None
        return {"name": name, "kind": "image" if image else "file", "url": url, "size": attachment.size}
