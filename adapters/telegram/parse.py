"""Telegram updates (raw Bot API JSON) to botkit messages and events.

The updates are read as plain dicts, not as python-telegram-bot objects: PTB's constructors insist on every
field the current Bot API marks as required (``from.is_bot``, ``chat_instance``, ``sticker.type``...), so an
old or unusual update raises there, and while polling one such update would hold back its whole batch.
Reading dicts with defaults keeps the adapter running on anything that carries the few fields a chat bot
needs; what lacks even those becomes a :class:`Skip` with a reason for the log.

Entity offsets are in UTF-16 code units (an emoji outside the BMP counts two), hence the helpers below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botkit.adapters.malformed import ignore_malformed
from botkit.message import Attachment, Conversation, ConversationKind, Event, Incoming, Message, User

PLATFORM = "telegram"
#: The account Telegram shows as the sender of anonymous group admins' messages.
GROUP_ANONYMOUS_BOT_ID = 1087968824
_CHAT_KINDS: dict[str, ConversationKind] = {
    "private": "private",
    "group": "group",
    "supergroup": "group",
    "channel": "channel",
}
_MEMBER_STATUSES_IN = {"member", "administrator", "creator", "restricted"}
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]+(?:@(?P<bot>[A-Za-z0-9_]+))?(?:\s|$)")


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is (from ``getMe``): needed to tell mentions, replies and commands meant for it."""

    id: int
    username: str


@dataclass(frozen=True)
class ParseOptions:
    """The parts of the Telegram settings that change how updates are read."""

    group_mode: Literal["addressed", "all"] = "addressed"
    edited_messages: Literal["ignore", "handle"] = "ignore"


