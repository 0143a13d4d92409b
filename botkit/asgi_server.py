"""uvicorn serving an ASGI app inside the caller's event loop, on a socket the caller bound.

Shared by the web widget's server and the console (neither may import the other, so it lives in the core).
Binding the socket here rather than in uvicorn makes a port in use an ``OSError`` naming the address, not
uvicorn's ``sys.exit``; uvicorn installs no signal handlers (``botkit run`` owns SIGINT and SIGTERM) and no
logging configuration (botkit's stays as it is), and writes no access log.

Slow clients: uvicorn's h11 protocol has no timer on a request head or body. Its keep-alive timer runs only
after a response and stops at the first byte, so a client that trickles a head one byte at a time, or
connects and sends nothing, holds its connection for ever. :func:`head_timeout_protocol` adds two timers,
the constants of the webhook servers (``botkit.adapters.http_limits``), which the core may not import:

- a connection whose request head is not complete within :data:`HEAD_TIMEOUT_S` of connecting or of its last
  response is closed (with a 408 when part of a head came, silently when nothing did: browsers open spare
  connections);
- a request whose body is not complete within :data:`BODY_TIMEOUT_S` of its head is answered 408 (when no
  response has begun) and its connection closed; the app's ``receive()`` then says ``http.disconnect``.
  While uvicorn has stopped reading because the app has not consumed what came, the wait is the app's and
  the timer starts again.

Neither timer is extended by each byte, and both stop once the request is complete: a slow handler, a long
response (the console's event stream) and a WebSocket (the widget's chat) are never cut by them. A slow
client costs a socket until then, never the event loop.

Liveness: ``GET /healthz`` is answered 200 ``ok`` by :class:`AsgiServer` itself, before the app, from the
event loop that runs the bot (``botkit health --live`` and the Kubernetes liveness probe ask it).

Load: HTTP requests are answered 503 while :data:`MAX_CONCURRENCY` connections (open WebSockets included)
or requests in progress are open, so a flood is refused before it exhausts file descriptors and memory.

uvicorn is imported only when a server starts: it comes with the ``web`` extra, the core does not need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)

HEAD_TIMEOUT_S = 10.0  # a request head must be complete this long after connecting or the last response
BODY_TIMEOUT_S = 10.0  # and its body this long after the head (as http_limits.BODY_TIMEOUT_S)
LINGER_S = 2.0  # after a 408, drop what the client still sends for this long, then close (as http_limits)
HEALTH_PATH = "/healthz"  # answered 200 by the server itself: the event loop answers
MAX_CONCURRENCY = 4096  # connections (WebSockets included) or requests in progress before a request gets 503

Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Scope]], Callable[[Scope], Awaitable[None]]], Awaitable[None]
]


def bind_socket(listen: str, port: int, owner: str) -> socket.socket:
    """A TCP socket bound to ``listen``:``port`` (0: a free port), not yet listening.

    Args:
        owner: the server's name for the error message (``"web"``, ``"console"``).

    Raises:
        OSError: the address cannot be bound (in use, or not this machine's), naming it.
    """
    family = socket.AF_INET6 if ":" in listen else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # Nagle's algorithm holds each small write after the first for the client's delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((listen, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"{owner}: cannot listen on {listen}:{port}: {exc.strerror}") from exc
    return sock


def head_timeout_protocol(
    timeout_s: float, owner: str, body_timeout_s: float = BODY_TIMEOUT_S
) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head or body is late (see the module's
    text).

    Args:
        timeout_s: seconds from connecting, or from the last response, to a complete request head.
        owner: the server's name for the log.
        body_timeout_s: seconds from a complete head to a complete body.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimeoutProtocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None
        _body_timer: asyncio.TimerHandle | None = None
        _lingering = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._watch_head()

        def data_received(self, data: bytes) -> None:
            if self._lingering:  # answered and half-closed: what still arrives is dropped
                return
            super().data_received(data)
            self._watch_head()
            self._watch_body()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # may start the next request, already buffered
            self._watch_head()
            self._watch_body()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            self._stop_body_timer()
            super().connection_lost(exc)

        def _watch_head(self) -> None:
            # Waiting for a head: both sides idle, and still HTTP (an upgrade hands the transport on).
            waiting = (
                not self.transport.is_closing()
                and self.transport.get_protocol() is self
                and self.conn.our_state is h11.IDLE
                and self.conn.their_state is h11.IDLE
            )
            if not waiting:
                self._stop_head_timer()
            elif self._head_timer is None:  # started once per head, not again for each byte
                self._head_timer = self.loop.call_later(timeout_s, self._head_timed_out)

        def _stop_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            received = len(self.conn.trailing_data[0])
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            if not received:
                log.debug("%s: closed an idle connection from %s", owner, client)
                self.transport.close()
                return
            log.warning(
                "%s: closed a connection from %s: its request head was not complete within %g s (%d bytes)",
                owner,
                client,
                timeout_s,
                received,
            )
            self._answer_408(f"request head not received within {timeout_s:g} s\n".encode())
            self._close_lingering()

        def _watch_body(self) -> None:
            receiving = (
                not self.transport.is_closing()
                and self.transport.get_protocol() is self
                and self.cycle is not None
                and self.conn.their_state is h11.SEND_BODY
            )
            if not receiving:
                self._stop_body_timer()
            elif self._body_timer is None:  # once per body, not again for each chunk
                self._body_timer = self.loop.call_later(body_timeout_s, self._body_timed_out)

        def _stop_body_timer(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None

        def _body_timed_out(self) -> None:
            self._body_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
                return
            if self.flow.read_paused:  # uvicorn waits for the app to take the body: not the client's fault
                self._watch_body()
                return
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            log.warning(
                "%s: closed a connection from %s: its request body was not complete within %g s",
                owner,
                client,
                body_timeout_s,
            )
            cycle = self.cycle
            if cycle is not None:
                cycle.disconnected = True  # the app's send() is dropped, its receive() says disconnect
                cycle.message_event.set()
            if self.conn.our_state is h11.SEND_RESPONSE:  # no response begun: say why
                text = f"body not received within {body_timeout_s:g} s\n".encode()
                self._answer_408(text)
            self._close_lingering()

        def _close_lingering(self) -> None:
            # Closing a socket while the client still sends makes the kernel answer with a reset, which
            # can discard the 408 before the client reads it. So: send FIN after the answer, drop what
            # still arrives for LINGER_S (the webhook servers' aiohttp lingering time), then close.
            self._lingering = True
            self._stop_head_timer()
            self._stop_body_timer()
            if self.transport.can_write_eof():
                with contextlib.suppress(OSError, RuntimeError):
                    self.transport.write_eof()
                self.loop.call_later(LINGER_S, self.transport.close)
            else:
                self.transport.close()

        def _answer_408(self, text: bytes) -> None:
            with contextlib.suppress(h11.LocalProtocolError):
                headers = [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(text)).encode()),
                    (b"connection", b"close"),
                ]
                answer = h11.Response(status_code=408, headers=headers, reason=b"Request Timeout")
                for event in (answer, h11.Data(data=text), h11.EndOfMessage()):
                    self.transport.write(self.conn.send(event) or b"")

    return HeadTimeoutProtocol


def answering_health(app: ASGIApp) -> ASGIApp:
    """``app`` with ``GET``/``HEAD`` :data:`HEALTH_PATH` answered 200 ``ok`` before it: an answer proves
    the event loop that serves it (and runs the bot) is not stuck, and needs nothing else."""

    async def serve(
        scope: Scope, receive: Callable[[], Awaitable[Scope]], send: Callable[[Scope], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http" or scope["path"] != HEALTH_PATH or scope["method"] not in ("GET", "HEAD"):
            await app(scope, receive, send)
            return
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok\n"})

    return serve


def _quiet_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server without signal handlers: the process's owner decides when to stop."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    return QuietServer(config)


class AsgiServer:
    """One app served by uvicorn in this event loop, from :meth:`start` until :meth:`stop`.

    :data:`HEAD_TIMEOUT_S`, :data:`BODY_TIMEOUT_S` and :data:`MAX_CONCURRENCY` are read here, at
    construction (tests patch them).

    Args:
        owner: the server's name in messages (``"web"``, ``"console"``).
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.head_timeout_s = HEAD_TIMEOUT_S
        self.body_timeout_s = BODY_TIMEOUT_S
        self.max_concurrency = MAX_CONCURRENCY
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, app: ASGIApp, sock: socket.socket, **uvicorn_options: Any) -> None:
        """Serve ``app`` on ``sock`` (bound, e.g. by :func:`bind_socket`); returns once connections are
        accepted.

        Args:
            uvicorn_options: more ``uvicorn.Config`` options (``ws``, ``timeout_graceful_shutdown``...).

        Raises:
            RuntimeError: the server stopped while starting (or whatever stopped it).
        """
        import uvicorn

        options: dict[str, Any] = {
            "log_config": None,  # botkit's logging stays as it is
            "access_log": False,
            "lifespan": "off",
            "http": head_timeout_protocol(self.head_timeout_s, self.owner, self.body_timeout_s),
            "limit_concurrency": self.max_concurrency,
        }
        config = uvicorn.Config(answering_health(app), **{**options, **uvicorn_options})
        self._server = _quiet_server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise RuntimeError(f"{self.owner}: the server stopped while starting")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop accepting, close the connections (within the graceful shutdown's time) and stop serving;
        harmless when not started."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = None
        self._task = None
