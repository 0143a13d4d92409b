"""Files in and out of Slack: downloading what users share, uploading what the bot sends.

Downloads: a file's ``url_private_download`` is fetched with the bot token as an ``Authorization: Bearer``
header, as Slack documents. Slack does not refuse a request it cannot authenticate with an error status: it
redirects to the workspace's sign-in page, so a redirect or an HTML page where a file was expected is
reported as the missing ``files:read`` scope instead of being handed to a plugin as the file. The token
goes only to Slack's file hosts (or the configured ``api_base`` host, a test fake), and redirects are not
followed, so it never leaves for another host.

Uploads: ``files_upload_v2`` of slack_sdk, Slack's current flow (``files.getUploadURLExternal``, the bytes
POSTed to the returned URL, ``files.completeUploadExternal`` sharing them in the channel or thread).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from botkit.errors import AttachmentTooLarge
from botkit.message import Attachment, Fetch, Message

CHUNK_BYTES = 64 * 1024
# Slack serves files from files.slack.com (GovSlack: files.slack-gov.com).
SLACK_FILE_DOMAINS = ("slack.com", "slack-gov.com")
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)


class SlackFiles:
    """Downloads users' files with the bot token.

    Args:
        session: the HTTP session downloads use.
        bot_token: the ``xoxb-`` token sent as ``Authorization: Bearer``.
        api_base: the configured Web API base; its host may also serve files (a test fake).
    """

    def __init__(self, session: aiohttp.ClientSession, bot_token: str, api_base: str | None = None) -> None:
        self._session = session
        self._token = bot_token
        self._extra_host = urlsplit(api_base).netloc if api_base else None

    def downloadable(self, message: Message) -> Message:
        """``message`` with a ``fetch`` on each attachment that has a download URL."""
        if not any(a.url for a in message.attachments):
            return message
        attachments = tuple(
            dataclasses.replace(a, fetch=self._fetcher(a)) if a.url else a for a in message.attachments
        )
        return dataclasses.replace(message, attachments=attachments)

    def _fetcher(self, attachment: Attachment) -> Fetch:
        url, name, mime = attachment.url or "", attachment.name or attachment.kind, attachment.mime_type

        async def fetch(max_bytes: int) -> bytes:
            return await self.download(url, name, max_bytes, mime_type=mime)

        return fetch

    def trusted(self, url: str) -> bool:
        """Whether the bot token may be sent to ``url``: HTTPS on Slack's file hosts, or the api_base host."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme == "https" and any(host == d or host.endswith("." + d) for d in SLACK_FILE_DOMAINS):
            return True
        return self._extra_host is not None and parts.netloc == self._extra_host

    async def download(self, url: str, name: str, max_bytes: int, *, mime_type: str | None = None) -> bytes:
        """The bytes at ``url``, read in chunks and abandoned as soon as they pass ``max_bytes``.

        ``mime_type`` is what Slack said the file is: an HTML page is Slack's sign-in page unless the file
        itself is HTML.

        Raises:
            AttachmentTooLarge: the response declares, or streams, more than ``max_bytes``.
            PermissionError: the URL is not Slack's, or Slack sent its sign-in page (no ``files:read``).
            LookupError: the file is gone (HTTP 404).
            aiohttp.ClientError: the download failed on the way.
        """
        if not self.trusted(url):
            raise PermissionError(f"slack: {name} is not on a Slack file host; the bot token stays home")
        headers = {"Authorization": f"Bearer {self._token}"}
        async with self._session.get(
            url, headers=headers, allow_redirects=False, timeout=DOWNLOAD_TIMEOUT
        ) as response:
            sign_in = response.content_type == "text/html" and mime_type != "text/html"
            if 300 <= response.status < 400 or sign_in:
                raise PermissionError(
                    f"slack: Slack sent its sign-in page instead of {name}; "
                    "give the app the files:read scope and reinstall it"
                )
            if response.status == 404:
                raise LookupError(f"slack: {name} is no longer on Slack")
            response.raise_for_status()
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise AttachmentTooLarge(name, declared, max_bytes)
            data = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                data += chunk
                if len(data) > max_bytes:  # the declared size lied (or was absent): stop reading here
                    raise AttachmentTooLarge(name, len(data), max_bytes)
        return bytes(data)


def check_uploadable(files: Sequence[Attachment]) -> None:
    """Refuse, before anything is posted, files that carry no bytes to upload.

    Raises:
        ValueError: a file has no ``data`` (build outgoing files with ``Attachment.from_path`` or ``data=``).
    """
    for file in files:
        if file.data is None:
            raise ValueError(
                f"slack: the {file.kind} {file.name!r} has no bytes to send; "
                "use Attachment.from_path(...) or Attachment(..., data=...)"
            )


async def upload(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str | None,
    files: Sequence[Attachment],
    initial_comment: str | None = None,
) -> None:
    """Share ``files`` in ``channel`` (under ``thread_ts``) in one message, ``initial_comment`` above them.

    ``initial_comment`` must already be escaped for Slack.

    Raises:
        slack_sdk.errors.SlackApiError: Slack refused a step (e.g. ``is_archived``).
    """
    check_uploadable(files)
    uploads = [
        {"file": f.data, "filename": f.name or f"{f.kind}.bin", "title": f.name or f.kind} for f in files
    ]
    await client.files_upload_v2(
        file_uploads=uploads, channel=channel, thread_ts=thread_ts, initial_comment=initial_comment
    )