@dataclass(frozen=True)
class Skip:
    """An update that is deliberately not handed to the bot, and why (for the log)."""

    reason: str


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The part of ``text`` that a Telegram entity (``offset``, ``length`` in UTF-16 units) covers."""
    raw = text.encode("utf-16-le")
    return raw[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="replace")


def user_name(user: Mapping[str, Any]) -> str:
    """Display name: the username, else first and last name (either may be absent)."""
    if user.get("username"):
        return str(user["username"])
    return " ".join(str(user[k]) for k in ("first_name", "last_name") if user.get(k)).strip()


@ignore_malformed("telegram", Skip, what="update")
def parse_update(update: Mapping[str, Any], me: BotIdentity, options: ParseOptions) -> Incoming | Skip:
    """Turn one raw update into a botkit message or event, or a :class:`Skip` saying why not.

    Never raises: an update missing the fields it needs is a Skip("malformed ...").
    """
    return _parse(update, me, options)


def _parse(update: Mapping[str, Any], me: BotIdentity, options: ParseOptions) -> Incoming | Skip:
    if "message" in update:
        return _message(update, update["message"], me, options, edited=False)
    if "edited_message" in update:
        if options.edited_messages == "ignore":
            return Skip("edited message (edited_messages = ignore)")
        return _message(update, update["edited_message"], me, options, edited=True)
    if "callback_query" in update:
        return _button(update, update["callback_query"])
    if "my_chat_member" in update or "chat_member" in update:
        return _member_change(update, update.get("my_chat_member") or update["chat_member"])
    if "channel_post" in update or "edited_channel_post" in update:
        return Skip("channel post (no sender to answer)")
    kinds = sorted(k for k in update if k != "update_id")
    return Skip(f"unsupported update type {kinds}")


def _conversation(chat: Mapping[str, Any]) -> Conversation:
    kind = _CHAT_KINDS.get(str(chat.get("type", "private")), "group")
    title = str(chat.get("title") or user_name(chat))
    return Conversation(id=str(chat["id"]), platform=PLATFORM, kind=kind, title=title)


def _user(user: Mapping[str, Any]) -> User:
    language = user.get("language_code")  # the IETF tag of the user's app language, when Telegram tells
    return User(
        id=str(user["id"]),
        name=user_name(user),
        is_bot=bool(user.get("is_bot", False)),
        language=str(language) if language else None,
    )


def _author(msg: Mapping[str, Any]) -> User:
    # Anonymous admins and channels posting into groups come as sender_chat; "from" is then a placeholder.
    sender_chat = msg.get("sender_chat")
    if sender_chat:
        return User(id=str(sender_chat["id"]), name=str(sender_chat.get("title") or ""), is_bot=False)
    return _user(msg["from"])


def _message(
    update: Mapping[str, Any],
    msg: Mapping[str, Any],
    me: BotIdentity,
    options: ParseOptions,
    *,
    edited: bool,
) -> Incoming | Skip:
    chat = msg["chat"]
    conversation = _conversation(chat)
    if conversation.kind == "channel":
        return Skip("channel message (no sender to answer)")
    if "from" not in msg and "sender_chat" not in msg:
        return Skip("message without a sender")
    if msg.get("from", {}).get("id") == me.id:
        return Skip("the bot's own message")
    author = _author(msg)
    thread_id = str(msg["message_thread_id"]) if msg.get("message_thread_id") is not None else None
    service = _service_event(update, msg, conversation, thread_id)
    if service is not None:
        return service
    text = str(msg.get("text") if msg.get("text") is not None else msg.get("caption") or "")
    entities = msg.get("entities") if "text" in msg else msg.get("caption_entities")
    attachments = _attachments(msg)
    if not text.strip() and not attachments:
        return Skip("message with neither text nor a known attachment (service or unsupported content)")
    forward_from = _forward_origin(msg)
    if forward_from is not None:
        # A forward is something the user shows the bot, not something they say: a forwarded "/start"
        # must not run the command, and the model should know whose words these are.
        text = f"[forwarded from {forward_from}]\n{text}" if text else text
        addressed, foreign = conversation.kind == "private", False
    else:
        addressed, text, foreign = _addressing(text, entities or [], msg, me, conversation.kind)
    if foreign:
        return Skip("command addressed to another bot")
    if options.group_mode == "all":
        addressed = True
    reply_to = msg.get("reply_to_message")
    return Message(
        platform=PLATFORM,
        conversation=conversation,
        author=author,
        text=text,
        id=str(msg["message_id"]),
        attachments=tuple(attachments),
        reply_to=str(reply_to["message_id"]) if reply_to else None,
        thread_id=thread_id,
        addressed=addressed,
        edited=edited,
        raw=update,
    )


def _addressing(
    text: str, entities: list[Mapping[str, Any]], msg: Mapping[str, Any], me: BotIdentity, kind: str
) -> tuple[bool, str, bool]:
    """(addressed, text without a leading bot mention, is a command for another bot)."""
    command = _COMMAND_RE.match(text)
    if command is not None:
        target = command.group("bot")
        foreign = target is not None and target.lower() != me.username.lower()
        return not foreign, text, foreign
    mentioned = False
    for entity in sorted(entities, key=lambda e: int(e.get("offset", 0))):
        span = utf16_slice(text, int(entity["offset"]), int(entity["length"]))
        if entity.get("type") == "mention" and span.lower() == f"@{me.username}".lower():
            mentioned = True
        elif entity.get("type") == "text_mention" and entity.get("user", {}).get("id") == me.id:
            mentioned = True
            if int(entity["offset"]) == 0 and text.startswith(span):
                text = text[len(span) :].lstrip(" ,:\n")
    # Old clients and forwarded texts may lack entities: a plain "@name" still counts.
    at_name = re.compile(rf"(?<![\w@])@{re.escape(me.username)}\b", re.IGNORECASE) if me.username else None
    if at_name is not None and at_name.search(text):
        mentioned = True
        lead = at_name.match(text.lstrip())
        if lead is not None:
            text = text.lstrip()[lead.end() :].lstrip(" ,:\n")
    replied_to = (msg.get("reply_to_message") or {}).get("from") or {}
    to_me = replied_to.get("id") == me.id
    return kind == "private" or mentioned or to_me, text, False


def _forward_origin(msg: Mapping[str, Any]) -> str | None:
    """Who a forwarded message came from (a name, possibly "unknown"), or None if it is no forward."""
    origin = msg.get("forward_origin")
    if origin:
        for key in ("sender_user", "sender_chat", "chat"):
            if origin.get(key):
                return user_name(origin[key]) or str(origin[key].get("title") or "unknown")
        return str(origin.get("sender_user_name") or "unknown")
    if msg.get("forward_from"):
        return user_name(msg["forward_from"]) or "unknown"
    if msg.get("forward_from_chat"):
        return str(msg["forward_from_chat"].get("title") or "unknown")
    if msg.get("forward_sender_name") or msg.get("forward_date"):
        return str(msg.get("forward_sender_name") or "unknown")
    return None


def _service_event(
    update: Mapping[str, Any], msg: Mapping[str, Any], conversation: Conversation, thread_id: str | None
) -> Event | None:
    """Join/leave service messages become events; they are never user utterances."""
    if msg.get("new_chat_members"):
        kind, ids = "join", [str(m["id"]) for m in msg["new_chat_members"]]
    elif msg.get("left_chat_member"):
        kind, ids = "leave", [str(msg["left_chat_member"]["id"])]
    else:
        return None
    return Event(
        platform=PLATFORM,
        kind=kind,
        conversation=conversation,
        author=_author(msg),
        data=" ".join(ids),
        id=str(update.get("update_id", "")),
        message_id=str(msg["message_id"]),
        thread_id=thread_id,
        raw=update,
    )


def _member_change(update: Mapping[str, Any], change: Mapping[str, Any]) -> Event:
    new = change["new_chat_member"]
    status = str(new.get("status", ""))
    return Event(
        platform=PLATFORM,
        kind="join" if status in _MEMBER_STATUSES_IN else "leave",
        conversation=_conversation(change["chat"]),
        author=_user(new["user"]),
        data=status,
        id=str(update.get("update_id", "")),
        raw=update,
    )


def _button(update: Mapping[str, Any], query: Mapping[str, Any]) -> Event:
    message = query.get("message")
    presser = _user(query["from"])
    if message:
        conversation = _conversation(message["chat"])
        message_id: str | None = str(message["message_id"])
        thread = message.get("message_thread_id")
    else:
        # A button under an inline-mode message: no chat the bot can post in, only that message to edit.
        conversation = Conversation(id=f"inline:{query['inline_message_id']}", platform=PLATFORM)
        message_id, thread = None, None
    return Event(
        platform=PLATFORM,
        kind="button",
        conversation=conversation,
        author=presser,
        data=str(query.get("data") or ""),
        id=str(query["id"]),
        message_id=message_id,
        thread_id=str(thread) if thread is not None else None,
        raw=update,
    )


def _largest(sizes: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    return max(sizes, key=lambda s: (int(s.get("width", 0)) * int(s.get("height", 0)), s.get("file_size", 0)))


def _attachments(msg: Mapping[str, Any]) -> list[Attachment]:
    found: list[Attachment] = []
    if msg.get("photo"):
        best = _largest(msg["photo"])
        found.append(_file("image", best, mime="image/jpeg"))
    for key, kind in (
        ("animation", "video"),
        ("video", "video"),
        ("video_note", "video"),
        ("voice", "audio"),
        ("audio", "audio"),
        ("sticker", "sticker"),
    ):
        if msg.get(key):
            found.append(_file(kind, msg[key]))
    # An animation also arrives as a document; count it once.
    if msg.get("document") and not msg.get("animation"):
        found.append(_file("file", msg["document"]))
    for key in ("contact", "location", "venue", "poll", "dice", "story", "game"):
        if msg.get(key):
            found.append(Attachment(kind=key))
    return found


def _file(kind: str, item: Mapping[str, Any], mime: str = "") -> Attachment:
    size = item.get("file_size")
    return Attachment(
        kind=kind,
        name=str(item.get("file_name") or ""),
        mime_type=str(item.get("mime_type") or mime),
        size=int(size) if size is not None else None,
        platform_id=str(item.get("file_id") or ""),
    )
