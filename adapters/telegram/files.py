"""Files on Telegram: downloading what users send (getFile, then the file URL) and uploading reply files.

Downloads stream from ``<file base>/<file_path>`` and stop as soon as the bytes pass the limit, so a large
file never fills memory; the size Telegram declared is checked before anything is asked for. Uploads go
through python-telegram-bot's :class:`~telegram.InputFile` as multipart: ``sendPhoto`` for the image
formats Telegram shows as photos, ``sendDocument`` for everything else (a GIF or an SVG as a photo would
be refused or flattened, and a document keeps its name).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence

import httpx
from telegram import Bot, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.error import BadRequest

from botkit.adapters.telegram.parse import utf16_len
from botkit.adapters.telegram.send import Target, TelegramSender, call_api
from botkit.errors import AttachmentTooLarge
from botkit.message import Attachment, Incoming, Message, Reply

log = logging.getLogger("botkit.adapters.telegram")

CAPTION_LIMIT = 1024  # UTF-16 code units, as for message texts
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}  # what sendPhoto shows; other images are documents
BOT_API_DOWNLOAD_CAP = 20 * 1024 * 1024  # getFile refuses larger files on Telegram's own Bot API server


def file_base_url(base_url: str | None) -> str:
    """Where files are downloaded from, beside the Bot API base (``.../bot`` -> ``.../file/bot``)."""
    if not base_url:
        return "https://api.telegram.org/file/bot"
    head, sep, _ = base_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if sep else f"{base_url.rstrip('/')}/file/bot"


def fits_caption(text: str) -> bool:
    """Whether ``text`` can go as a file's caption (Telegram allows 1024 UTF-16 units)."""
    return utf16_len(text) <= CAPTION_LIMIT


class FileDownloads:
    """Gives incoming attachments a ``fetch`` that downloads them from the Bot API.

    Args:
        bot: the initialised PTB bot (its ``get_file`` answers full download URLs).
        http: the client that streams the file bodies.
    """

    def __init__(self, bot: Bot, http: httpx.AsyncClient) -> None:
        self._bot = bot
        self._http = http

    def readable(self, incoming: Incoming) -> Incoming:
        """``incoming`` with a ``fetch`` on each attachment Telegram stores (one with a ``file_id``)."""
        if not isinstance(incoming, Message) or not any(a.platform_id for a in incoming.attachments):
            return incoming
        attachments = tuple(
            dataclasses.replace(a, fetch=functools.partial(self.download, a)) if a.platform_id else a
            for a in incoming.attachments
        )
        return dataclasses.replace(incoming, attachments=attachments)

    async def download(self, attachment: Attachment, max_bytes: int) -> bytes:
        """The attachment's bytes, at most ``max_bytes``.

        Raises:
            AttachmentTooLarge: the declared size, or the bytes as they arrive, pass ``max_bytes`` (or the
                Bot API's 20 MB download cap).
            telegram.error.TelegramError: the Bot API refused for another reason (the file expired...).
            httpx.HTTPError: the download itself failed.
        """
        name = attachment.name or attachment.kind
        if attachment.size is not None and attachment.size > max_bytes:
            raise AttachmentTooLarge(name, attachment.size, max_bytes)
        try:
            file = await call_api("getFile", lambda: self._bot.get_file(attachment.platform_id))
        except BadRequest as exc:
            if "too big" not in exc.message.lower():
                raise
            raise AttachmentTooLarge(name, attachment.size or BOT_API_DOWNLOAD_CAP + 1, max_bytes) from None
        if file.file_size is not None and file.file_size > max_bytes:
            raise AttachmentTooLarge(name, file.file_size, max_bytes)
        if not file.file_path:
            raise LookupError(f"Telegram gave no download path for {name!r}")
        received = bytearray()
        async with self._http.stream("GET", file.file_path) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) > max_bytes:  # stop reading: the rest is never downloaded
                    raise AttachmentTooLarge(name, len(received), max_bytes)
        return bytes(received)


async def send_with_files(sender: TelegramSender, target: Target, reply: Reply) -> int | None:
    """Send a reply that has files: its text as the first file's caption when it fits, else text first.

    Buttons go under the caption, or under the text's last message. Returns the first message's id.
    """
    markup = sender.keyboard(reply.buttons)
    if fits_caption(reply.text):
        sent = await upload(sender.bot, target, reply.files, caption=reply.text or None, markup=markup)
        return sent[0] if sent else None
    first = await sender.send_reply(target, Reply(reply.text, reply.buttons))
    sent = await upload(sender.bot, dataclasses.replace(target, reply_to=None), reply.files)
    return first if first is not None else (sent[0] if sent else None)


async def upload(
    bot: Bot,
    target: Target,
    files: Sequence[Attachment],
    *,
    caption: str | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> list[int]:
    """Send ``files`` to ``target`` one by one; the first carries ``caption`` and ``markup``.

    Returns the sent messages' ids.

    Raises:
        ValueError: a file has no ``data`` (an outgoing file must carry its bytes).
        telegram.error.TelegramError: Telegram refused (the chat is closed, the file too large...).
    """
    sent: list[int] = []
    for index, file in enumerate(files):
        if file.data is None:
            raise ValueError(f"reply file {file.name or file.kind!r} has no data to upload")
        first = index == 0
        # Only the first file quotes the user's message and carries the caption and buttons.
        part = target if first else dataclasses.replace(target, reply_to=None)
        message_id = await _upload_one(
            bot, part, file, file.data, caption if first else None, markup if first else None
        )
        sent.append(message_id)
    return sent


async def _upload_one(
    bot: Bot,
    target: Target,
    file: Attachment,
    data: bytes,
    caption: str | None,
    markup: InlineKeyboardMarkup | None,
) -> int:
    assert target.chat_id is not None
    chat_id, thread_id = target.chat_id, target.thread_id
    quote = (
        ReplyParameters(target.reply_to, allow_sending_without_reply=True)
        if target.reply_to is not None
        else None
    )
    content = InputFile(data, filename=file.name or _default_name(file))
    if file.kind == "image" and (file.mime_type or "").lower() in PHOTO_TYPES:
        message = await call_api(
            "sendPhoto",
            lambda: bot.send_photo(
                chat_id,
                content,
                caption=caption,
                reply_markup=markup,
                message_thread_id=thread_id,
                reply_parameters=quote,
            ),
        )
    else:
        message = await call_api(
            "sendDocument",
            lambda: bot.send_document(
                chat_id,
                content,
                caption=caption,
                reply_markup=markup,
                message_thread_id=thread_id,
                reply_parameters=quote,
            ),
        )
    return message.message_id


def _default_name(file: Attachment) -> str:
    return "image" if file.kind == "image" else "file"
