"""Files in and out of Discord: downloading message attachments from the CDN, uploading a reply's files.

Incoming: a message's ``attachments`` carry a signed CDN ``url`` and a declared ``size``; each becomes a
botkit :class:`~botkit.message.Attachment` whose ``fetch`` downloads it with a session of our own (the CDN
wants no bot token, and discord.py reads a CDN file whole, where a limit must be able to stop the
download part-way). Outgoing: Discord's upload form, ``multipart/form-data`` with the message body as a
``payload_json`` field that lists the ``attachments`` and one ``files[n]`` field per file, sent through
discord.py's HTTP client (:func:`upload_form`) so uploads keep its auth, rate-limit buckets and retries.
"""

from __future__ import annotations

import io
import json
import mimetypes
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import aiohttp

from botkit.errors import AttachmentTooLarge
from botkit.message import Attachment, Fetch, Message

with warnings.catch_warnings():
    # discord.py imports the stdlib ``audioop`` for voice (unused here), deprecated since Python 3.11.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord

FILES_PER_MESSAGE = 10  # Discord refuses an 11th attachment on one message
CHUNK_BYTES = 64 * 1024
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30, sock_read=30)


class Downloads:
    """Gives incoming attachments a ``fetch`` that downloads them, at most ``max_bytes`` of each."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def bind(self, message: Message) -> Message:
        """``message`` with each attachment that has a URL made downloadable."""
        if not any(a.url for a in message.attachments):
            return message
        bound = tuple(replace(a, fetch=self._fetcher(a)) if a.url else a for a in message.attachments)
        return replace(message, attachments=bound)

    def _fetcher(self, attachment: Attachment) -> Fetch:
        async def fetch(max_bytes: int) -> bytes:
            assert attachment.url is not None  # bind() gives a fetch only to attachments with a URL
            return await self.read(attachment.url, attachment.name or attachment.kind, max_bytes)

        return fetch

    async def read(self, url: str, name: str, max_bytes: int) -> bytes:
        """The bytes at ``url``, stopping as soon as more than ``max_bytes`` arrive.

        Raises:
            AttachmentTooLarge: the CDN's ``Content-Length`` or the bytes received pass ``max_bytes``.
            LookupError: the CDN did not serve the file (an expired link, a deleted message).
        """
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT)
        async with self._session.get(url) as response:
            if response.status != 200:
                raise LookupError(f"discord: could not download {name}: the CDN answered {response.status}")
            if response.content_length is not None and response.content_length > max_bytes:
                raise AttachmentTooLarge(name, response.content_length, max_bytes)
            received = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                received += chunk
                if len(received) > max_bytes:  # a missing or wrong length: stop reading here
                    raise AttachmentTooLarge(name, len(received), max_bytes)
            return bytes(received)

    async def close(self) -> None:
        """Close the download session (the adapter's ``stop``)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def check_uploadable(files: Sequence[Attachment]) -> None:
    """Refuse, before anything is sent, a reply file that holds no bytes.

    Raises:
        ValueError: an attachment has no ``data`` (download an incoming one first, with ``ctx.download``).
    """
    for index, file in enumerate(files):
        if file.data is None:
            raise ValueError(
                f"discord: reply file {index} ({file.name or file.kind}) holds no data; build it with "
                "Attachment.from_path or Attachment(kind=..., name=..., data=...)"
            )


def batches(files: Sequence[Attachment]) -> list[Sequence[Attachment]]:
    """``files`` in groups that fit one message each."""
    return [files[i : i + FILES_PER_MESSAGE] for i in range(0, len(files), FILES_PER_MESSAGE)]


def upload_form(
    body: dict[str, Any], files: Sequence[Attachment]
) -> tuple[list[dict[str, Any]], list[discord.File]]:
    """The multipart fields of a message body with ``files`` (``payload_json``, then ``files[0..n]``).

    Returns the fields, each the keyword arguments of ``aiohttp.FormData.add_field``, and the
    ``discord.File`` objects holding their buffers: ``HTTPClient.request(route, form=..., files=...)``
    rewinds those before a retry (after a 429), so a retried upload sends whole files again.
    """
    names = [_filename(file, index) for index, file in enumerate(files)]
    buffers = []
    for file, name in zip(files, names, strict=True):
        assert file.data is not None  # check_uploadable ran before the first message went out
        buffers.append(discord.File(io.BytesIO(file.data), filename=name))
    listed = [buffer.to_dict(index) for index, buffer in enumerate(buffers)]
    payload = json.dumps({**body, "attachments": listed}, separators=(",", ":"))
    form: list[dict[str, Any]] = [
        {"name": "payload_json", "value": payload, "content_type": "application/json"}
    ]
    for index, (file, buffer) in enumerate(zip(files, buffers, strict=True)):
        form.append(
            {
                "name": f"files[{index}]",
                "value": buffer.fp,
                "filename": buffer.filename,
                "content_type": file.mime_type or _guess_type(buffer.filename),
            }
        )
    return form, buffers


def _filename(file: Attachment, index: int) -> str:
    if file.name:
        return file.name
    extension = mimetypes.guess_extension(file.mime_type or "") or (".png" if file.kind == "image" else "")
    return f"{file.kind}{index}{extension}"


def _guess_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
