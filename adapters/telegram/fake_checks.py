"""What the fake Bot API refuses, as Telegram does: bad texts, markup and buttons, with Telegram's own words.

Kept apart from :mod:`botkit.adapters.telegram.fake_server` (which re-exports the entity checks) so that
the server module holds the methods and this one the rules they apply.
"""

from __future__ import annotations

import re
from typing import Any

TEXT_LIMIT = 4096
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a content and reply markup of the current message"
)


class ApiError(Exception):
    """Answer a call with ``{"ok": false, ...}`` (raised inside method handlers)."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def need_int(p: dict[str, Any], key: str) -> int:
    try:
        return int(p[key])
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, f"Bad Request: {key} is empty or invalid") from None


def check_text(p: dict[str, Any]) -> str:
    text = str(p.get("text") or "")
    mode = p.get("parse_mode")
    if mode == "MarkdownV2":
        error = check_markdown_v2(text)
    elif mode == "HTML":
        error = check_html(text)
    elif mode:
        error = f"unsupported parse_mode {mode!r}" if mode != "Markdown" else None
    else:
        error = None
    if error is not None:
        raise ApiError(400, f"Bad Request: can't parse entities: {error}")
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(text) > TEXT_LIMIT:
        raise ApiError(400, "Bad Request: message is too long")
    if p.get("reply_markup"):
        check_markup(p["reply_markup"])
    return text


def check_markup(markup: Any) -> Any:
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for button in (b for row in rows for b in row):
        if not button.get("text"):
            raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


# -- entity parsing, strict like Telegram's ---------------------------------------------------------------
_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_MARKERS = ("```", "`", "||", "__", "*", "_", "~")
_HTML_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
}
_HTML_TAGS |= {"blockquote", "tg-emoji"}
_HTML_TOKEN = re.compile(r"<(/?)([a-zA-Z-]*)[^>]*>|&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);|[<>&]")


def check_markdown_v2(text: str) -> str | None:
    """Why Telegram would refuse ``text`` with ``parse_mode="MarkdownV2"`` (None if it would accept it)."""
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        c = text[i]
        code = stack[-1][0] if stack and stack[-1][0] in ("`", "```") else None
        if c == "\\":
            i += 2
            continue
        if code is not None:  # inside code only the closing backticks mean anything
            if text.startswith(code, i):
                stack.pop()
                i += len(code)
            else:
                i += 1
            continue
        marker = next((m for m in _MD2_MARKERS if text.startswith(m, i)), None)
        if marker is not None:
            if stack and stack[-1][0] == marker:
                stack.pop()
            elif any(m == marker for m, _ in stack):
                return f"Can't find end of {marker} entity at byte offset {len(text[:i].encode())}"
            else:
                stack.append((marker, i))
            i += len(marker)
            continue
        if c == "[":
            stack.append(("[", i))
        elif c == "]" and stack and stack[-1][0] == "[":
            stack.pop()
            if text.startswith("(", i + 1):
                end = text.find(")", i + 2)
                if end < 0:
                    return f"Can't find end of a url at byte offset {len(text[:i].encode())}"
                i = end
        elif c == ">" and (i == 0 or text[i - 1] == "\n"):
            pass  # a block quote line
        elif c in _MD2_RESERVED:
            return f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
        i += 1
    if stack:
        marker, at = stack[-1]
        return f"Can't find end of the entity starting at byte offset {len(text[:at].encode())}"
    return None


def check_html(text: str) -> str | None:
    """Why Telegram would refuse ``text`` with ``parse_mode="HTML"`` (None if it would accept it)."""
    open_tags: list[str] = []
    for token in _HTML_TOKEN.finditer(text):
        closing, tag = token.group(1), token.group(2)
        if tag is None:
            if token.group(3) is None:
                return f"Unsupported start tag or unescaped '{token.group(0)}' at byte offset {token.start()}"
            continue
        tag = tag.lower()
        if tag not in _HTML_TAGS:
            return f'Unsupported start tag "{tag}" at byte offset {token.start()}'
        if not closing:
            open_tags.append(tag)
        elif not open_tags or open_tags.pop() != tag:
            return f'Unmatched end tag at byte offset {token.start()}, expected "</{tag}>"'
    if open_tags:
        return f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"'
    return None
