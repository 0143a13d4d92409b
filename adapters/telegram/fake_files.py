"""The files of the fake Bot API: what users send (served by ``getFile`` and the file URL) and what the bot
uploads (``sendPhoto``, ``sendDocument`` as multipart), recorded byte for byte.

As on Telegram, a file is known by a ``file_id``; ``getFile`` answers its ``file_path``, and the bytes are
at ``/file/bot<token>/<file_path>``. Files the bot uploads can be fetched the same way.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from botkit.adapters.telegram.fake_checks import ApiError

CAPTION_LIMIT = 1024
GET_FILE_CAP = 20 * 1024 * 1024  # getFile refuses larger files ("file is too big"), as the Bot API does


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request, as it arrived.

    Attributes:
        filename: the part's file name.
        content_type: the part's content type.
        data: its bytes.
    """

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class StoredFile:
    """A file the fake holds: its ids, where it is served from, its bytes."""

    file_id: str
    unique_id: str
    path: str
    data: bytes
    declare_size: bool  # whether updates and getFile tell its size (Telegram may leave file_size out)


class FakeFiles:
    """The fake's file store, by ``file_id`` and by path."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._ids = itertools.count(1)

    def store(self, data: bytes, *, folder: str, suffix: str = "", declare_size: bool = True) -> StoredFile:
        """Keep ``data`` as a new file in ``folder`` ("photos", "documents") and return it."""
        number = next(self._ids)
        stored = StoredFile(
            file_id=f"AgACAgIAAxk-{number:06d}",
            unique_id=f"AQAD{number:06d}",
            path=f"{folder}/file_{number}{suffix}",
            data=data,
            declare_size=declare_size,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.path] = stored
        return stored

    def by_path(self, path: str) -> StoredFile | None:
        """The file served at ``path`` (None when there is none)."""
        return self._by_path.get(path)

    def get_file(self, p: dict[str, Any]) -> dict[str, Any]:
        """The ``getFile`` answer: a File object with its ``file_path``.

        Raises:
            ApiError: the id is unknown, or the file is past the Bot API's 20 MB download cap.
        """
        stored = self._by_id.get(str(p.get("file_id") or ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > GET_FILE_CAP:
            raise ApiError(400, "Bad Request: file is too big")
        answer: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_path": stored.path,
        }
        if stored.declare_size:
            answer["file_size"] = len(stored.data)
        return answer

    def photo(self, data: bytes, *, declare_size: bool = True) -> list[dict[str, Any]]:
        """A message's ``photo`` field: one PhotoSize (Telegram sends several; adapters take the largest)."""
        stored = self.store(data, folder="photos", suffix=".jpg", declare_size=declare_size)
        size = {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "width": 640, "height": 480}
        return [{**size, "file_size": len(data)} if declare_size else size]

    def document(
        self, data: bytes, *, name: str, mime_type: str, declare_size: bool = True
    ) -> dict[str, Any]:
        """A message's ``document`` field for ``data``."""
        stored = self.store(data, folder="documents", suffix="", declare_size=declare_size)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_name": name,
            "mime_type": mime_type,
        }
        return {**document, "file_size": len(data)} if declare_size else document

    def uploaded(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        """The message fields for a ``sendPhoto``/``sendDocument`` upload (caption included).

        Raises:
            ApiError: no file part came, or the caption is too long, with Telegram's words.
        """
        field = "photo" if method == "sendPhoto" else "document"
        upload = p.get(field)
        if not isinstance(upload, Upload):
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        caption = str(p.get("caption") or "")
        if len(caption.encode("utf-16-le")) // 2 > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        if field == "photo":
            fields: dict[str, Any] = {"photo": self.photo(upload.data)}
        else:
            fields = {
                "document": self.document(
                    upload.data,
                    name=upload.filename,
                    mime_type=upload.content_type or "application/octet-stream",
                )
            }
        return {**fields, "caption": caption} if caption else fields
