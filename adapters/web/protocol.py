"""The widget's WebSocket protocol: JSON text frames, one object each, checked before anything acts on them.

The visitor's side sends, in this order::

    {"type": "hello", "last_seq": 0, "epoch": "", "visitor": "<token>", "user_id": "42",
     "user_hash": "<hex>", "lang": "en"}                      # first, once; all fields but type optional
    {"type": "message", "client_id": "c-1", "text": "hi"}    # a message
    {"type": "button", "client_id": "c-2", "token": "b3"}    # a press of a reply's button

The server answers ``hello`` with ``welcome`` (the visitor token to keep, the conversation's ``epoch`` and
last ``seq``), replays what the visitor missed, and from then on sends sequenced frames (``message``,
``start``/``delta``/``end`` of a streamed reply; each has ``seq``) and unsequenced ones that are only true
now (``typing``, ``ack``, ``error``). A frame this module refuses becomes an ``error`` frame and the
connection stays open: only an identity or origin that is refused closes it (code 1008).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

POLICY_VIOLATION = 1008  # RFC 6455: the peer broke a policy (origin, identity); the reason says which
MAX_CLIENT_ID = 64  # characters of a client id; the widget's are far shorter
MAX_LANG = 35  # an IETF language tag's longest sensible length


class FrameError(ValueError):
    """A frame the server refuses; becomes ``{"type": "error", "code": ..., "message": ...}``.

    Attributes:
        code: a stable name the widget can translate ("too_large", "bad_json", "bad_frame", ...).
        message: what went wrong, in English, for the developer's console.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Hello:
    """Who the visitor is and what they have seen: the first frame of every connection."""

    last_seq: int = 0
    epoch: str = ""
    visitor: str = ""
    user_id: str | None = None
    user_hash: str | None = None
    lang: str | None = None


@dataclass(frozen=True)
class Say:
    """A message the visitor typed; ``client_id`` makes a resend after a reconnect recognisable."""

    client_id: str
    text: str


@dataclass(frozen=True)
class Press:
    """A press of the button the server named ``token`` (the button's data never leaves the server)."""

    client_id: str
    token: str


ClientFrame = Hello | Say | Press


def error_frame(error: FrameError) -> dict[str, Any]:
    """The frame telling the visitor's widget what was refused."""
    return {"type": "error", "code": error.code, "message": error.message}


def parse_frame(raw: str | bytes | None, max_bytes: int) -> ClientFrame:
    """The client frame in ``raw`` (one WebSocket message).

    Raises:
        FrameError: the frame is binary, larger than ``max_bytes``, not JSON, or not one of the frames
            above with fields of the right types.
    """
    if not isinstance(raw, str):
        raise FrameError("bad_frame", "send text frames holding JSON; binary frames are not accepted")
    size = len(raw.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise FrameError("too_large", f"frame of {size} bytes refused; the limit is {max_bytes} bytes")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FrameError("bad_json", f"frame is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame must be a JSON object")
    kind = data.get("type")
    if kind == "hello":
        return _hello(data)
    if kind == "message":
        text = _text(data, "text", 1_000_000)
        if not text.strip():
            raise FrameError("bad_frame", "message.text is empty")
        return Say(_client_id(data), text)
    if kind == "button":
        return Press(_client_id(data), _text(data, "token", 64))
    raise FrameError("bad_frame", f"unknown frame type {kind!r} (hello, message or button)")


def _hello(data: dict[str, Any]) -> Hello:
    last_seq = data.get("last_seq", 0)
    if not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0:
        raise FrameError("bad_frame", "hello.last_seq must be a whole number, 0 or more")
    return Hello(
        last_seq=last_seq,
        epoch=_optional(data, "epoch", 64) or "",
        visitor=_optional(data, "visitor", 256) or "",
        user_id=_optional(data, "user_id", 256),
        user_hash=_optional(data, "user_hash", 128),
        lang=_optional(data, "lang", MAX_LANG),
    )


def _client_id(data: dict[str, Any]) -> str:
    client_id = _text(data, "client_id", MAX_CLIENT_ID)
    if not client_id:
        raise FrameError("bad_frame", "client_id is empty")
    return client_id


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise FrameError("bad_frame", f"{data.get('type')}.{key} must be a string")
    if len(value) > limit:
        raise FrameError("bad_frame", f"{data.get('type')}.{key} is longer than {limit} characters")
    return value


def _optional(data: dict[str, Any], key: str, limit: int) -> str | None:
    if data.get(key) in (None, ""):
        return None
    return _text(data, key, limit)
