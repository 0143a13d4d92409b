"""What the web tests share: a shop bot whose replies stream, carry buttons and files, and a WebSocket client
that speaks the widget's protocol (the websockets library, as a real client on a real socket)."""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect

from botkit.context import Context
from botkit.message import Attachment, Button
from botkit.platform_settings import WebSettings
from botkit.plugin import Plugin, on_event, on_message

SECRET = "test-secret-0123456789abcdef"
IDENTITY_SECRET = "site-identity-secret-0123456789"
STORY = ["Once ", "upon ", "a ", "time."]


def make_png(width: int, height: int) -> bytes:
    """A small real PNG (a tea-coloured gradient), so the browser test can see an image load."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((150 + x * 90 // width, 90 + y * 80 // height, 40)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = make_png(160, 90)

Frame = dict[str, Any]


class ShopPlugin(Plugin):
    """Replies the tests look for. ``gate`` holds a story between two words until the test lets it go."""

    def __init__(self) -> None:
        self.handled: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    @on_message(r"^story")
    async def story(self, ctx: Context) -> None:
        self.handled.append(ctx.text)

        async def words() -> AsyncIterator[str]:
            for i, word in enumerate(STORY):
                if i == 2:
                    await self.gate.wait()
                await asyncio.sleep(0.05)
                yield word

        await ctx.stream(words())

    @on_message(r"^ponder")
    async def ponder(self, ctx: Context) -> None:
        self.handled.append(ctx.text)
        await self.gate.wait()
        await ctx.reply("Done pondering.")

    @on_message(r"^menu$")
    async def menu(self, ctx: Context) -> None:
        self.handled.append(ctx.text)
        drinks = [Button("Tea", "drink:tea"), Button("Coffee", "drink:coffee")]
        links = [Button("Docs", url="https://example.com/docs"), Button("Sneaky", url="javascript:alert(1)")]
        await ctx.reply("What would you like?", buttons=[drinks, links])

    @on_message(r"^picture$")
    async def picture(self, ctx: Context) -> None:
        self.handled.append(ctx.text)
        files = [
            Attachment("image", name="tea.png", mime_type="image/png", data=PNG),
            Attachment("file", name="notes.svg", mime_type="image/svg+xml", data=b"<svg onload='x()'/>"),
        ]
        await ctx.reply("Here you are", files=files)

    @on_event("button")
    async def pressed(self, ctx: Context) -> None:
        assert ctx.event is not None
        self.handled.append(f"button:{ctx.event.data}")
        await ctx.reply(f"You chose {ctx.event.data}")

    @on_message(priority=900)
    async def echo(self, ctx: Context) -> None:
        self.handled.append(ctx.text)
        await ctx.reply(f"You said: {ctx.text}")


def web_settings(**overrides: Any) -> WebSettings:
    """The ``[web]`` section for a test server on a free port."""
    values: dict[str, Any] = {"port": 0, "secret": SecretStr(SECRET), "max_frame_bytes": 1024}
    return WebSettings(**{**values, **overrides})


class ChatClient:
    """A widget's side of one connection: hello, send frames, wait for the frames that matter."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.frames: list[Frame] = []
        self._sent = 0

    @classmethod
    async def open(cls, url: str, *, origin: str | None = None, cookie: str | None = None) -> ChatClient:
        headers = {"Cookie": cookie} if cookie else None
        socket = await connect(url, origin=origin, additional_headers=headers)
        return cls(socket)

    async def hello(self, **fields: Any) -> Frame:
        """Send hello; returns the welcome frame."""
        await self.send({"type": "hello", **fields})
        return await self.wait(lambda f: f["type"] == "welcome")

    async def send(self, frame: Frame) -> None:
        await self.socket.send(json.dumps(frame))

    async def say(self, text: str, client_id: str | None = None) -> str:
        self._sent += 1
        client_id = client_id or f"c{self._sent}"
        await self.send({"type": "message", "client_id": client_id, "text": text})
        return client_id

    async def wait(self, match: Callable[[Frame], bool]) -> Frame:
        """The next frame (kept in :attr:`frames`) that ``match`` accepts, within 10 seconds."""
        async with asyncio.timeout(10):
            while True:
                frame = json.loads(await self.socket.recv())
                self.frames.append(frame)
                if match(frame):
                    return frame

    async def close(self) -> None:
        await self.socket.close()

    @property
    def last_seq(self) -> int:
        return max((f["seq"] for f in self.frames if "seq" in f), default=0)


def bot_text(frame: Frame) -> str | None:
    """The whole text of a bot message or the end of a streamed one; None for other frames."""
    if frame["type"] == "message" and frame["from"] == "bot":
        return str(frame["text"])
    if frame["type"] == "end":
        return str(frame["text"])
    return None
