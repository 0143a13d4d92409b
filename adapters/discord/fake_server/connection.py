"""One gateway WebSocket of the fake Discord, with its zlib-stream compressor.

Its own module so that the server's state can name the live connection without importing the gateway
mixin that builds on that state (which would be an import cycle).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from aiohttp import web


class _Connection:
    """One gateway WebSocket, with its zlib-stream compressor when the client asked for one."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.zlib = zlib.compressobj() if compress else None

    async def send(self, frame: dict[str, Any]) -> None:
        text = json.dumps(frame)
        if self.zlib is None:
            await self.ws.send_str(text)
        else:  # one frame = compressed bytes ending in a Z_SYNC_FLUSH marker (00 00 ff ff)
            await self.ws.send_bytes(self.zlib.compress(text.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH))
