"""The platform-neutral message model. Every adapter and plugin speaks only these types.

It imports nothing else of botkit, so every other module may import it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

ConversationKind = Literal["private", "group", "channel"]


@dataclass(frozen=True)
class User:
    """Who sent something. ``id`` is the platform's own id, as text."""

    id: str
    name: str = ""
    is_bot: bool = False


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


@dataclass(frozen=True)
class Attachment:
    """A file, image or other media that came with a message (or goes with a reply)."""

    kind: str  # "image", "file", "audio", "video", "sticker", ...
    url: str | None = None
    name: str = ""
    mime_type: str = ""
    size: int | None = None
    platform_id: str = ""
    data: bytes | None = None


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
    """A whole reply. ``buttons`` are rows of buttons."""

    text: str
    buttons: Sequence[Sequence[Button]] = ()
    attachments: Sequence[Attachment] = ()


@dataclass
class StreamingReply:
    """A reply whose text grows while the model writes it.

    Iterating yields the *whole text so far* each time it grows. ``text`` holds the final text once the
    stream is exhausted, so adapters and the bot can both read the result.
    """

    deltas: AsyncIterator[str]
    buttons: Sequence[Sequence[Button]] = ()
    text: str = ""
    done: bool = False

    async def __aiter__(self) -> AsyncIterator[str]:
        async for delta in self.deltas:
            if delta:
                self.text += delta
                yield self.text
        self.done = True
