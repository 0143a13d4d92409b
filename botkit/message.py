"""The platform-neutral message model. Every adapter and plugin speaks only these types.

It imports nothing else of botkit, so every other module may import it.
"""

from __future__ import annotations

import mimetypes
import re
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ConversationKind = Literal["private", "group", "channel"]


@dataclass(frozen=True)
class User:
    """Who sent something. ``id`` is the platform's own id, as text."""

    id: str
    name: str = ""
    is_bot: bool = False
    language: str | None = None  # an IETF tag ("en", "zh-hans") where the platform tells it


@dataclass(frozen=True)
class Conversation:
    """Where something was said: a DM, a group or a channel (a thread is carried by the message)."""

    id: str
    platform: str
    kind: ConversationKind = "private"
    title: str = ""

    @property
    def key(self) -> str:
        """The store key: unique across platforms."""
        return f"{self.platform}:{self.id}"


# Reads at most ``max_bytes`` of an attachment's content from its platform; raises AttachmentTooLarge past it.
Fetch = Callable[[int], Awaitable[bytes]]


@dataclass(frozen=True)
class Attachment:
    """A file, image or other media that came with a message, or goes with a reply.

    Incoming attachments carry what the platform said of them and, where the adapter can download the
    content, a ``fetch`` that :meth:`read` calls; outgoing ones carry their bytes in ``data``.
    """

    kind: str  # "image", "file", "audio", "video", "sticker", ...
    url: str | None = None
    name: str = ""
    mime_type: str = ""
    size: int | None = None
    platform_id: str = ""
    data: bytes | None = None
    fetch: Fetch | None = field(default=None, compare=False, repr=False)

    async def read(self, max_bytes: int) -> bytes:
        """The attachment's bytes, at most ``max_bytes`` of them.

        Raises:
            AttachmentTooLarge: the platform's declared size, or the bytes read, pass ``max_bytes``.
            LookupError: there is nothing to read (no data, and the adapter gave no way to fetch it).
        """
        from botkit.errors import AttachmentTooLarge

        if self.size is not None and self.size > max_bytes:
            raise AttachmentTooLarge(self.name or self.kind, self.size, max_bytes)
        if self.data is not None:
            if len(self.data) > max_bytes:
                raise AttachmentTooLarge(self.name or self.kind, len(self.data), max_bytes)
            return self.data
        if self.fetch is None:
            raise LookupError(f"the {self.kind} {self.name!r} cannot be downloaded from its platform")
        return await self.fetch(max_bytes)

    @classmethod
    def from_path(cls, path: str | Path, *, kind: str | None = None, name: str | None = None) -> Attachment:
        """An outgoing attachment holding a file's bytes; an image by its MIME type unless ``kind`` says."""
        path = Path(path)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = path.read_bytes()
        chosen = kind or ("image" if mime.startswith("image/") else "file")
        return cls(kind=chosen, name=name or path.name, mime_type=mime, size=len(data), data=data)


@dataclass(frozen=True)
class Message:
    """A text message from a user.

    Attributes:
        platform: adapter name ("telegram", "console", ...).
        conversation: where it was said.
        author: who said it.
        text: the text, already stripped of a leading bot mention by the adapter.
        id: the platform's message id.
        attachments: files that came with it.
        reply_to: id of the message this one answers, if any.
        thread_id: the thread it belongs to (Slack ``thread_ts``, Discord thread channel, Telegram topic).
        addressed: True when the bot was mentioned, replied to, or it is a DM.
        edited: True for an edited message.
        raw: the platform payload, untouched.
    """

    platform: str
    conversation: Conversation
    author: User
    text: str
    id: str = ""
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None
    thread_id: str | None = None
    addressed: bool = True
    edited: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """Something other than a message: a button press, a join, a leave, a reaction.

    ``kind`` names it ("button", "join", "leave", ...); for a button ``data`` is the button's data.
    """

    platform: str
    kind: str
    conversation: Conversation
    author: User
    data: str = ""
    id: str = ""
    message_id: str | None = None
    thread_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


Incoming = Message | Event

_COMMAND_RE = re.compile(r"^/(?P<name>[A-Za-z0-9_]+)(?:@(?P<bot>\S+))?(?:\s+(?P<args>.*))?$", re.S)


@dataclass(frozen=True)
class CommandCall:
    """A parsed ``/name arg1 "arg two"`` line."""

    name: str
    arg_text: str
    args: tuple[str, ...]


def parse_command(text: str) -> CommandCall | None:
    """Parse a leading ``/command``; quoted arguments stay together. None if ``text`` is no command."""
    found = _COMMAND_RE.match(text.strip())
    if found is None:
        return None
    arg_text = (found.group("args") or "").strip()
    try:
        args = tuple(shlex.split(arg_text))
    except ValueError:  # unbalanced quotes: fall back to plain words rather than refuse
        args = tuple(arg_text.split())
    return CommandCall(found.group("name").lower(), arg_text, args)


@dataclass(frozen=True)
class Button:
    """An inline button: pressing it sends an ``Event(kind="button", data=data)``; or a link."""

    label: str
    data: str = ""
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    """A whole reply. ``buttons`` are rows of buttons; ``files`` are images and files sent with the text."""

    text: str
    buttons: Sequence[Sequence[Button]] = ()
    files: Sequence[Attachment] = ()


class Rewrite(str):
    """A delta that replaces the whole text so far instead of adding to it: a reply retried after its
    worker died that differs from the part already shown (:mod:`botkit.queue.client`)."""


@dataclass
class StreamingReply:
    """A reply whose text grows while the model writes it.

    Iterating yields the *whole text so far* each time it grows (or is rewritten by a :class:`Rewrite`
    delta). ``text`` holds the final text once the stream is exhausted, so adapters and the bot can both
    read the result.
    """

    deltas: AsyncIterator[str]
    buttons: Sequence[Sequence[Button]] = ()
    text: str = ""
    done: bool = False

    async def __aiter__(self) -> AsyncIterator[str]:
        async for delta in self.deltas:
            if delta:
                self.text = str(delta) if isinstance(delta, Rewrite) else self.text + delta
                yield self.text
        self.done = True
