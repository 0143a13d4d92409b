"""The widget's HTTP side: a Starlette app (the script, its CSS, a demo page, shelved files and the chat's
WebSocket) served by uvicorn inside the adapter's event loop.

The assets are plain files in this package (``assets/``), read once at start: no build step and no CDN.
uvicorn gets a socket this module bound itself, so a port in use is an ``OSError`` naming the address
rather than uvicorn's ``sys.exit``, and it installs no signal handlers: ``botkit run`` owns SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import socket
from collections.abc import Generator
from importlib import resources
from urllib.parse import quote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from botkit.adapters.web.files import FileShelf
from botkit.adapters.web.session import ChatEndpoint

ASSETS = resources.files("botkit.adapters.web") / "assets"
# The demo page loads only this server's own script and connects only to its own socket.
DEMO_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'"
)


def read_asset(name: str) -> str:
    """The text of ``assets/<name>`` shipped with the package."""
    return (ASSETS / name).read_text(encoding="utf-8")


def build_app(endpoint: ChatEndpoint, files: FileShelf, bot_name: str) -> Starlette:
    """The Starlette app: ``/`` (demo), ``/widget.js``, ``/widget.css``, ``/files/...`` and ``/ws``."""
    script = read_asset("widget.js")
    style = read_asset("widget.css")
    demo = read_asset("demo.html").replace("{{bot}}", html.escape(bot_name))

    def asset(body: str, media_type: str) -> Response:
        # Any site may embed the widget, so the assets are public; a short cache keeps updates quick.
        headers = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
        return Response(body, media_type=media_type, headers=headers)

    async def widget_js(request: Request) -> Response:
        return asset(script, "text/javascript; charset=utf-8")

    async def widget_css(request: Request) -> Response:
        return asset(style, "text/css; charset=utf-8")

    async def demo_page(request: Request) -> Response:
        return HTMLResponse(demo, headers={"Content-Security-Policy": DEMO_CSP})

    async def shelved(request: Request) -> Response:
        found = files.get(request.path_params["token"])
        if found is None:
            return PlainTextResponse("This file is no longer available.", status_code=404)
        disposition = "inline" if found.inline else "attachment"
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(found.name, safe='')}",
            "Cache-Control": "private, max-age=3600",
        }
        media_type = found.mime_type if found.inline else "application/octet-stream"
        return Response(found.data, media_type=media_type, headers=headers)

    routes = [
        Route("/", demo_page),
        Route("/widget.js", widget_js),
        Route("/widget.css", widget_css),
        Route("/files/{token}/{name}", shelved),
        WebSocketRoute("/ws", endpoint.serve),
    ]
    return Starlette(routes=routes)


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process's owner decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebServer:
    """Serves ``app`` on ``listen``:``port`` until :meth:`stop`.

    Args:
        max_frame_bytes: frames up to 8 times this (and at least 64 KiB) reach the protocol, which answers
            an oversized one with an error frame; larger ones are cut off by uvicorn (close code 1009).
    """

    def __init__(self, app: Starlette, listen: str, port: int, max_frame_bytes: int) -> None:
        self._app = app
        self._listen = listen
        self._port = port
        self._ws_max = max(8 * max_frame_bytes, 1 << 16)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = port

    async def start(self) -> None:
        """Bind and begin serving; returns once connections are accepted.

        Raises:
            OSError: the address cannot be bound (in use, or not this machine's).
        """
        family = socket.AF_INET6 if ":" in self._listen else socket.AF_INET
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without it
        # Nagle's algorithm holds each small frame after the first for the client's delayed ACK (40 ms).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._listen, self._port))
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno, f"web: cannot listen on {self._listen}:{self._port}: {exc.strerror}"
            ) from exc
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            log_config=None,  # botkit's logging stays as it is
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",  # uvicorn's older "websockets" protocol is deprecated (and warns)
            ws_max_size=self._ws_max,
            timeout_graceful_shutdown=5,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise RuntimeError("web: the server stopped while starting")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Close every socket (code 1012: the widget reconnects later) and stop serving."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = None
        self._task = None
