"""Serving the console with uvicorn inside the bot's event loop (``botkit.asgi_server``): on a socket bound
here, so a port in use is an ``OSError`` naming the address (not uvicorn's ``sys.exit``); without signal
handlers, because ``botkit run`` owns SIGINT and SIGTERM; closing connections whose request head is late."""

from __future__ import annotations

from starlette.applications import Starlette

from botkit.asgi_server import AsgiServer, bind_socket


class ConsoleServer:
    """Serves ``app`` on ``listen``:``port`` (0: a free port, then :attr:`port` says which) until stopped."""

    def __init__(self, app: Starlette, listen: str, port: int) -> None:
        self.app = app
        self.listen = listen
        self.port = port
        self._server = AsgiServer("console")

    @property
    def url(self) -> str:
        """The console's address, for the log and the tests."""
        host = f"[{self.listen}]" if ":" in self.listen else self.listen
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        """Bind and serve; returns once connections are accepted.

        Raises:
            OSError: the address cannot be bound (in use, or not this machine's).
        """
        sock = bind_socket(self.listen, self.port, "console")
        self.port = int(sock.getsockname()[1])
        await self._server.start(self.app, sock, timeout_graceful_shutdown=3)

    async def stop(self) -> None:
        """Stop serving (open live-update streams end first: see ``ConsoleState.stopping``)."""
        await self._server.stop()
