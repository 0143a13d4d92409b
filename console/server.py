"""Serving the console with uvicorn inside the bot's event loop, on a socket bound here: a port in use is
an ``OSError`` naming the address (not uvicorn's ``sys.exit``), and uvicorn installs no signal handlers,
because ``botkit run`` owns SIGINT and SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ConsoleServer:
    """Serves ``app`` on ``listen``:``port`` (0: a free port, then :attr:`port` says which) until stopped."""

    def __init__(self, app: Starlette, listen: str, port: int) -> None:
        self.app = app
        self.listen = listen
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

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
        family = socket.AF_INET6 if ":" in self.listen else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.listen, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno, f"console: cannot listen on {self.listen}:{self.port}: {exc.strerror}"
            ) from exc
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=3
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("console: the server stopped while starting")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop serving (open live-update streams end first: see ``ConsoleState.stopping``)."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = None
        self._task = None
