"""Turning Slack payloads (Events API, slash commands, block actions) into botkit messages and events.

Pure functions over the JSON Slack sends, so the rules (who is addressed, what is ignored and why) can be
read and tested without a server. Each ``*_to_*`` function returns None for "ignore" and logs the reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botkit.adapters.malformed import ignore_malformed, none
from botkit.adapters.slack.format import to_plain
from botkit.message import Attachment, Conversation, ConversationKind, Event, Message, User

log = logging.getLogger("botkit.adapters.slack")

PLATFORM = "slack"
_LEADING_MENTION = re.compile(r"^\s*<@([A-Z0-9]+)(?:\|[^>]*)?>[\s,:]*")
# Subtypes that carry new user text; every other subtype is housekeeping (joins, deletions, bot posts).
_USER_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}


@dataclass(frozen=True)
class EventRules:
    """What the adapter knows when it reads an event: who the bot is and how eager it should be.

    Attributes:
        bot_user_ids: the bot's own user ids (from ``auth.test`` and the payload's ``authorizations``).
        bot_threads: ``channel:thread_ts`` of threads the bot has posted in (replies there address it).
        group_mode: "addressed" drops channel chatter that does not address the bot; "all" answers it.
        edited_messages: "ignore" or "handle" (an edit is then handled as a new, ``edited`` message).
    """

    bot_user_ids: frozenset[str]
    bot_threads: Collection[str] = ()
    group_mode: Literal["addressed", "all"] = "addressed"
    edited_messages: Literal["ignore", "handle"] = "ignore"


def self_user_ids(body: Mapping[str, Any], known: Collection[str]) -> frozenset[str]:
    """The bot's user ids: ``known`` plus the bot users named in the payload's ``authorizations``."""
    ids = set(known)
    for auth in body.get("authorizations") or ():
        if isinstance(auth, Mapping) and auth.get("is_bot") and auth.get("user_id"):
            ids.add(str(auth["user_id"]))
    return frozenset(ids)


def conversation_kind(channel: str, channel_type: str | None) -> ConversationKind:
    """``im`` is private; channels, private channels and group DMs are all groups to botkit."""
    if channel_type == "im" or (channel_type is None and channel.startswith("D")):
        return "private"
    return "group"


@ignore_malformed("slack", none)
def event_to_message(body: Mapping[str, Any], rules: EventRules) -> Message | None:
    """The message in an ``event_callback`` body, or None when the bot should not answer it."""
    event = body.get("event")
    if not isinstance(event, Mapping):
        log.warning("slack: event_callback without an event object; ignored")
        return None
    etype, subtype = event.get("type"), event.get("subtype")
    if etype not in ("message", "app_mention"):
        log.debug("slack: event type %r is not handled; ignored", etype)
        return None
    edited = False
    if subtype == "message_changed":
        if rules.edited_messages == "ignore" or not isinstance(event.get("message"), Mapping):
            log.debug("slack: edited message ignored (edited_messages=ignore)")
            return None
        where = {"channel": event.get("channel"), "channel_type": event.get("channel_type")}
        event = {**event["message"], **where}
        subtype, edited = event.get("subtype"), True
    if subtype not in _USER_SUBTYPES:
        log.debug("slack: message subtype %r ignored", subtype)
        return None
    user, channel = event.get("user"), event.get("channel")
    if event.get("bot_id") or event.get("bot_profile") or not user:
        log.debug("slack: message from a bot ignored (no reply loops)")
        return None
    if not isinstance(channel, str) or not channel:
        log.warning("slack: message event without a channel; ignored")
        return None
    if user in rules.bot_user_ids:
        log.debug("slack: the bot's own message ignored")
        return None
    text = str(event.get("text") or "")
    found = _LEADING_MENTION.match(text)
    # An app_mention is by definition addressed to us: its leading mention is ours even when the payload
    # (as in Slack's own docs) does not name the bot's id anywhere else.
    if found and (etype == "app_mention" or found.group(1) in rules.bot_user_ids):
        text = text[found.end() :]
    raw_text = str(event.get("text") or "")
    mentioned = etype == "app_mention" or any(f"<@{uid}" in raw_text for uid in rules.bot_user_ids)
    kind = conversation_kind(channel, event.get("channel_type"))
    thread_ts, ts = event.get("thread_ts"), str(event.get("ts") or "")
    in_bot_thread = bool(thread_ts) and (
        f"{channel}:{thread_ts}" in rules.bot_threads or event.get("parent_user_id") in rules.bot_user_ids
    )
    addressed = kind == "private" or mentioned or in_bot_thread or text.lstrip().startswith("/")
    if not addressed and rules.group_mode == "addressed":
        log.debug("slack: channel message not addressed to the bot ignored (group_mode=addressed)")
        return None
    return Message(
        platform=PLATFORM,
        conversation=Conversation(channel, PLATFORM, kind),
        author=User(str(user), str(event.get("username") or "")),
        text=to_plain(text).strip(),
        id=ts,
        attachments=tuple(_attachment(f) for f in event.get("files") or () if isinstance(f, Mapping)),
        reply_to=str(thread_ts) if thread_ts and thread_ts != ts else None,
        thread_id=str(thread_ts) if thread_ts else None,
        addressed=addressed or rules.group_mode == "all",
        edited=edited,
        raw=body,
    )


def _attachment(file: Mapping[str, Any]) -> Attachment:
    mime = str(file.get("mimetype") or "")
    major = mime.split("/", 1)[0]
    kind = major if major in ("image", "audio", "video") else "file"
    size = file.get("size")
    return Attachment(
        kind=kind,
        # Downloading needs the bot token: the adapter adds the ``fetch`` (botkit.adapters.slack.files).
        # Slack Connect files from other workspaces may come without URLs; those cannot be downloaded.
        url=file.get("url_private_download") or file.get("url_private"),
        name=str(file.get("name") or ""),
        mime_type=mime,
        size=size if isinstance(size, int) else None,
        platform_id=str(file.get("id") or ""),
    )


@ignore_malformed("slack", none)
def command_to_message(payload: Mapping[str, Any]) -> Message | None:
    """A slash command as a ``/name args`` message.

    botkit command names are ``[A-Za-z0-9_]``, so Slack's dashes become underscores: ``/hello-world Hi``
    reaches ``@on_command("hello_world")`` with the argument ``Hi``.
    """
    command, channel, user = payload.get("command"), payload.get("channel_id"), payload.get("user_id")
    if not isinstance(command, str) or not command.startswith("/") or not channel or not user:
        log.warning("slack: malformed slash command payload; ignored")
        return None
    name = command[1:].replace("-", "_").replace(".", "_")
    text = f"/{name} {to_plain(str(payload.get('text') or ''))}".strip()
    kind: ConversationKind = "private" if payload.get("channel_name") == "directmessage" else "group"
    return Message(
        platform=PLATFORM,
        conversation=Conversation(str(channel), PLATFORM, kind, str(payload.get("channel_name") or "")),
        author=User(str(user), str(payload.get("user_name") or "")),
        text=text,
        id=str(payload.get("trigger_id") or ""),
        addressed=True,
        raw=payload,
    )


@ignore_malformed("slack", none)
def action_to_event(body: Mapping[str, Any]) -> Event | None:
    """A ``block_actions`` button press as ``Event(kind="button", data=value)``; None for link buttons."""
    actions = body.get("actions") or []
    action = actions[0] if actions and isinstance(actions[0], Mapping) else None
    user = body.get("user") if isinstance(body.get("user"), Mapping) else {}
    container = body.get("container") if isinstance(body.get("container"), Mapping) else {}
    channel_obj = body.get("channel") if isinstance(body.get("channel"), Mapping) else {}
    channel = (channel_obj or {}).get("id") or (container or {}).get("channel_id")
    if action is None or action.get("type") != "button" or not user or not user.get("id"):
        log.debug("slack: block action that is not a button press ignored")
        return None
    if "value" not in action:  # a link button: Slack opened the URL, there is nothing to route
        return None
    message = body.get("message") if isinstance(body.get("message"), Mapping) else {}
    thread = (message or {}).get("thread_ts")
    return Event(
        platform=PLATFORM,
        kind="button",
        conversation=Conversation(str(channel or ""), PLATFORM, conversation_kind(str(channel or ""), None)),
        author=User(str(user["id"]), str(user.get("username") or user.get("name") or "")),
        data=str(action.get("value") or ""),
        id=str(action.get("action_ts") or ""),
        message_id=str((container or {}).get("message_ts") or "") or None,
        thread_id=str(thread) if thread else None,
        raw=body,
    )
