"""Replies to Discord: where they go (a channel, or an interaction's webhook), split and streamed as edits.

Bodies are raw JSON sent through discord.py's HTTP client (``call``), so each request still gets the
library's auth header, per-route rate-limit buckets and its waiting out of 429 answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botkit.adapters.discord import format as fmt
from botkit.adapters.text import throttled
from botkit.message import Button, Reply, StreamingReply

Call = Callable[..., Awaitable[Any]]  # call(method, path, body, **path_params) -> decoded JSON


@dataclass
class Target:
    """Where the replies to one incoming message or event go."""

    channel_id: str
    application_id: str = ""
    token: str = ""  # the interaction's token; empty for a channel message
    original_pending: bool = False  # a "thinking..." response waits to be replaced by the first reply


class Outbox:
    """Sends replies through ``call``.

    Args:
        call: one REST request, ``call(method, path, body, **path_params)``.
        escape_markdown: escape markdown in reply text (mentions are always defused).
        edit_interval_s: least time between two edits of a streaming reply.
    """

    def __init__(self, call: Call, *, escape_markdown: bool = True, edit_interval_s: float = 1.0) -> None:
        self._call = call
        self.escape_markdown = escape_markdown
        self.edit_interval_s = edit_interval_s

    async def send(self, target: Target, reply: Reply | StreamingReply) -> None:
        """Show ``reply``; a streaming one is posted once and then edited as it grows (throttled)."""
        shown = _Shown(self, target)
        if isinstance(reply, StreamingReply):
            async for text in throttled(reply.__aiter__(), self.edit_interval_s):
                await shown.update(text)
        await shown.update(reply.text, reply.buttons, final=True)

    async def post(self, target: Target, body: dict[str, Any]) -> str:
        """Create a message; returns its id ("@original" when it fills an interaction's response)."""
        if target.token and target.original_pending:
            target.original_pending = False
            await self.edit(target, "@original", body)
            return "@original"
        if target.token:
            path = "/webhooks/{application_id}/{token}?wait=true"
            sent = await self._call(
                "POST", path, body, application_id=target.application_id, token=target.token
            )
        else:
            path = "/channels/{channel_id}/messages"
            sent = await self._call("POST", path, body, channel_id=target.channel_id)
        return str(sent["id"])

    async def edit(self, target: Target, message_id: str, body: dict[str, Any]) -> None:
        """Replace the content (and components) of a message sent for ``target``."""
        if target.token:
            path = "/webhooks/{application_id}/{token}/messages/{message_id}"
            params = {"application_id": target.application_id, "token": target.token}
        else:
            path, params = "/channels/{channel_id}/messages/{message_id}", {"channel_id": target.channel_id}
        await self._call("PATCH", path, body, message_id=message_id, **params)

    async def drop_pending_original(self, target: Target) -> None:
        """Delete an interaction's "thinking..." response that no reply replaced."""
        if target.token and target.original_pending:
            target.original_pending = False
            path = "/webhooks/{application_id}/{token}/messages/@original"
            await self._call("DELETE", path, None, application_id=target.application_id, token=target.token)


class _Shown:
    """The messages showing one reply; a text longer than 2000 characters spans several of them."""

    def __init__(self, outbox: Outbox, target: Target) -> None:
        self.outbox = outbox
        self.target = target
        self.ids: list[str] = []
        self.bodies: list[dict[str, Any]] = []

    async def update(
        self, text: str, buttons: Sequence[Sequence[Button]] = (), *, final: bool = False
    ) -> None:
        parts = fmt.chunks(text, escape_markdown=self.outbox.escape_markdown)
        if not parts and final and buttons:
            parts = ["\u200b"]  # buttons need a message to sit on
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            body = fmt.message_body(part, buttons if final and last else ())
            if index < len(self.ids):
                if body != self.bodies[index]:  # only changed parts are edited (rate limits)
                    await self.outbox.edit(self.target, self.ids[index], body)
                    self.bodies[index] = body
            else:
                self.ids.append(await self.outbox.post(self.target, body))
                self.bodies.append(body)
