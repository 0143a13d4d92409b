"""Pure conversions between Discord payloads and botkit's neutral types (no I/O, no client state).

Kept apart from :mod:`botkit.adapters.discord.adapter` so the rules (who is addressed, what a slash
command's text is, how a reply is cut and escaped) can be read and tested without a gateway connection.
Payloads are the raw JSON dicts Discord sends: gateway ``d`` objects and interaction objects.
"""

from __future__ import annotations

import re
import shlex
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from botkit.adapters.malformed import ignore_malformed, none
from botkit.adapters.text import split_rendered
from botkit.message import Attachment, Button, Conversation, Event, Incoming, Message, User
from botkit.types import CommandInfo

with warnings.catch_warnings():
    # discord.py imports the stdlib ``audioop`` for voice (unused here), deprecated since Python 3.11;
    # botkit's tests turn warnings into errors, so this one is silenced where discord.py is imported.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord.utils

PLATFORM = "discord"
MESSAGE_LIMIT = 2000  # characters of ``content`` Discord accepts in one message
NO_PINGS: dict[str, Any] = {"parse": []}  # model output must never ping @everyone, roles or users

# Message types that carry a user's words; the rest (pins, joins, boosts...) are system messages.
USER_MESSAGE_TYPES = frozenset({0, 19, 20})  # DEFAULT, REPLY, CHAT_INPUT_COMMAND
THREAD_CHANNEL_TYPES = frozenset({10, 11, 12})
_COMMAND_NAME_RE = re.compile(r"^[-_a-z0-9]{1,32}$")
_COMMAND_START_RE = re.compile(r"[A-Za-z0-9_]")

# Interaction types and their callback types (Discord API docs, "Receiving and Responding").
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE = 1, 5, 6


def render(text: str, *, escape_markdown: bool = True) -> str:
    """Make model output safe to send: mentions defused and, by default, markdown escaped."""
    text = discord.utils.escape_mentions(text)
    return discord.utils.escape_markdown(text) if escape_markdown else text


def chunks(text: str, *, escape_markdown: bool = True) -> list[str]:
    """``text`` cut into pieces Discord accepts (≤ 2000 characters each, words kept), each rendered after
    the cut so that no cut separates an escaping backslash from what it escapes."""
    return split_rendered(text, MESSAGE_LIMIT, lambda piece: render(piece, escape_markdown=escape_markdown))


def components(buttons: Sequence[Sequence[Button]]) -> list[dict[str, Any]]:
    """Buttons as message components: action rows of at most 5 buttons, at most 5 rows.

    A data button's ``custom_id`` carries the data, which comes back in the component interaction.
    """
    rows: list[dict[str, Any]] = []
    for row in buttons:
        items: list[dict[str, Any]] = []
        for button in row[:5]:
            if button.url:
                items.append({"type": 2, "style": 5, "label": button.label[:80], "url": button.url})
            else:
                custom_id = (button.data or button.label)[:100]
                items.append({"type": 2, "style": 1, "label": button.label[:80], "custom_id": custom_id})
        if items:
            rows.append({"type": 1, "components": items})
    return rows[:5]


def message_body(content: str, buttons: Sequence[Sequence[Button]] = ()) -> dict[str, Any]:
    """A create/edit message JSON body; mentions are never parsed, whatever the content says."""
    body: dict[str, Any] = {"content": content, "allowed_mentions": NO_PINGS}
    body["components"] = components(buttons)
    return body


def application_commands(commands: Mapping[str, CommandInfo]) -> list[dict[str, Any]]:
    """Global slash commands for the plugins' commands (aliases are left out: Discord autocompletes).

    Each command takes its arguments as one optional free-text ``args`` option, so botkit parses them
    exactly as it parses ``!name args`` typed in a channel.
    """
    found: list[dict[str, Any]] = []
    for name, info in sorted(commands.items()):
        if name != info.command or not _COMMAND_NAME_RE.match(name):
            continue
        command: dict[str, Any] = {
            "name": name,
            "type": 1,
            "description": (info.description or f"Run /{name}")[:100],
        }
        if info.usage != f"/{name}":
            required = "<" in info.usage
            command["options"] = [
                {"type": 3, "name": "args", "description": info.usage[:100], "required": required}
            ]
        found.append(command)
    return found


