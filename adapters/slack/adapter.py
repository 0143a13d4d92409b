"""Slack adapter on slack-bolt: Events API over HTTP (signed requests) or Socket Mode.

Slack wants every request acknowledged within 3 seconds, so the bolt listeners only parse, de-duplicate
and acknowledge; the bot runs in a background task of the shared :class:`~botkit.adapters.intake.Intake`
(drained by :meth:`SlackAdapter.stop`). The inbound rules live in :mod:`botkit.adapters.slack.events`,
sending in :mod:`botkit.adapters.slack.send`, files in :mod:`botkit.adapters.slack.files` and users'
languages in :mod:`botkit.adapters.slack.users`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Self

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from botkit.adapters import http_limits
from botkit.adapters.http_limits import Refused, refusal
from botkit.adapters.intake import Intake
from botkit.adapters.redact import REDACTOR
from botkit.adapters.slack.checks import check_settings
from botkit.adapters.slack.events import (
    EventRules,
    action_to_event,
    command_to_message,
    event_to_message,
    self_user_ids,
)
from botkit.adapters.slack.files import SlackFiles
from botkit.adapters.slack.format import escape
from botkit.adapters.slack.send import ChannelTarget, SlackSender, reply_target, web_client
from botkit.adapters.slack.signed_http import verified_request
from botkit.adapters.slack.users import UserLocales
from botkit.message import Incoming, Message, Reply, StreamingReply
from botkit.platform_settings import SlackSettings

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.types import Dispatcher

log = logging.getLogger("botkit.adapters.slack")
SDK_LOGGER = "botkit.adapters.slack.sdk"  # what slack_sdk and slack_bolt log through
SYNC_BUDGET_S = 2.5  # a slash command without response_url must be answered in its 3-second HTTP response
_ANY = re.compile(".*")


class SlackAdapter:
    """Connects a botkit dispatcher (the :class:`~botkit.app.Bot`) to Slack.

    Args:
        settings: the ``[slack]`` section; ``bot_token`` always, plus ``signing_secret`` (mode "http") or
            ``app_token`` (mode "socket").

    Attributes:
        url: where the Events API / interactivity / slash command endpoint listens (mode "http").

    Raises:
        ConfigError: the settings lack what the mode needs (see :func:`check_settings`).
    """

    name = "slack"

    def __init__(self, settings: SlackSettings) -> None:
        check_settings(settings)
        self.settings = settings
        self.url = ""
        self._app: AsyncApp | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sender: SlackSender | None = None
        self._files: SlackFiles | None = None
        self._locales: UserLocales | None = None
        self._bot_user_id = ""
        self._sync_replies: dict[int, list[str]] = {}
        self._intake = Intake(self, typing=self._typing)
        secrets = (settings.bot_token, settings.signing_secret, settings.app_token)
        self._secrets = [x.get_secret_value() for x in secrets if x is not None]
        self._redacting = False
        self._limits = http_limits.current()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The adapter for the ``[slack]`` section of ``settings``.

        Raises:
            ConfigError: a setting is missing or malformed (one line, naming it and its variable).
        """
        return cls(settings.slack)

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self, dispatcher: Dispatcher) -> None:
        """Verify the token (``auth.test``), then listen (HTTP) or connect (Socket Mode); returns once up."""
        s = self.settings
        assert s.bot_token is not None  # checked in __init__
        REDACTOR.add(*self._secrets)
        self._redacting = True
        sdk_logger = logging.getLogger(SDK_LOGGER)
        self._intake.bind(dispatcher)
        self._session = aiohttp.ClientSession()
        client = web_client(s, self._session, sdk_logger)
        self._sender = SlackSender(client, self._session, s.stream_edit_interval_s, sdk_logger)
        self._files = SlackFiles(self._session, s.bot_token.get_secret_value(), s.api_base)
        self._locales = UserLocales(client)
        try:
            auth = await client.auth_test()
            self._bot_user_id = str(auth.get("user_id") or "")
            self._app = self._build_app(client, sdk_logger)
            if s.mode == "socket":
                await self._connect_socket(sdk_logger)
            else:
                await self._listen()
        except BaseException:
            await self.stop()
            raise
        log.info("slack: running in %s mode as bot user %s", s.mode, self._bot_user_id)

    def _build_app(self, client: AsyncWebClient, sdk_logger: logging.Logger) -> AsyncApp:
        secret = self.settings.signing_secret
        app = AsyncApp(
            name="botkit-slack",
            client=client,
            signing_secret=secret.get_secret_value() if secret else "",
            logger=sdk_logger,
            # Our listeners only acknowledge and spawn a task, so running them before the response is fast
            # and keeps every task in our hands (bolt's own background tasks could not be awaited on stop).
            process_before_response=True,
            request_verification_enabled=self.settings.mode == "http",
        )
        app.event(_ANY)(self._on_event)
        app.command(_ANY)(self._on_command)
        app.action(_ANY)(self._on_action)
        return app

    async def _listen(self) -> None:
        s = self.settings
        web_app = web.Application()
        web_app.router.add_post(s.path, self._on_http)
        self._runner = web.AppRunner(web_app, shutdown_timeout=5, **self._limits.runner_options("slack"))
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.listen, s.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1] if s.port == 0 else s.port  # type: ignore[union-attr]  # aiohttp keeps the bound socket private
        self.url = f"http://{s.listen}:{port}{s.path}"

    async def _connect_socket(self, sdk_logger: logging.Logger) -> None:
        assert self._app is not None
        assert self.settings.app_token is not None
        self._socket = AsyncSocketModeHandler(
            self._app, self.settings.app_token.get_secret_value(), logger=sdk_logger
        )
        # connect() retries forever on failure; a wrong token or URL should fail start() instead.
        await asyncio.wait_for(self._socket.connect_async(), timeout=30)  # type: ignore[no-untyped-call]  # bolt leaves it unannotated

    async def stop(self) -> None:
        """Stop taking events, let replies in progress finish (30 s at most), close connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
            self._socket = None
        await self._intake.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._redacting:
            REDACTOR.discard(*self._secrets)
            self._redacting = False

    async def drain(self, within: float | None = None) -> None:
        """Wait until every event taken in so far has been handled (or ``within`` seconds passed)."""
        await self._intake.drain(within)

    # -- inbound ----------------------------------------------------------------------------------
    async def _on_http(self, request: web.Request) -> web.Response:
        secret = self.settings.signing_secret
        assert self._app is not None
        assert secret is not None  # HTTP mode needs it (check_settings)
        try:
            bolt_request = await verified_request(request, secret.get_secret_value(), self._limits)
        except Refused as refused:
            return refusal(log, "slack", request, refused)
        return await to_aiohttp_response(await self._app.async_dispatch(bolt_request))

    async def _on_event(self, body: dict[str, Any], ack: AsyncAck) -> None:
        # Acknowledged after the event is taken in: with replicas sharing the intake (queue mode) the
        # conversation's turn is drawn before Slack hears back, so arrival order is Slack's send order.
        try:
            self._take_event(body)
        finally:
            await ack()

    def _take_event(self, body: dict[str, Any]) -> None:
        event_id = str(body.get("event_id") or "")
        if event_id and not self._intake.is_new(f"event:{event_id}"):
            return
        message = self._event_message(body)
        if message is None:
            return
        # A mention in a channel arrives twice (message.channels and app_mention, different event ids).
        edit = f":edit:{body['event'].get('ts')}" if message.edited else ""  # each edit is new
        if not self._intake.is_new(f"msg:{message.conversation.id}:{message.id}{edit}"):
            return
        # The body is journalled until answered (replicas): Slack does not resend what was acknowledged.
        self._intake.submit(message, prepare=self._with_language, raw=body)

    def readmit(self, raw: Any, ticket: str) -> bool:
        """Handle a journalled Events API body another replica took in and died on, under its ``ticket``."""
        message = self._event_message(raw) if isinstance(raw, dict) else None
        if message is None:
            return False
        self._intake.resubmit(message, ticket, prepare=self._with_language)
        return True

    def _event_message(self, body: dict[str, Any]) -> Message | None:
        event = body.get("event")
        if isinstance(event, dict) and event.get("type") in ("app_uninstalled", "tokens_revoked"):
            # Single-workspace install: the token is now dead; say so loudly instead of failing later.
            log.warning(
                "slack: %s for team %s; the bot token no longer works", event["type"], body.get("team_id")
            )
            return None
        rules = EventRules(
            bot_user_ids=self_user_ids(body, [self._bot_user_id] if self._bot_user_id else []),
            bot_threads=self._sender.bot_threads if self._sender else (),
            group_mode=self.settings.group_mode,
            edited_messages=self.settings.edited_messages,
        )
        message = event_to_message(body, rules)
        assert self._files is not None
        return None if message is None else self._files.downloadable(message)

    async def _on_command(self, command: dict[str, Any], ack: AsyncAck) -> None:
        message = command_to_message(command)
        if message is None:
            await ack()
            return
        name = message.text.split(maxsplit=1)[0][1:].lower()
        if name not in self._intake.dispatcher.commands:
            # Never hand an unknown slash command (possibly with empty text) to the model as a prompt.
            await ack(escape(f"Sorry, I don't know the command {command.get('command')}."))
            return
        if command.get("response_url"):
            await ack()
            self._intake.submit(message, prepare=self._with_language)
            return
        # Legacy integrations send no response_url: the HTTP response (due within 3 s) is the only answer
        # we can give; it has no time for a users.info call, so the language is what is known already.
        if self._locales is not None:
            message = self._locales.with_cached_language(message)
        collected: list[str] = []
        self._sync_replies[id(message)] = collected
        task = self._intake.submit(message)
        await asyncio.wait({task}, timeout=SYNC_BUDGET_S)
        del self._sync_replies[id(message)]
        await ack(text=escape("\n\n".join(collected)) if collected else "\u2026", response_type="in_channel")

    async def _on_action(self, body: dict[str, Any], ack: AsyncAck) -> None:
        try:  # taken in first, then acknowledged, as events are
            event = action_to_event(body)
            if event is not None and self._intake.is_new(f"action:{body.get('trigger_id') or ''}:{event.id}"):
                self._intake.submit(event, prepare=self._with_language)
        finally:
            await ack()

    async def _with_language(self, incoming: Incoming) -> Incoming:
        return await self._locales.with_language(incoming) if self._locales is not None else incoming

    def _typing(self, incoming: Incoming) -> AbstractAsyncContextManager[None]:
        assert self._sender is not None
        target = reply_target(incoming, self.settings.dm_threads)
        # A legacy slash command answers in its HTTP response: a "…" in the channel would only confuse.
        delay = 0.0 if id(incoming) in self._sync_replies else self.settings.typing_delay_s
        return self._sender.typing(target, id(incoming), delay)

    # -- outbound ---------------------------------------------------------------------------------
    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        """Answer ``to``: in its thread, through its response URL, or in a slash command's HTTP response."""
        collected = self._sync_replies.get(id(to))
        if collected is not None:
            if isinstance(reply, StreamingReply):
                async for _ in reply:
                    pass
            collected.append(reply.text)
            if isinstance(reply, Reply) and reply.files and self._sender is not None:  # no files in HTTP
                await self._sender.send(ChannelTarget(to.conversation.id), Reply("", files=reply.files))
            return
        if self._sender is None:
            raise RuntimeError("slack: send() before start()")
        await self._sender.send(reply_target(to, self.settings.dm_threads), reply, id(to))

    async def send_to(
        self, conversation_id: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> str | None:
        """Post to channel ``conversation_id`` unprompted, in thread ``thread_id`` (a ``thread_ts``) if given.

        Returns the ``ts`` of the (first) message posted (a thread can be started under it); None when the
        reply was only files, whose upload Slack does not answer with a message ``ts``.

        Raises:
            ConversationClosed: Slack says the bot may no longer write there (the channel is archived or
                gone, the bot was removed from it, or the workspace deactivated the bot).
        """
        if self._sender is None:
            raise RuntimeError("slack: send_to() before start()")
        return await self._sender.send_to(conversation_id, thread_id, reply)
