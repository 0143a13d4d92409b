"""The widget's HTTP side: a Starlette app (the script, its CSS, a demo page, shelved files and the chat's
WebSocket) served by uvicorn inside the adapter's event loop.

The assets are plain files in this package (``assets/``), read once at start: no build step and no CDN.
``botkit.asgi_server`` runs uvicorn: on a socket bound here (a port in use is an ``OSError`` naming the
address), without signal handlers (``botkit run`` owns SIGINT/SIGTERM), closing connections whose request
head is late and answering 503 past its connection limit; WebSockets are not cut by the head timeout.
"""

from __future__ import annotations

import html
from importlib import resources
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from botkit.adapters.web.files import FileShelf
from botkit.adapters.web.session import ChatEndpoint
from botkit.asgi_server import AsgiServer, bind_socket

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


class WebServer:
    """Serves ``app`` on ``listen``:``port`` until :meth:`stop` (slow clients, load: ``botkit.asgi_server``).

    Args:
        max_frame_bytes: frames up to 8 times this (and at least 64 KiB) reach the protocol, which answers
            an oversized one with an error frame; larger ones are cut off by uvicorn (close code 1009).
    """

    def __init__(self, app: Starlette, listen: str, port: int, max_frame_bytes: int) -> None:
        self._app = app
        self._listen = listen
        self._port = port
        self._ws_max = max(8 * max_frame_bytes, 1 << 16)
        self._server = AsgiServer("web")
        self.port = port

    async def start(self) -> None:
        """Bind and begin serving; returns once connections are accepted.

        Raises:
            OSError: the address cannot be bound (in use, or not this machine's).
        """
        sock = bind_socket(self._listen, self._port, "web")
        self.port = int(sock.getsockname()[1])
        await self._server.start(
            self._app,
            sock,
            ws="websockets-sansio",  # uvicorn's older "websockets" protocol is deprecated (and warns)
            ws_max_size=self._ws_max,
            timeout_graceful_shutdown=5,
        )

    async def stop(self) -> None:
        """Close every socket (code 1012: the widget reconnects later) and stop serving."""
        await self._server.stop()