# -- incoming -------------------------------------------------------------------------------------


def _user(data: Mapping[str, Any] | None, language: str | None = None) -> User:
    data = data or {}
    name = data.get("global_name") or data.get("username") or ""
    return User(str(data.get("id", "")), str(name), bool(data.get("bot", False)), language)


def _attachment(data: Mapping[str, Any]) -> Attachment:
    mime = str(data.get("content_type") or "")
    major = mime.split("/", 1)[0]
    kind = major if major in ("image", "audio", "video") else "file"
    return Attachment(
        kind=kind,
        url=data.get("url"),
        name=str(data.get("filename", "")),
        mime_type=mime,
        size=data.get("size"),
        platform_id=str(data.get("id", "")),
    )


def _strip_mention(text: str, bot_id: str) -> tuple[str, bool]:
    """Drop a leading ``<@id>`` or legacy ``<@!id>`` mention of the bot."""
    for form in (f"<@{bot_id}>", f"<@!{bot_id}>"):
        if bot_id and text.startswith(form):
            return text[len(form) :].lstrip(), True
    return text, False


@ignore_malformed("discord", none)
def message_from_payload(
    data: Mapping[str, Any],
    *,
    bot_id: str,
    prefix: str,
    group_mode: str = "addressed",
    edited: bool = False,
) -> Message | None:
    """A MESSAGE_CREATE/UPDATE ``d`` object as a botkit message; None when the bot must not see it.

    Ignored: partial updates (no author or content), system messages, and anything written by a bot or a
    webhook (loop prevention). In a guild, a message is addressed when it mentions the bot, replies to
    one of its messages or starts with ``prefix``; the leading mention is stripped and ``!cmd`` becomes
    ``/cmd``. A DM (no ``guild_id``) is always addressed.
    """
    author = data.get("author")
    if not isinstance(author, Mapping) or "content" not in data or "id" not in data:
        return None
    if author.get("bot") or data.get("webhook_id") or data.get("type", 0) not in USER_MESSAGE_TYPES:
        return None
    text, mentioned = _strip_mention(str(data.get("content") or ""), bot_id)
    mentioned = mentioned or any(str(m.get("id")) == bot_id for m in data.get("mentions") or ())
    referenced = data.get("referenced_message") or {}
    replied_to_bot = bool(bot_id) and str((referenced.get("author") or {}).get("id")) == bot_id
    rest = text[len(prefix) :].lstrip() if prefix and text.startswith(prefix) else ""
    command = _COMMAND_START_RE.match(rest) is not None  # "!help" is a command, "!!!" is not
    if command:
        text = "/" + rest
    private = not data.get("guild_id")
    channel_id = str(data.get("channel_id", ""))
    reference = data.get("message_reference") or {}
    return Message(
        platform=PLATFORM,
        conversation=Conversation(channel_id, PLATFORM, "private" if private else "group"),
        author=_user(author),
        text=text,
        id=str(data["id"]),
        attachments=tuple(_attachment(a) for a in data.get("attachments") or ()),
        reply_to=str(reference["message_id"]) if reference.get("message_id") else None,
        thread_id=channel_id if data.get("channel_type") in THREAD_CHANNEL_TYPES else None,
        addressed=private or mentioned or replied_to_bot or command or group_mode == "all",
        edited=edited,
        raw=data,
    )


def _option_words(options: Sequence[Mapping[str, Any]]) -> list[str]:
    """Flatten slash-command options: subcommand (group) names as words, then the values in order."""
    words: list[str] = []
    for option in options:
        if option.get("type") in (1, 2):  # SUB_COMMAND, SUB_COMMAND_GROUP
            words.append(str(option.get("name", "")))
            words.extend(_option_words(option.get("options") or ()))
        elif "value" in option:
            value = option["value"]
            words.append(str(value).lower() if isinstance(value, bool) else str(value))
    return words


