"""Files on the fake Slack: private downloads that need the bot token, and the three-step upload flow.

:class:`~botkit.adapters.slack.fake_server.FakeSlackServer` owns one :class:`FakeSlackFiles` as ``files``.
A test puts a file there (:meth:`FakeSlackFiles.add`) and puts the file object it returns in a message
event's ``files``; what the bot uploads lands in :attr:`FakeSlackFiles.uploads` with its bytes.

Slack's own behaviour is kept where bots get it wrong: a download without the right ``Authorization:
Bearer`` token is not an error status but a redirect (302) to the workspace's sign-in page, and an upload
is complete only after ``files.completeUploadExternal`` shares it (bytes that were POSTed to the upload URL
but never completed are not in any channel).
"""

from __future__ import annotations

import itertools
import mimetypes
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

CHUNK_BYTES = 16 * 1024
SIGN_IN_PAGE = '<!DOCTYPE html><html lang="en-US"><head><title>Slack</title></head><body>Sign in</body>'


@dataclass
class StoredFile:
    """A file users shared, served at its ``url_private_download``."""

    id: str
    name: str
    mimetype: str
    data: bytes
    chunked: bool = False
    downloads: int = 0


@dataclass
class UploadedFile:
    """A file the bot uploaded and shared (``files.completeUploadExternal``), bytes included."""

    id: str
    name: str
    title: str
    data: bytes
    channel: str
    thread_ts: str | None
    initial_comment: str | None


@dataclass
class _Pending:
    name: str
    length: int
    data: bytes | None = None
    alt_txt: str | None = None


class FakeSlackFiles:
    """The file side of the fake Slack.

    Attributes:
        stored: files users shared, by id.
        uploads: files the bot uploaded and shared, in order.
        refused_downloads: download requests refused for a missing or wrong token.
    """

    def __init__(self, bot_token: str, team_id: str) -> None:
        self._token, self._team = bot_token, team_id
        self.url = ""  # set by the server once it listens
        self.stored: dict[str, StoredFile] = {}
        self.uploads: list[UploadedFile] = []
        self.refused_downloads = 0
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        """Add the download and upload URLs to the fake's web app."""
        app.router.add_get("/files-pri/{ref}/download/{name}", self._download)
        app.router.add_get("/signin", self._sign_in)
        app.router.add_post("/upload/v1/{file_id}", self._upload)

    def add(
        self,
        data: bytes,
        name: str,
        mimetype: str | None = None,
        *,
        size: int | None = None,
        chunked: bool = False,
    ) -> dict[str, Any]:
        """Store a user's file; returns the file object Slack puts in a message event's ``files``.

        Args:
            data: the file's bytes.
            name: its file name.
            mimetype: its MIME type (guessed from ``name`` when None).
            size: the size the file object declares (``len(data)`` unless a test wants Slack to be wrong).
            chunked: serve it without a ``Content-Length``, in 16 KiB chunks (a download cannot know its
                size before reading it).
        """
        file_id = f"F{next(self._ids):07d}"
        mime = mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.stored[file_id] = StoredFile(file_id, name, mime, data, chunked)
        base = f"{self.url}/files-pri/{self._team}-{file_id}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mime,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
            "size": len(data) if size is None else size,
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://fake.slack.com/files/{file_id}",
        }

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self._token}":
            # Slack answers a request it cannot authenticate with its sign-in page, not an error status.
            self.refused_downloads += 1
            raise web.HTTPFound(f"{self.url}/signin?redir={request.path}")
        file_id = request.match_info["ref"].rpartition("-")[2]
        stored = self.stored.get(file_id)
        if stored is None:
            raise web.HTTPNotFound(text="file_not_found")
        stored.downloads += 1
        if not stored.chunked:
            return web.Response(body=stored.data, content_type=stored.mimetype)
        response = web.StreamResponse(headers={"Content-Type": stored.mimetype})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for at in range(0, len(stored.data), CHUNK_BYTES):
            try:
                await response.write(stored.data[at : at + CHUNK_BYTES])
            except ConnectionResetError:  # the client stopped reading, as a size-limited download does
                break
        return response

    async def _sign_in(self, request: web.Request) -> web.Response:
        return web.Response(text=SIGN_IN_PAGE, content_type="text/html")

    # -- the upload flow --------------------------------------------------------------------------
    def get_upload_url(self, params: dict[str, Any]) -> dict[str, Any] | str:
        """``files.getUploadURLExternal``: a one-off URL to POST ``length`` bytes of ``filename`` to."""
        name, length = params.get("filename"), str(params.get("length") or "")
        if not name or not length.isdigit() or int(length) < 1:
            return "invalid_arguments"
        file_id = f"F{next(self._ids):07d}"
        self._pending[file_id] = _Pending(str(name), int(length), alt_txt=params.get("alt_txt"))
        return {"upload_url": f"{self.url}/upload/v1/{file_id}?ticket={uuid.uuid4().hex}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        pending = self._pending.get(request.match_info["file_id"])
        if pending is None or pending.data is not None:
            return web.Response(status=404, text="upload_url_invalid")
        data = await request.read()
        if len(data) != pending.length:
            return web.Response(status=400, text=f"length mismatch: {len(data)} != {pending.length}")
        pending.data = data
        return web.Response(text=f"OK - {len(data)}")

    def complete(self, params: dict[str, Any], files: list[Any]) -> dict[str, Any] | str:
        """``files.completeUploadExternal``: share the uploaded ``files`` in ``channel_id`` (a thread)."""
        done: list[tuple[str, _Pending, str]] = []
        for entry in files:
            file_id = str(entry.get("id")) if isinstance(entry, dict) else ""
            pending = self._pending.get(file_id)
            if pending is None or pending.data is None:
                return "file_not_found"
            done.append((file_id, pending, str(entry.get("title") or pending.name)))
        if not done:
            return "invalid_arguments"
        thread = params.get("thread_ts") or None
        comment = params.get("initial_comment") or None
        for i, (file_id, pending, title) in enumerate(done):
            assert pending.data is not None  # checked above
            first_comment = comment if i == 0 else None  # Slack shows the comment once, with the first file
            uploaded = UploadedFile(
                file_id, pending.name, title, pending.data, str(params["channel_id"]), thread, first_comment
            )
            self.uploads.append(uploaded)
            del self._pending[file_id]
        return {"files": [{"id": file_id, "title": title} for file_id, _, title in done]}
