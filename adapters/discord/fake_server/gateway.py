"""The fake Discord's gateway WebSocket: HELLO, heartbeats, IDENTIFY, RESUME with replay, zlib-stream."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType, web

from botkit.adapters.discord.fake_server.connection import _Connection
from botkit.adapters.discord.fake_server.payloads import _PayloadsMixin


class _GatewayMixin(_PayloadsMixin):
    """The gateway side of ``FakeDiscordServer``."""

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send a DISPATCH (op 0) event; returns its sequence number. Buffered while no client is on."""
        self._seq += 1
        frame = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._frames.append(frame)
        if event == "INTERACTION_CREATE":
            self.register_interaction(data)
        if self._conn is not None:
            await self._send(self._conn, frame)
        return self._seq

    async def _send(self, conn: _Connection, frame: dict[str, Any]) -> None:
        try:
            await conn.send(frame)
        except (ConnectionError, RuntimeError):  # the client is reconnecting: RESUME will replay it
            pass

    async def send_frame(self, frame: dict[str, Any]) -> int | None:
        """Replay a captured gateway frame; a dispatch is renumbered to this session's next ``s``."""
        if frame.get("op") == 0:
            return await self.dispatch(str(frame["t"]), frame["d"])
        if self._conn is not None:
            await self._send(self._conn, frame)
        return None

    async def send_message(
        self, content: str, *, dm: bool = False, mention: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """Dispatch a MESSAGE_CREATE from a user; returns the message object."""
        message = self.make_message(content, dm=dm, mention=mention, **extra)
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        conn = _Connection(ws, request.query.get("compress") == "zlib-stream")
        self.connections.append(dict(request.query))
        try:
            await conn.send(self._hello)
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                self.received.append(payload)
                await self._on_client_payload(conn, payload)
        finally:
            self._sockets.discard(ws)
            if self._conn is conn:
                self._conn = None
                self._connected.clear()
        return ws

    async def _on_client_payload(self, conn: _Connection, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d") or {}
        if op == 1:  # heartbeat
            await conn.send({"op": 11, "d": None})
        elif op == 2:  # IDENTIFY: a fresh session
            if data.get("token") != self.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            self.identifies.append(data)
            self._session, self._seq, self._frames = f"fake-session-{next(self._sessions)}", 0, []
            self._conn = conn
            if self._ready is not None:
                self._session = str(self._ready.get("session_id", self._session))
            await self.dispatch("READY", self._ready_frame_data())
            if self._ready is None:
                await self.dispatch("GUILD_CREATE", self._guild())
            self._connected.set()
        elif op == 6:  # RESUME: send what the client missed, then RESUMED
            if data.get("token") != self.token or data.get("session_id") != self._session:
                await conn.send({"op": 9, "d": False})
                return
            self.resumes.append(data)
            self._conn = conn
            for frame in self._frames:
                if frame["s"] > (data.get("seq") or 0):
                    await conn.send(frame)
            await self.dispatch("RESUMED", {})
            self._connected.set()
