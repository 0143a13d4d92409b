"""How the Telegram adapter's replies leave: "typing..." while a message is handled, whole, streamed and file
replies, messages the bot starts, and the chats that no longer take the bot's messages.

:class:`~botkit.adapters.telegram.send.TelegramSender` knows how to put a reply on Telegram; this module
knows where to and when: an answer goes where its message came from and is dropped for a chat known to
have blocked the bot, while an unprompted message raises :class:`~botkit.errors.ConversationClosed`, so the
bot can mark the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator

from telegram.error import BadRequest, Forbidden

from botkit.adapters.intake import keep_showing
from botkit.adapters.telegram.files import send_with_files
from botkit.adapters.telegram.send import Target, TelegramSender, chat_id_of, target_for
from botkit.errors import ConversationClosed
from botkit.message import Incoming, Message, Reply, StreamingReply

log = logging.getLogger("botkit.adapters.telegram")

TYPING_DELAY = 0.5  # seconds: quick answers need no "typing..." hint
TYPING_REPEAT = 4.5  # Telegram shows the hint for 5 s


class TelegramOutbox:
    """Sends the adapter's replies; knows the chats that blocked or removed the bot.

    Attributes:
        sender: the sender (set when the adapter starts).
        blocked: ids of chats that refused the bot, or told it (``my_chat_member``) that it left.
    """

    def __init__(self) -> None:
        self.sender: TelegramSender | None = None
        self.blocked: set[str] = set()
        self._typing: dict[int, asyncio.Task[None]] = {}

    def _started(self) -> TelegramSender:
        if self.sender is None:
            raise RuntimeError("telegram adapter is not started")
        return self.sender

    @contextlib.asynccontextmanager
    async def typing_while_handled(self, incoming: Incoming) -> AsyncIterator[None]:
        """Show "typing..." for an addressed message after a short delay; :meth:`send` ends it early."""
        if self.sender is None or not (isinstance(incoming, Message) and incoming.addressed):
            yield
            return
        typing = asyncio.create_task(self._keep_typing(target_for(incoming), TYPING_DELAY))
        self._typing[id(incoming)] = typing
        try:
            yield
        finally:
            typing.cancel()
            self._typing.pop(id(incoming), None)

    async def _keep_typing(self, target: Target, delay: float) -> None:
        sender = self._started()
        await keep_showing(functools.partial(sender.typing, target), TYPING_REPEAT, after_s=delay)

    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        """Answer ``to``: in its chat (and topic), quoting it in groups; a streamed reply grows by edits."""
        self._started()
        typing = self._typing.pop(id(to), None)
        if typing is not None:
            typing.cancel()
        if to.conversation.id in self.blocked:
            log.info("telegram: chat %s blocked the bot; reply dropped", to.conversation.id)
            return
        try:
            await self._deliver(target_for(to), reply)
        except Forbidden as exc:  # blocked, kicked, or never allowed to write here
            self.blocked.add(to.conversation.id)
            log.warning("telegram: may not write to chat %s (%s)", to.conversation.id, exc)

    async def send_to(
        self, key: str, conversation_id: str, reply: Reply | StreamingReply, thread_id: str | None
    ) -> str | None:
        """Write to chat ``conversation_id`` (store key ``key``) unprompted, in topic ``thread_id`` if given;
        returns the first sent message's id (as text).

        Raises:
            ConversationClosed: Telegram refuses (any 403: blocked, kicked; or "chat not found").
            ValueError: ``thread_id`` is not a topic id (a number).
        """
        if thread_id is not None and not thread_id.isdigit():
            raise ValueError(f"telegram: thread_id must be a forum topic id (a number), not {thread_id!r}")
        topic = int(thread_id) if thread_id is not None else None
        try:
            first = await self._deliver(Target(chat_id_of(conversation_id), topic), reply)
        except (Forbidden, BadRequest) as exc:
            if isinstance(exc, BadRequest) and "chat not found" not in exc.message.lower():
                raise
            self.blocked.add(conversation_id)
            raise ConversationClosed(key, exc.message) from exc
        self.blocked.discard(conversation_id)
        return None if first is None else str(first)

    async def _deliver(self, target: Target, reply: Reply | StreamingReply) -> int | None:
        """Send ``reply`` to ``target``; the id of the first message sent (None if nothing was)."""
        sender = self._started()
        if isinstance(reply, StreamingReply):
            # The model is working until the first text shows: keep the hint up till then.
            hint = asyncio.create_task(self._keep_typing(target, 0.0))
            try:
                return await sender.send_stream(target, reply, on_first=hint.cancel)
            finally:
                hint.cancel()
        if reply.files:
            return await send_with_files(sender, target, reply)
        return await sender.send_reply(target, reply)
