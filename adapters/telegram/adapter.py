"""Telegram adapter on python-telegram-bot: long polling or webhook in, Bot API calls out.

An update's walk: ``getUpdates`` (``receive.Poller``) or the webhook (``receive.WebhookServer``) gives raw
JSON -> :meth:`TelegramAdapter.receive` drops redeliveries (``update_id``) ->
:func:`~botkit.adapters.telegram.parse.parse_update` makes a botkit message or event -> the shared
:class:`~botkit.adapters.intake.Intake` hands it to ``dispatcher.handle``, one at a time per chat so
replies keep their order -> replies come back through :meth:`TelegramAdapter.send` and the
:class:`~botkit.adapters.telegram.outbox.TelegramOutbox` to
:class:`~botkit.adapters.telegram.send.TelegramSender`. :meth:`TelegramAdapter.send_to` writes unprompted
the same way; files in and out are in :mod:`~botkit.adapters.telegram.files`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import secrets
from typing import TYPE_CHECKING, Any, Self

# Opt in to PTB's future timedelta durations now: reading ``RetryAfter.retry_after`` as an int emits a
# deprecation warning on every 429 (an error under ``-W error``). telegram_send accepts both types.
os.environ.setdefault("PTB_TIMEDELTA", "true")

import httpx
from telegram import Bot as TgBot
from telegram import BotCommand
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, Application
from telegram.request import HTTPXRequest

from botkit.adapters.intake import Intake
from botkit.adapters.redact import REDACTOR
from botkit.adapters.telegram.files import FileDownloads, file_base_url
from botkit.adapters.telegram.outbox import TelegramOutbox
from botkit.adapters.telegram.parse import BotIdentity, ParseOptions, Skip, parse_update
from botkit.adapters.telegram.receive import Poller, WebhookServer
from botkit.adapters.telegram.send import TelegramSender, call_api
from botkit.config import ConfigError
from botkit.message import Event, Incoming, Reply, StreamingReply

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.platform_settings import TelegramSettings
    from botkit.types import Dispatcher

log = logging.getLogger("botkit.adapters.telegram")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "chat_member"]
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")  # "123456:ABC-..." as @BotFather hands it out


class TelegramAdapter:
    """Connects a botkit dispatcher (the :class:`~botkit.app.Bot`) to Telegram.

    Args:
        settings: the ``[telegram]`` section; ``token`` is required, and ``webhook_url`` in webhook mode.

    Raises:
        ConfigError: when the settings lack what the chosen mode needs, or the token is malformed.
    """

    name = "telegram"

    def __init__(self, settings: TelegramSettings) -> None:
        if settings.token is None or not settings.token.get_secret_value():
            raise ConfigError("telegram: set telegram.token (or BOTKIT_TELEGRAM__TOKEN)")
        if not _TOKEN_SHAPE.match(settings.token.get_secret_value()):
            raise ConfigError(
                "telegram: telegram.token is not a bot token of the form 123456:ABC-... "
                "(check BOTKIT_TELEGRAM__TOKEN)"
            )
        if settings.mode == "webhook" and not settings.webhook_url:
            raise ConfigError(
                "telegram: webhook mode needs telegram.webhook_url, the public HTTPS URL "
                "(or BOTKIT_TELEGRAM__WEBHOOK_URL)"
            )
        self.settings = settings
        self._token = settings.token.get_secret_value()
        given = settings.secret_token.get_secret_value() if settings.secret_token else ""
        # Webhook requests must prove they come from Telegram; without a configured secret, make one.
        self.secret_token = given or secrets.token_urlsafe(32)
        self._options = ParseOptions(settings.group_mode, settings.edited_messages)
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._sender: TelegramSender | None = None
        self._me = BotIdentity(0, "")
        self._poller: Poller | None = None
        self._webhook: WebhookServer | None = None
        self._outbox = TelegramOutbox()
        self._intake = Intake(self, typing=self._outbox.typing_while_handled)
        self._redacting = False
        self._requests: tuple[HTTPXRequest, ...] = ()
        self._files: FileDownloads | None = None
        self._downloads: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The adapter for the ``[telegram]`` section of ``settings``.

        Raises:
            ConfigError: a setting is missing or malformed (one line, naming it and its variable).
        """
        return cls(settings.telegram)

    @property
    def me(self) -> BotIdentity:
        """The bot's own id and username (known after :meth:`start`)."""
        return self._me

    @property
    def webhook_port(self) -> int | None:
        """The port the webhook server listens on (webhook mode, after :meth:`start`)."""
        return self._webhook.port if self._webhook else None

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self, dispatcher: Dispatcher) -> None:
        """Log in (``getMe``), register the commands, begin polling or serving the webhook; returns then.

        Raises:
            telegram.error.TelegramError: Telegram refused the token or could not be reached (the
                adapter is then closed again).
        """
        try:
            await self._start(dispatcher)
        except InvalidToken:
            await self.stop()
            # PTB's message quotes the token, and whoever runs us will log this exception.
            raise InvalidToken("Telegram rejected the bot token (telegram.token)") from None
        except BaseException:
            await self.stop()
            raise

    async def _start(self, dispatcher: Dispatcher) -> None:
        REDACTOR.add(self._token, self.secret_token)
        self._redacting = True
        # Stay under Telegram's published limits (30 messages/s, 20/min per group) before they bite; a
        # zero rate switches a limit off. PTB retries a 429 a few times itself, call_api keeps waiting after.
        on = self.settings.flood_limits
        limiter = AIORateLimiter(
            overall_max_rate=30 if on else 0, group_max_rate=20 if on else 0, max_retries=3
        )
        # Our own HTTP clients, so stop() can close them even when initialize() failed half way.
        self._requests = (HTTPXRequest(), HTTPXRequest(connection_pool_size=1))
        builder = (
            Application.builder()
            .token(self._token)
            .updater(None)
            .rate_limiter(limiter)
            .request(self._requests[0])
            .get_updates_request(self._requests[1])
        )
        if self.settings.base_url:
            builder = builder.base_url(self.settings.base_url).base_file_url(
                file_base_url(self.settings.base_url)
            )
        self._app = builder.build()
        await self._app.initialize()
        self._intake.bind(dispatcher)
        self._me = BotIdentity(self._app.bot.id, self._app.bot.username or "")
        self._sender = TelegramSender(self._app.bot, self.settings.stream_edit_interval_s)
        self._outbox.sender = self._sender
        # Downloads get their own client: a large file must not hold up a connection replies need.
        self._downloads = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        self._files = FileDownloads(self._app.bot, self._downloads)
        # bot.start() is left to the runner (or the first dispatch): several adapters share one bot.
        await self._register_commands(dispatcher)
        if self.settings.mode == "webhook":
            await self._start_webhook()
        else:
            await call_api("deleteWebhook", lambda: self._app_bot().delete_webhook())
            self._poller = Poller(
                self._app_bot(), self.settings.poll_timeout_s, ALLOWED_UPDATES, self.receive
            )
            self._poller.start()
        log.info("telegram adapter running as @%s (%s)", self._me.username, self.settings.mode)

    async def stop(self) -> None:
        """Stop receiving, let replies in flight finish (up to 10 s), then close the HTTP clients."""
        if self._poller is not None:
            await self._poller.stop()
            self._poller = None
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        await self._intake.close()
        if self._app is not None:
            app, self._app = self._app, None
            await app.shutdown()  # a no-op when initialize() never succeeded
        for request in self._requests:
            await request.shutdown()
        if self._downloads is not None:
            await self._downloads.aclose()
            self._downloads = None
        if self._redacting:
            REDACTOR.discard(self._token, self.secret_token)
            self._redacting = False

    async def drain(self, within: float | None = None) -> None:
        """Wait until every update taken in so far has been handled (or ``within`` seconds passed)."""
        await self._intake.drain(within)

    def _app_bot(self) -> TgBot:
        if self._app is None:
            raise RuntimeError("telegram adapter is not started")
        bot: TgBot = self._app.bot
        return bot

    async def _register_commands(self, dispatcher: Dispatcher) -> None:
        commands = [
            BotCommand(name, (info.description or name)[:256])
            for name, info in dispatcher.commands.items()
            if name == info.command and _COMMAND_NAME.match(name)
        ][:100]
        try:
            await call_api("setMyCommands", lambda: self._app_bot().set_my_commands(commands))
        except TelegramError as exc:  # a cosmetic failure: commands still work when typed
            log.warning("telegram: setMyCommands failed: %s", exc)

    async def _start_webhook(self) -> None:
        s = self.settings
        url = s.webhook_url or ""  # checked in __init__
        self._webhook = WebhookServer(
            s.webhook_listen, s.webhook_port, s.webhook_path, self.secret_token, self.receive
        )
        await self._webhook.start()
        await call_api(
            "setWebhook",
            lambda: self._app_bot().set_webhook(
                url, secret_token=self.secret_token, allowed_updates=ALLOWED_UPDATES
            ),
        )

    # -- receiving --------------------------------------------------------------------------------
    def receive(self, update: Any) -> None:
        """Take one raw update (from polling, the webhook, or a test) and start handling it.

        With replicas sharing the intake, the update itself is journalled until it is answered: the
        webhook acknowledges it at once, and Telegram never sends an acknowledged update again.
        """
        if not isinstance(update, dict):
            log.warning("telegram: ignoring an update that is not a JSON object")
            return
        update_id = update.get("update_id")
        if update_id is not None and not self._intake.is_new(str(update_id)):
            return
        parsed = self._parsed(update)
        if parsed is not None:  # button presses are answered at once (prepare), even while the chat is busy
            self._intake.submit(parsed, prepare=self._prepare, raw=update)

    def readmit(self, raw: Any, ticket: str) -> bool:
        """Handle a journalled update another replica took in and died on, under its ``ticket``."""
        parsed = self._parsed(raw) if isinstance(raw, dict) else None
        if parsed is None:
            return False
        self._intake.resubmit(parsed, ticket, prepare=self._prepare)
        return True

    def _parsed(self, update: dict[str, Any]) -> Incoming | None:
        parsed = parse_update(update, self._me, self._options)
        if isinstance(parsed, Skip):
            log.debug("telegram: update %s ignored: %s", update.get("update_id"), parsed.reason)
            return None
        if self._files is not None:  # plugins download attachments through ctx.download
            return self._files.readable(parsed)
        return parsed

    async def _prepare(self, incoming: Incoming) -> Incoming:
        if not isinstance(incoming, Event):  # whoever writes to the bot has not blocked it (any more)
            self._outbox.blocked.discard(incoming.conversation.id)
            return incoming
        event = incoming
        assert self._sender is not None
        if event.kind == "button":
            await self._sender.answer_button(event.id)
            return dataclasses.replace(event, data=self._sender.buttons.decode(event.data))
        if "my_chat_member" in event.raw:  # always about the bot itself: added, removed, blocked
            if event.kind == "leave":
                self._outbox.blocked.add(event.conversation.id)
            else:
                self._outbox.blocked.discard(event.conversation.id)
        return event

    # -- sending ----------------------------------------------------------------------------------
    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        """Answer ``to``: in its chat (and topic), quoting it in groups; a streamed reply grows by edits."""
        await self._outbox.send(to, reply)

    async def send_to(
        self, conversation_id: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> str | None:
        """Write to chat ``conversation_id`` unprompted (in forum topic ``thread_id`` when given).

        Returns the ``message_id`` of the (first) message sent, as text.

        Raises:
            ConversationClosed: Telegram refuses: the user blocked the bot, it was removed from the
                group, or the chat does not exist (any more).
            ValueError: ``thread_id`` is not a topic id (a number).
        """
        key = f"{self.name}:{conversation_id}"
        return await self._outbox.send_to(key, conversation_id, reply, thread_id)
