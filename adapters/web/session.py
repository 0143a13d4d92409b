"""One widget's WebSocket, from the handshake to the close: origin, identity, replay, then frames both ways.

The walk: the page's ``Origin`` is checked against ``web.allowed_origins``; the socket is accepted (with a
visitor cookie when the request brought no valid one); the first frame must be ``hello``, which names the
visitor and the last frame it saw; a refused origin or identity closes the socket with 1008 and a reason
the widget shows. Then one task writes the conversation's frames (the missed ones first) while this one
reads the visitor's frames and hands messages and button presses to the adapter. Frames the protocol
refuses get an ``error`` frame and the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from botkit.adapters.web.conversations import ConversationLog, Conversations, Frame, Listener
from botkit.adapters.web.identity import COOKIE, COOKIE_MAX_AGE_S, Identities, IdentityRefused, Visitor
from botkit.adapters.web.protocol import (
    POLICY_VIOLATION,
    FrameError,
    Hello,
    Press,
    Say,
    error_frame,
    parse_frame,
)

log = logging.getLogger("botkit.adapters.web")

HELLO_TIMEOUT_S = 10.0
PROTOCOL_ERROR = 1002
TRY_AGAIN_LATER = 1013  # RFC 6455: the socket fell too far behind; the widget reconnects and replays

#: ``(visitor, hello, frame, log, listener)``: what the adapter does with a message or a button press.
OnFrame = Callable[[Visitor, Hello, Say | Press, ConversationLog, Listener], Awaitable[None]]


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """Whether a page at ``origin`` may open the chat: one in ``allowed`` (``"*"``: any), or the server's own.

    Browsers always send ``Origin`` on a WebSocket handshake, and this check is what keeps another site's
    pages from opening a visitor's chat; a client that sends none is not a browser, and could have sent
    any origin it liked, so it is let through.
    """
    if origin is None or "*" in allowed:
        return True
    if origin.rstrip("/").lower() in {a.rstrip("/").lower() for a in allowed}:
        return True
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()  # the server's own pages


class ChatEndpoint:
    """The ``/ws`` endpoint: one :meth:`serve` per widget connection.

    Args:
        identities: signs and checks who a visitor is.
        conversations: the logs frames go into and are replayed from.
        allowed_origins: ``web.allowed_origins``.
        max_frame_bytes: ``web.max_frame_bytes``.
        on_frame: the adapter's handler of messages and presses.
    """

    def __init__(
        self,
        identities: Identities,
        conversations: Conversations,
        allowed_origins: Sequence[str],
        max_frame_bytes: int,
        on_frame: OnFrame,
    ) -> None:
        self.identities = identities
        self.conversations = conversations
        self.allowed_origins = list(allowed_origins)
        self.max_frame_bytes = max_frame_bytes
        self.on_frame = on_frame

    async def serve(self, ws: WebSocket) -> None:
        """Run one connection until either side closes it."""
        origin = ws.headers.get("origin")
        if not origin_allowed(origin, ws.headers.get("host"), self.allowed_origins):
            log.info("web: refused a chat from origin %s", origin)
            await ws.accept()  # a close before accepting reaches the page as a bare failure, without reason
            await ws.close(POLICY_VIOLATION, f"origin {(origin or '')[:80]} may not open this chat")
            return
        cookie = ws.cookies.get(COOKIE)
        headers: list[tuple[bytes, bytes]] = []
        if self.identities.visitor_of(cookie) is None:
            cookie = self.identities.token_for(self.identities.new_visitor_id())
            headers.append((b"set-cookie", _cookie_header(cookie, secure=ws.url.scheme == "wss").encode()))
        await ws.accept(headers=headers)
        try:
            hello = await asyncio.wait_for(self._hello(ws), HELLO_TIMEOUT_S)
        except TimeoutError:
            await ws.close(PROTOCOL_ERROR, "no hello frame within 10 seconds")  # not 1008: a widget retries
            return
        except WebSocketDisconnect:
            return
        try:
            visitor = self.identities.resolve(hello, cookie)
        except IdentityRefused as exc:
            log.info("web: %s", exc)
            await ws.close(POLICY_VIOLATION, str(exc)[:120])
            return
        await self._converse(ws, visitor, hello)

    async def _hello(self, ws: WebSocket) -> Hello:
        while True:
            raw = await _receive(ws)
            try:
                frame = parse_frame(raw, self.max_frame_bytes)
            except FrameError as exc:
                await ws.send_text(json.dumps(error_frame(exc)))
                continue
            if isinstance(frame, Hello):
                return frame
            refused = FrameError("hello_first", "send a hello frame first")
            await ws.send_text(json.dumps(error_frame(refused)))

    async def _converse(self, ws: WebSocket, visitor: Visitor, hello: Hello) -> None:
        conversation = self.conversations.get(visitor.conversation_id)
        listener = Listener()
        missed = conversation.missed(hello.last_seq, hello.epoch)
        replay = conversation.attach(listener, hello.last_seq, hello.epoch)
        # No await from attach() to here: a frame published meanwhile would overtake the replay.
        listener.put(_welcome(visitor, conversation, missed, self.max_frame_bytes))
        for numbered in replay:
            listener.put(numbered)
        writer = asyncio.create_task(_write(ws, listener))
        try:
            while True:
                raw = await _receive(ws)
                try:
                    received = parse_frame(raw, self.max_frame_bytes)
                    if isinstance(received, Hello):
                        raise FrameError("bad_frame", "hello was already sent on this connection")
                    await self.on_frame(visitor, hello, received, conversation, listener)
                except FrameError as exc:
                    listener.put(error_frame(exc))
        except WebSocketDisconnect:
            pass
        finally:
            conversation.detach(listener)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


def _welcome(visitor: Visitor, conversation: ConversationLog, missed: bool, max_frame_bytes: int) -> Frame:
    return {
        "type": "welcome",
        "visitor": visitor.token,
        "conversation": f"web:{visitor.conversation_id}",
        "epoch": conversation.epoch,
        "last_seq": conversation.seq,  # not "seq": the welcome itself is not numbered
        "typing": conversation.typing,
        "missed": missed,
        "max_frame_bytes": max_frame_bytes,
    }


async def _receive(ws: WebSocket) -> str | bytes | None:
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text: str | None = message.get("text")
    return text if text is not None else message.get("bytes")


async def _write(ws: WebSocket, listener: Listener) -> None:
    """Send the listener's frames in order; close the socket if it fell too far behind."""
    try:
        while (frame := await listener.get()) is not None:
            await ws.send_text(json.dumps(frame, ensure_ascii=False))
        if ws.application_state == WebSocketState.CONNECTED:
            await ws.close(TRY_AGAIN_LATER, "too far behind; reconnect to catch up")
    except (WebSocketDisconnect, RuntimeError, OSError):  # the socket went away under us
        return


def _cookie_header(token: str, *, secure: bool) -> str:
    # Over TLS the cookie may ride along on other sites' pages (SameSite=None needs Secure); over plain
    # HTTP only on the server's own pages. The widget's token covers the rest (see identity).
    same_site = "SameSite=None; Secure" if secure else "SameSite=Lax"
    return f"{COOKIE}={token}; Max-Age={COOKIE_MAX_AGE_S}; Path=/; HttpOnly; {same_site}"
