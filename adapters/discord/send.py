"""Replies to Discord: where they go (a channel, or an interaction's webhook), split and streamed as edits.

Bodies are raw JSON sent through discord.py's HTTP client (``call``), so each request still gets the
library's auth header, per-route rate-limit buckets and its waiting out of 429 answers. A reply's files
go with its last message (as a multipart upload, see :mod:`~botkit.adapters.discord.files`), ten to a
message; more follow in messages of their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botkit.adapters.discord import format as fmt
from botkit.adapters.discord.files import batches, check_uploadable
from botkit.adapters.text import throttled
from botkit.message import Attachment, Button, Reply, StreamingReply

Call = Callable[..., Awaitable[Any]]  # call(method, path, body, files=(), **path_params) -> decoded JSON
# Discord's JSON error codes that mean the bot may no longer write to a channel: 10003 Unknown Channel
# (deleted), 50001 Missing Access (removed), 50007 Cannot send messages to this user (a DM: blocked, or no
# server shared any more), 50013 Missing Permissions.
CLOSED_CODES = frozenset({10003, 50001, 50007, 50013})


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

    async def send(self, target: Target, reply: Reply | StreamingReply) -> str | None:
        """Show ``reply``; a streaming one is posted once and then edited as it grows (throttled).

        Returns the id of the (first) message showing it ("@original" for an interaction's response).

        Raises:
            ValueError: a file of the reply holds no bytes (checked before anything is sent).
        """
        groups = batches(reply.files) if isinstance(reply, Reply) else []
        if isinstance(reply, Reply):
            check_uploadable(reply.files)
        shown = _Shown(self, target)
        if isinstance(reply, StreamingReply):
            async for text in throttled(reply.__aiter__(), self.edit_interval_s):
                await shown.update(text)
        await shown.update(reply.text, reply.buttons, groups[0] if groups else (), final=True)
        for group in groups[1:]:
            await self.post(target, fmt.message_body(""), group)
        return shown.ids[0] if shown.ids else None

    async def post(self, target: Target, body: dict[str, Any], files: Sequence[Attachment] = ()) -> str:
        """Create a message, with ``files`` uploaded; returns its id.

        The id is "@original" when the message fills an interaction's pending response.
        """
        if target.token and target.original_pending:
            target.original_pending = False
            await self.edit(target, "@original", body, files)
            return "@original"
        if target.token:
            path = "/webhooks/{application_id}/{token}?wait=true"
            sent = await self._call(
                "POST", path, body, files=files, application_id=target.application_id, token=target.token
            )
        else:
            path = "/channels/{channel_id}/messages"
            sent = await self._call("POST", path, body, files=files, channel_id=target.channel_id)
        return str(sent["id"])

    async def edit(
        self, target: Target, message_id: str, body: dict[str, Any], files: Sequence[Attachment] = ()
    ) -> None:
        """Replace the content (and components) of a message sent for ``target``; ``files`` are added."""
        if target.token:
            path = "/webhooks/{application_id}/{token}/messages/{message_id}"
            params = {"application_id": target.application_id, "token": target.token}
        else:
            path, params = "/channels/{channel_id}/messages/{message_id}", {"channel_id": target.channel_id}
        await self._call("PATCH", path, body, files=files, message_id=message_id, **params)

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
        self,
        text: str,
        buttons: Sequence[Sequence[Button]] = (),
        files: Sequence[Attachment] = (),
        *,
        final: bool = False,
    ) -> None:
        parts = fmt.chunks(text, escape_markdown=self.outbox.escape_markdown)
        if not parts and final and (buttons or files):
            parts = [""] if files else ["\u200b"]  # buttons alone need some content to sit on
        for index, part in enumerate(parts):
            last = final and index == len(parts) - 1
            body = fmt.message_body(part, buttons if last else ())
            attached = files if last else ()
            if index < len(self.ids):
                if body != self.bodies[index] or attached:  # only changed parts are edited (rate limits)
                    await self.outbox.edit(self.target, self.ids[index], body, attached)
                    self.bodies[index] = body
            else:
                self.ids.append(await self.outbox.post(self.target, body, attached))
                self.bodies.append(body)
