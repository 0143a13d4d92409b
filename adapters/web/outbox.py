"""How a botkit reply becomes frames in a web conversation: one ``message`` frame for a whole reply, or a
``start``, ``delta``... and ``end`` for a streamed one, each numbered by the conversation's log.

Buttons travel as tokens (:meth:`ConversationLog.button_token`): the widget sends the token back and the
adapter turns it into a botkit ``Event(kind="button", data=...)``, so a visitor can press only buttons the
bot offered. A link button's URL is passed on only if it is http(s): a ``javascript:`` URL never reaches a
page. Frames are queued, not awaited on sockets, so a reply to a visitor who is away is kept for replay.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from botkit.adapters.web.conversations import ConversationLog, Frame
from botkit.adapters.web.files import FileShelf
from botkit.message import Button, Reply, StreamingReply


class WebOutbox:
    """Puts replies into conversation logs.

    Args:
        files: where attachments' bytes are kept for download.
        stream_interval_s: least time between two ``delta`` frames (deltas arriving sooner are joined).
    """

    def __init__(self, files: FileShelf, stream_interval_s: float = 0.0) -> None:
        self.files = files
        self.stream_interval_s = stream_interval_s

    async def deliver(self, log: ConversationLog, reply: Reply | StreamingReply) -> str:
        """Add ``reply`` to ``log`` (and so to every open socket of it); returns the message's id."""
        message_id = log.new_message_id()
        if isinstance(reply, StreamingReply):
            await self._stream(log, message_id, reply)
            return message_id
        log.set_typing(False)
        frame: Frame = {"type": "message", "from": "bot", "id": message_id, "text": reply.text}
        frame["buttons"] = self._buttons(log, message_id, reply.buttons)
        frame["files"] = [d for d in (self.files.describe(f) for f in reply.files) if d is not None]
        log.publish(frame)
        return message_id

    async def _stream(self, log: ConversationLog, message_id: str, reply: StreamingReply) -> None:
        started = False
        sent = ""  # the text the widget has been sent so far
        last = 0.0
        try:
            async for text in reply:
                if not started:  # the first text, not the call, starts the bubble: typing shows till then
                    log.set_typing(False)
                    log.publish({"type": "start", "from": "bot", "id": message_id})
                    started = True
                now = time.monotonic()
                if now - last >= self.stream_interval_s:
                    log.publish({"type": "delta", "id": message_id, "text": text[len(sent) :]})
                    sent, last = text, now
        finally:
            # Also when the model failed half way: the widget must not show a reply growing for ever.
            if not started:
                log.set_typing(False)
                log.publish({"type": "start", "from": "bot", "id": message_id})
            buttons = self._buttons(log, message_id, reply.buttons)
            log.publish({"type": "end", "id": message_id, "text": reply.text, "buttons": buttons})
            log.compact(message_id)

    @staticmethod
    def _buttons(
        log: ConversationLog, message_id: str, rows: Sequence[Sequence[Button]]
    ) -> list[list[dict[str, Any]]]:
        out: list[list[dict[str, Any]]] = []
        for row in rows:
            cells: list[dict[str, Any]] = []
            for button in row:
                if button.url is not None:
                    if urlsplit(button.url).scheme in ("http", "https"):
                        cells.append({"label": button.label, "url": button.url})
                else:
                    cells.append({"label": button.label, "token": log.button_token(button.data, message_id)})
            if cells:
                out.append(cells)
        return out
