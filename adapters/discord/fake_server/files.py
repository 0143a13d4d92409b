"""The fake Discord's files: a CDN serving attachments, multipart uploads, and channels that refuse the bot.

Uploads follow Discord's documented form: ``multipart/form-data`` with the message body in a
``payload_json`` field whose ``attachments`` list ``{"id": n, "filename": ...}`` for each ``files[n]``
field. Refusals answer as Discord does, with its HTTP status and a JSON ``{"message", "code"}``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import BodyPartReader, web

from botkit.adapters.discord.fake_server.payloads import _PayloadsMixin
from botkit.adapters.discord.fake_server.records import SentFile

UPLOAD_LIMIT = 10 * 1024 * 1024  # bytes of files per message for a bot in a server without boosts
CDN_CHUNK = 16 * 1024
# JSON error code -> (HTTP status, Discord's message) for a channel the bot may no longer write to.
REFUSALS: dict[int, tuple[int, str]] = {
    10003: (404, "Unknown Channel"),
    50001: (403, "Missing Access"),
    50007: (403, "Cannot send messages to this user"),
    50013: (403, "Missing Permissions"),
}
_FILE_FIELD = re.compile(r"files\[(\d+)\]")

Failure = tuple[int, dict[str, Any]]


class _FilesMixin(_PayloadsMixin):
    """The CDN, the upload form and channel refusals of ``FakeDiscordServer``."""

    def host_file(
        self,
        data: bytes,
        filename: str = "image.png",
        content_type: str = "image/png",
        *,
        declared_size: int | None = None,
        chunked: bool = False,
    ) -> dict[str, Any]:
        """Serve ``data`` on the fake CDN; returns the attachment object a message lists it with.

        ``declared_size`` is the ``size`` the object claims (the real length unless given); ``chunked``
        serves it without a ``Content-Length``, so only counting the bytes can stop a large download.
        """
        attachment_id = self.new_id()
        path = f"/attachments/{self.channel_id}/{attachment_id}/{filename}"
        self.cdn[path] = (data, content_type, chunked)
        url = f"http://127.0.0.1:{self.port}{path}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(data) if declared_size is None else declared_size,
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    def refuse(self, channel_id: str, code: int = 50001) -> None:
        """Make REST calls on ``channel_id`` fail from now on as Discord fails them for ``code``.

        Codes: 50001 Missing Access (the bot was removed), 50013 Missing Permissions, 10003 Unknown
        Channel (deleted), 50007 Cannot send messages to this user (a DM whose user blocked the bot).
        """
        if code not in REFUSALS:
            raise ValueError(f"refusal code must be one of {sorted(REFUSALS)}, not {code}")
        self.refusals[channel_id] = code

    def _refusal(self, channel_id: str) -> Failure | None:
        code = self.refusals.get(channel_id)
        if code is None:
            return None
        status, message = REFUSALS[code]
        return status, {"message": message, "code": code}

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.downloads.append(path)
        if path not in self.cdn:
            return web.Response(status=404, text="This content is no longer available.")
        data, content_type, chunked = self.cdn[path]
        if not chunked:
            return web.Response(body=data, content_type=content_type)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(data), CDN_CHUNK):
                await response.write(data[start : start + CDN_CHUNK])
            await response.write_eof()
        except ConnectionError:  # the client stopped reading (a download past its limit)
            pass
        return response

    async def _read_body(self, request: web.Request) -> tuple[Any, list[SentFile], Failure | None]:
        """A request's JSON body and uploaded files; a failure when the upload form is malformed."""
        if not request.content_type.startswith("multipart/"):
            return (await request.json() if request.can_read_body else None), [], None
        body: Any = None
        uploads: dict[int, tuple[str, str, bytes]] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                return None, [], _invalid_form("nested multipart")
            found = _FILE_FIELD.fullmatch(part.name or "")
            if part.name == "payload_json":
                body = json.loads(await part.text())
            elif found is not None:
                kind = part.headers.get("Content-Type", "application/octet-stream")
                uploads[int(found.group(1))] = (part.filename or "", kind, bytes(await part.read()))
        if not isinstance(body, dict):
            return None, [], _invalid_form("payload_json is missing")
        if sum(len(data) for _, _, data in uploads.values()) > UPLOAD_LIMIT:
            return None, [], (413, {"message": "Request entity too large", "code": 40005})
        listed = {entry.get("id"): entry for entry in body.get("attachments") or []}
        missing = [key for key in listed if isinstance(key, int) and key not in uploads]
        if missing:
            return None, [], _invalid_form(f"attachments {missing} have no files[n] field")
        files = []
        for index, (filename, kind, data) in sorted(uploads.items()):
            metadata = listed.get(index, {"id": index, "filename": filename})
            name = str(metadata.get("filename") or filename)
            attachment = self.host_file(data, name, kind)
            files.append(SentFile(attachment["id"], name, kind, data, metadata, attachment["url"]))
        return body, files, None

    def _attachment_objects(self, files: list[SentFile]) -> list[dict[str, Any]]:
        return [_attachment_object(f) for f in files]


def _attachment_object(file: SentFile) -> dict[str, Any]:
    return {
        "id": file.id,
        "filename": file.filename,
        "size": len(file.data),
        "url": file.url,
        "proxy_url": file.url,
        "content_type": file.content_type,
    }


def _invalid_form(why: str) -> Failure:
    return 400, {"code": 50035, "message": "Invalid Form Body", "errors": {"files": why}}