@ignore_malformed("discord", none)
def interaction_from_payload(data: Mapping[str, Any]) -> Incoming | None:
    """An interaction object as a botkit message or event; None for PING, autocomplete and unknown types.

    A slash command becomes ``Message("/name words...")`` (its ``args`` option is passed through as
    typed); a button press ``Event("button", data=custom_id)``; a select menu ``Event("select")`` with
    the chosen values; a context-menu command ``Event("context_menu", data=name)``; a modal submission
    ``Event("modal", data=custom_id)``. Interaction ids are the message/event ids. The author's language
    is the interaction's ``locale`` (the user's client language, "en-US", "zh-CN"); messages carry none.
    """
    kind = data.get("type")
    inner = data.get("data") or {}
    member = data.get("member") or {}
    locale = data.get("locale")
    author = _user(member.get("user") or data.get("user"), str(locale) if locale else None)
    channel_id = str(data.get("channel_id") or (data.get("channel") or {}).get("id", ""))
    conversation = Conversation(channel_id, PLATFORM, "group" if data.get("guild_id") else "private")
    common: dict[str, Any] = {"platform": PLATFORM, "conversation": conversation, "author": author}
    interaction_id = str(data.get("id", ""))
    if kind == APPLICATION_COMMAND and inner.get("type", 1) == 1:
        options = inner.get("options") or ()
        args = [o for o in options if o.get("name") == "args" and o.get("type") == 3]
        words = [str(inner.get("name", ""))]
        if len(args) == 1 and len(options) == 1:
            rest = str(args[0].get("value", ""))  # botkit's own free-text option: keep the user's quoting
        else:
            rest = " ".join(shlex.quote(w) for w in _option_words(options))
        text = "/" + " ".join(w for w in (*words, rest) if w)
        return Message(text=text, id=interaction_id, raw=data, addressed=True, **common)
    if kind == APPLICATION_COMMAND:
        return Event(
            kind="context_menu",
            data=str(inner.get("name", "")),
            id=interaction_id,
            message_id=str(inner["target_id"]) if inner.get("target_id") else None,
            raw=data,
            **common,
        )
    if kind == MESSAGE_COMPONENT:
        message_id = str((data.get("message") or {}).get("id") or "") or None
        if inner.get("component_type") == 2:
            button_data = str(inner.get("custom_id", ""))
            return Event(
                kind="button", data=button_data, id=interaction_id, message_id=message_id, raw=data, **common
            )
        values = ",".join(str(v) for v in inner.get("values") or ())
        return Event(kind="select", data=values, id=interaction_id, message_id=message_id, raw=data, **common)
    if kind == MODAL_SUBMIT:
        return Event(
            kind="modal", data=str(inner.get("custom_id", "")), id=interaction_id, raw=data, **common
        )
    return None


def modal_values(data: Mapping[str, Any]) -> dict[str, str]:
    """The text inputs of a modal submission, ``custom_id -> value``."""
    values: dict[str, str] = {}
    for row in (data.get("data") or {}).get("components") or ():
        for item in row.get("components") or ():
            if "custom_id" in item:
                values[str(item["custom_id"])] = str(item.get("value", ""))
    return values


@ignore_malformed("discord", none)
def ack_type(data: Mapping[str, Any]) -> int | None:
    """The callback type acknowledging an interaction at once, before the bot works on it.

    Commands get "thinking..." (5, the reply later edits it); components and modals get a deferred
    update (6: nothing changes until the bot answers with a follow-up). None: no acknowledgement.
    """
    kind = data.get("type")
    if kind == APPLICATION_COMMAND:
        return DEFERRED_CHANNEL_MESSAGE
    if kind in (MESSAGE_COMPONENT, MODAL_SUBMIT):
        return DEFERRED_UPDATE_MESSAGE
    return None
