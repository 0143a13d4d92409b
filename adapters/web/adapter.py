"""Web chat adapter: a widget any page embeds with one script tag, talking to botkit over a WebSocket.

A message's walk: the widget sends ``{"type": "message", "client_id", "text"}`` on ``/ws``
(:mod:`~botkit.adapters.web.session` checked the page's origin and the visitor's identity) ->
:meth:`WebAdapter._on_frame` drops a resend it has seen (same client id), adds the message to the
conversation's log (every tab of the visitor shows it) and hands a botkit ``Message`` to the shared
:class:`~botkit.adapters.intake.Intake` -> the bot answers through :meth:`WebAdapter.send` ->
:class:`~botkit.adapters.web.outbox.WebOutbox` numbers the reply's frames in the log, which sends them to
the open sockets and keeps them for a widget that reconnects. :meth:`WebAdapter.send_to` writes
unprompted the same way, also to a visitor who is away: the widget gets it when it comes back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Self

from botkit.adapters.intake import Intake
from botkit.adapters.redact import REDACTOR
from botkit.adapters.web.conversations import ConversationLog, Conversations, Listener
from botkit.adapters.web.files import FileShelf
from botkit.adapters.web.identity import Identities, Visitor, is_conversation_id
from botkit.adapters.web.outbox import WebOutbox
from botkit.adapters.web.protocol import FrameError, Hello, Press, Say
from botkit.adapters.web.server import WebServer, build_app
from botkit.adapters.web.session import ChatEndpoint
from botkit.config import ConfigError
from botkit.message import Conversation, Event, Incoming, Message, Reply, StreamingReply, User

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.platform_settings import WebSettings
    from botkit.types import Dispatcher

log = logging.getLogger("botkit.adapters.web")

MIN_SECRET_CHARS = 16


class WebAdapter:
    """Connects a botkit dispatcher (the :class:`~botkit.app.Bot`) to web visitors through the widget.

    Args:
        settings: the ``[web]`` section; ``secret`` is required.
        bot_name: shown on the demo page (``botkit run`` passes the configured ``name``).

    Raises:
        ConfigError: ``web.secret`` is unset or too short.
    """

    name = "web"

    def __init__(self, settings: WebSettings, *, bot_name: str = "botkit") -> None:
        secret = settings.secret.get_secret_value() if settings.secret is not None else ""
        if not secret:
            raise ConfigError(
                "web: set web.secret (or BOTKIT_WEB__SECRET), a long random string that signs visitors' "
                'cookies; e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        if len(secret) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"web: web.secret is too short; use at least {MIN_SECRET_CHARS} random characters"
            )
        identity = settings.identity_secret.get_secret_value() if settings.identity_secret else None
        self.settings = settings
        self._secrets = [s for s in (secret, identity) if s]
        self._redacting = False
        self.conversations = Conversations(settings.history_frames)
        self._outbox = WebOutbox(FileShelf(), settings.stream_edit_interval_s)
        endpoint = ChatEndpoint(
            Identities(secret, identity),
            self.conversations,
            settings.allowed_origins,
            settings.max_frame_bytes,
            self._on_frame,
        )
        app = build_app(endpoint, self._outbox.files, bot_name)
        self._server = WebServer(app, settings.listen, settings.port, settings.max_frame_bytes)
        self._intake = Intake(self, typing=self._typing)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The adapter for the ``[web]`` section of ``settings``.

        Raises:
            ConfigError: a setting is missing or malformed (one line, naming it and its variable).
        """
        return cls(settings.web, bot_name=settings.name)

    @property
    def url(self) -> str:
        """The server's base URL (``http://127.0.0.1:8080/``; the bound port after :meth:`start`)."""
        host = f"[{self.settings.listen}]" if ":" in self.settings.listen else self.settings.listen
        return f"http://{host}:{self._server.port}/"

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self, dispatcher: Dispatcher) -> None:
        """Begin serving the widget and its socket; returns once connections are accepted.

        Raises:
            OSError: ``web.listen``:``web.port`` cannot be bound.
        """
        REDACTOR.add(*self._secrets)
        self._redacting = True
        self._intake.bind(dispatcher)
        try:
            await self._server.start()
        except BaseException:
            await self.stop()
            raise
        log.info("web: widget at %swidget.js, demo page at %s", self.url, self.url)

    async def stop(self) -> None:
        """Let replies in flight finish (10 s at most) while sockets are open, then close them and stop."""
        await self._intake.close()
        await self._server.stop()
        if self._redacting:
            REDACTOR.discard(*self._secrets)
            self._redacting = False

    async def drain(self, within: float | None = None) -> None:
        """Wait until every message taken in so far has been handled (or ``within`` seconds passed)."""
        await self._intake.drain(within)

    # -- receiving --------------------------------------------------------------------------------
    async def _on_frame(
        self, visitor: Visitor, hello: Hello, frame: Say | Press, log: ConversationLog, listener: Listener
    ) -> None:
        if not self._intake.is_new(f"{visitor.conversation_id}:{frame.client_id}"):
            # A resend after a reconnect: the first copy was taken in; say so, handle nothing twice.
            listener.put({"type": "ack", "client_id": frame.client_id, "duplicate": True})
            return
        conversation = Conversation(visitor.conversation_id, self.name, "private")
        author = User(visitor.user_id, language=hello.lang)
        incoming: Incoming
        if isinstance(frame, Say):
            message_id = log.new_message_id()
            echo = {"type": "message", "from": "visitor", "id": message_id, "text": frame.text}
            log.publish({**echo, "client_id": frame.client_id})
            incoming = Message(self.name, conversation, author, frame.text, id=message_id)
        else:
            found = log.button(frame.token)
            if found is None:
                raise FrameError("button_gone", "this button is no longer available")
            data, message_id = found
            listener.put({"type": "ack", "client_id": frame.client_id, "duplicate": False})
            incoming = Event(
                self.name,
                "button",
                conversation,
                author,
                data=data,
                id=frame.client_id,
                message_id=message_id,
            )
        self._intake.submit(incoming)

    @contextlib.asynccontextmanager
    async def _typing(self, incoming: Incoming) -> AsyncIterator[None]:
        log = self.conversations.get(incoming.conversation.id)
        log.set_typing(True)
        try:
            yield
        finally:
            log.set_typing(False)

    # -- sending ----------------------------------------------------------------------------------
    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        """Answer ``to`` in its conversation; a streamed reply is sent delta by delta as it is written."""
        await self._outbox.deliver(self.conversations.get(to.conversation.id), reply)

    async def send_to(
        self, conversation_id: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> str | None:
        """Write to conversation ``conversation_id`` unprompted; returns the id of the message sent.

        A visitor who is away gets it when their widget reconnects (while the conversation's log keeps
        it). The web chat has no threads: ``thread_id`` is ignored.

        Raises:
            ValueError: ``conversation_id`` is not one this adapter makes (``<32 hex>`` or ``user:<id>``).
        """
        if not is_conversation_id(conversation_id):
            raise ValueError(f"web: {conversation_id!r} is not a web conversation id")
        return await self._outbox.deliver(self.conversations.get(conversation_id), reply)
