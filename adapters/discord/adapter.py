"""Discord adapter on discord.py: gateway events in, REST calls out.

discord.py keeps the gateway session (heartbeats, RESUME, reconnects, zlib-stream) and the REST client
(auth, per-route buckets, waiting out 429s). ``gateway`` taps the raw MESSAGE_CREATE, MESSAGE_UPDATE and
INTERACTION_CREATE payloads; this adapter turns them into botkit messages and events (``format``), hands
them to the shared :class:`~botkit.adapters.intake.Intake`, and sends replies as raw JSON bodies through
``client.http`` (``send``), so every reply gets ``allowed_mentions`` that forbid pings and components
built from botkit buttons; files go up and come down through ``files``. Interactions are acknowledged at
once ("thinking..." for commands, a deferred update for buttons) and answered through their webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Self

from botkit.adapters.discord import format as fmt
from botkit.adapters.discord import gateway
from botkit.adapters.discord.checks import check_settings
from botkit.adapters.discord.files import Downloads, upload_form
from botkit.adapters.discord.interactions import DiscordInteractionsEndpoint
from botkit.adapters.discord.send import CLOSED_CODES, Outbox, Target
from botkit.adapters.intake import Intake, keep_showing
from botkit.adapters.redact import REDACTOR
from botkit.errors import ConversationClosed
from botkit.message import Attachment, Incoming, Message, Reply, StreamingReply
from botkit.platform_settings import DiscordSettings

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.types import Dispatcher

import discord  # after ``format``, which imports discord.py without its audioop warning
from discord.gateway import DiscordWebSocket
from discord.http import Route

log = logging.getLogger("botkit.adapters.discord")

TYPING_EVERY_S = 8.0  # Discord shows "typing" for 10 s after each call
# Interaction tokens are credentials too (15 minutes): in webhook URLs and in logged gateway payloads.
INTERACTION_TOKEN_PATTERNS = (
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/\s?'\"]+"),
    re.compile(r"(['\"]token['\"]:\s*['\"])[^'\"]+"),
)


class DiscordAdapter:
    """A Discord bot (gateway + REST) serving a botkit dispatcher (the :class:`~botkit.app.Bot`).

    Args:
        settings: the ``[discord]`` section; ``token`` is required.

    Raises:
        ConfigError: the settings lack the token or hold a malformed value (see :func:`check_settings`).
    """

    name = "discord"

    def __init__(self, settings: DiscordSettings) -> None:
        check_settings(settings)
        self.settings = settings
        self.client: discord.Client | None = None
        self.endpoint: DiscordInteractionsEndpoint | None = None
        self._intake = Intake(self, typing=self._typing)
        self._targets: dict[str, Target] = {}
        self._downloads = Downloads()
        self._redacting = ""
        self._runner: asyncio.Task[None] | None = None
        self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        self._outbox = Outbox(
            self._call,
            escape_markdown=self.settings.escape_markdown,
            edit_interval_s=self.settings.stream_edit_interval_s,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The adapter for the ``[discord]`` section of ``settings``.

        Raises:
            ConfigError: a setting is missing or malformed (one line, naming it and its variable).
        """
        return cls(settings.discord)

    @property
    def bot_user_id(self) -> str:
        """The bot's own user id (from READY), or "" before it connected."""
        user = self.client.user if self.client is not None else None
        return str(user.id) if user is not None else ""

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self, dispatcher: Dispatcher) -> None:
        """Log in, connect to the gateway and register slash commands; returns once READY.

        Raises:
            discord.LoginFailure: Discord refused the token.
            RuntimeError: the gateway did not become ready within ``ready_timeout_s``.
        """
        assert self.settings.token is not None  # checked in __init__
        token = self.settings.token.get_secret_value()
        REDACTOR.add(token)
        self._redacting = token
        for pattern in INTERACTION_TOKEN_PATTERNS:
            REDACTOR.add_pattern(pattern)
        self._intake.bind(dispatcher)
        try:
            await self._connect(token)
            if self.settings.register_commands:
                await self._register_commands(dispatcher)
            if self.settings.interactions_port is not None and self.settings.public_key:
                self.endpoint = DiscordInteractionsEndpoint(
                    self.settings.public_key, self, path=self.settings.interactions_path
                )
                await self.endpoint.start(self.settings.interactions_listen, self.settings.interactions_port)
        except BaseException:
            await self.stop()  # no half-started client, session or task is left behind
            raise

    async def _connect(self, token: str) -> None:
        self.client = client = gateway.new_client(self.settings)
        edits = self.settings.edited_messages == "handle"
        gateway.tap(client, self._on_message, self._on_gateway_interaction, edits=edits)
        self._runner = await gateway.connect(client, token, self.settings.ready_timeout_s)
        log.info("connected to Discord as user %s", self.bot_user_id)

    async def stop(self) -> None:
        """Finish pending replies (up to 10 s), then close the gateway and the HTTP session."""
        if self.endpoint is not None:
            await self.endpoint.stop()
            self.endpoint = None
        await self._intake.close()
        await self._downloads.close()
        if self.client is not None:
            await self.client.close()
        if self._runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._runner, 5.0)
            self._runner = None
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
        if self._redacting:
            REDACTOR.discard(self._redacting)
            self._redacting = ""

    async def drain(self, within: float | None = None) -> None:
        """Wait until every event taken in so far has been handled (or ``within`` seconds passed)."""
        await self._intake.drain(within)

    async def _register_commands(self, dispatcher: Dispatcher) -> None:
        client = self._running()
        commands = fmt.application_commands(dispatcher.commands)
        try:
            path = "/applications/{application_id}/commands"
            await self._call("PUT", path, commands, application_id=client.application_id)
        except discord.HTTPException as exc:
            log.warning("could not register slash commands: %s", exc)
        else:
            log.info("registered %d slash commands", len(commands))

    def _running(self) -> discord.Client:
        if self.client is None:
            raise RuntimeError("the Discord adapter is not started")
        return self.client

    # -- incoming ---------------------------------------------------------------------------------
    def _on_message(self, data: Mapping[str, Any], edited: bool) -> None:
        key = f"{data.get('id')}@{data.get('edited_timestamp')}" if edited else str(data.get("id"))
        if not self._intake.is_new(key):
            return
        message = fmt.message_from_payload(
            data,
            bot_id=self.bot_user_id,
            prefix=self.settings.command_prefix,
            group_mode=self.settings.group_mode,
            edited=edited,
        )
        if message is None:
            log.debug("ignored message %s (bot, webhook, system message or partial)", data.get("id"))
            return
        if message.thread_id is None and self._is_thread(message.conversation.id):
            message = replace(message, thread_id=message.conversation.id)
        self._intake.submit(self._downloads.bind(message))

    def _is_thread(self, channel_id: str) -> bool:
        """Whether discord.py's guild cache knows ``channel_id`` as a thread (payloads rarely say)."""
        channel = self.client.get_channel(int(channel_id)) if self.client and channel_id.isdigit() else None
        return isinstance(channel, discord.Thread)

    @contextlib.asynccontextmanager
    async def _typing(self, incoming: Incoming) -> AsyncIterator[None]:
        """Show "typing" while an addressed message is handled (interactions show "thinking...")."""
        if not isinstance(incoming, Message) or not incoming.addressed or incoming.id in self._targets:
            yield
            return
        channel_id = incoming.conversation.id
        typing = asyncio.create_task(keep_showing(lambda: self._show_typing(channel_id), TYPING_EVERY_S))
        try:
            yield
        finally:
            typing.cancel()

    async def _show_typing(self, channel_id: str) -> None:
        with contextlib.suppress(discord.HTTPException):  # only a hint: the reply matters, not this
            await self._call("POST", "/channels/{channel_id}/typing", None, channel_id=channel_id)

    def _on_gateway_interaction(self, data: Any) -> None:
        if self.acknowledge(data) is not None:
            self._submit_interaction(data, ack=fmt.ack_type(data))

    def acknowledge(self, interaction: Mapping[str, Any]) -> dict[str, Any] | None:
        """The immediate answer to an interaction; None if it is a duplicate or nothing botkit handles."""
        ack = fmt.ack_type(interaction)
        if ack is None or fmt.interaction_from_payload(interaction) is None:
            log.debug("ignored interaction %s of type %s", interaction.get("id"), interaction.get("type"))
            return None
        if not self._intake.is_new(f"interaction:{interaction.get('id')}"):
            return None
        return {"type": ack}

    def process(self, interaction: Mapping[str, Any]) -> None:
        """Handle an interaction already acknowledged over HTTP (see :meth:`acknowledge`)."""
        self._submit_interaction(interaction, ack=None)

    def _submit_interaction(self, data: Mapping[str, Any], *, ack: int | None) -> None:
        incoming = fmt.interaction_from_payload(data)
        if incoming is None:
            return

        async def prepare(incoming: Incoming) -> Incoming:
            client = self._running()
            token = str(data["token"])
            if ack is not None:  # over the gateway: acknowledge by REST, within Discord's 3 seconds
                await self._call(
                    "POST",
                    "/interactions/{interaction_id}/{token}/callback",
                    {"type": ack},
                    interaction_id=data["id"],
                    token=token,
                )
            self._targets[incoming.id] = Target(
                incoming.conversation.id,
                str(data.get("application_id") or client.application_id),
                token,
                original_pending=fmt.ack_type(data) == fmt.DEFERRED_CHANNEL_MESSAGE,
            )
            return incoming

        async def cleanup(incoming: Incoming) -> None:
            target = self._targets.pop(incoming.id, None)
            if target is not None:
                with contextlib.suppress(discord.HTTPException):  # nothing said: remove "thinking..."
                    await self._outbox.drop_pending_original(target)

        self._intake.submit(incoming, prepare=prepare, cleanup=cleanup)

    # -- outgoing ---------------------------------------------------------------------------------
    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        """Send ``reply`` where ``to`` came from; a streaming reply is posted once and then edited."""
        await self._outbox.send(self._targets.get(to.id) or Target(to.conversation.id), reply)

    async def send_to(
        self, conversation_id: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> str | None:
        """Post ``reply`` unprompted in channel ``conversation_id``, or in thread ``thread_id`` if given.

        Returns the id of the (first) message posted.

        Raises:
            ValueError: the id is not a Discord channel id (a snowflake), or a reply file holds no bytes.
            ConversationClosed: Discord refuses the channel (deleted, the bot removed or without
                permission, a DM whose user blocked the bot); ``reason`` is Discord's message.
            discord.HTTPException: any other refusal.
        """
        channel_id = thread_id or conversation_id
        if not channel_id.isdigit():
            raise ValueError(f"discord: {channel_id!r} is not a channel id (a number, e.g. 1234567890123)")
        try:
            return await self._outbox.send(Target(channel_id), reply)
        except discord.HTTPException as exc:
            if exc.code in CLOSED_CODES:  # the reason is Discord's own message ("Missing Access")
                raise ConversationClosed(f"{self.name}:{conversation_id}", exc.text) from exc
            raise

    async def _call(
        self, method: str, path: str, body: Any, *, files: Sequence[Attachment] = (), **params: Any
    ) -> Any:
        """One REST call through discord.py's HTTP client (auth, buckets, 429 retries); files: multipart."""
        client = self._running()
        route = Route(method, path, **params)
        if files:
            form, buffers = upload_form(body, files)
            return await client.http.request(route, form=form, files=buffers)
        if body is None:
            return await client.http.request(route)
        return await client.http.request(route, json=body)


__all__ = ["DiscordAdapter", "DiscordInteractionsEndpoint", "check_settings"]
