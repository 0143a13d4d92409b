"""Random bytes, headers and bodies (signed and unsigned) against the three real webhook servers: never a
5xx, never an ERROR in the log, and each server still answers a valid event afterwards.

The servers run in a thread of their own (one event loop, started once for the module) so that hypothesis
drives plain blocking sockets from the test; the header and body timeouts are 0.2 s there, so a request
whose body never comes ends quickly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botkit.adapters import http_limits
from tests.adapters.webhook_targets import Target, request_bytes, webhook_targets

pytestmark = [pytest.mark.timeout(300)]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


class Servers:
    """The targets, their loop (in a thread), and every ERROR record logged meanwhile."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.targets: list[Target] = []
        self.errors: list[logging.LogRecord] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._serve(),))

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with webhook_targets() as targets:
            self.targets = targets
            self._ready.set()
            await self._stop.wait()
        # aiohttp leaves a refused body's lingering read (up to http_limits.LINGER_S) to run out on its own.
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(30), "the webhook servers did not start"

    def run(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(15)

    def stop(self) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self.loop.close()


class ErrorRecords(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(http_limits, "HEADER_TIMEOUT_S", 0.2)
        patch.setattr(http_limits, "BODY_TIMEOUT_S", 0.2)
        made = Servers()
        handler = ErrorRecords(made.errors)
        logging.getLogger().addHandler(handler)
        made.start()
    try:
        yield made
    finally:
        made.stop()
        logging.getLogger().removeHandler(handler)


def exchange(port: int, data: bytes) -> int | None:
    """Send ``data``; the status of the answer (None: closed, or nothing within 3 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        try:
            sock.sendall(data)
            line = sock.makefile("rb").readline(200)
        except OSError:  # reset, or timed out: no answer is not a 5xx
            return None
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


TOKEN = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1, max_size=20
)
HEADER_VALUE = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=60),
    st.sampled_from(["", "\u00e9", "\u00ff" * 3, "9" * 5000, "-1", "1e3", "v0=zz", "v0=", "\u0661\u0662"]),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json; charset=latin-1",
        "",
    ]
)


@st.composite
def requests(draw: st.DrawFn, target: Target) -> bytes:
    """A request for ``target``: raw noise, or HTTP with random parts, signed or not."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=400))
    method = draw(st.sampled_from(["POST"] * 8 + ["GET", "PUT"])) if draw(st.integers(0, 9)) else draw(TOKEN)
    path = draw(st.sampled_from([target.path] * 8 + ["/", target.path + "/x"]))
    kind = draw(st.sampled_from(["json", "bytes", "form"]))
    if kind == "json":
        body = json.dumps(draw(JSON_VALUE)).encode()
    elif kind == "form":
        body = b"payload=" + json.dumps(draw(JSON_VALUE)).encode()
    else:
        body = draw(st.binary(max_size=300))
    headers = dict(draw(st.lists(st.tuples(TOKEN, HEADER_VALUE), max_size=4)))
    headers["Content-Type"] = draw(CONTENT_TYPES)
    if draw(st.integers(0, 3)):
        auth = target.sign(body, None)
        for name in draw(st.lists(st.sampled_from(sorted(auth)), unique=True)):
            auth[name] = draw(HEADER_VALUE)  # a secret, signature or timestamp garbled
        headers.update(auth)
    if draw(st.integers(0, 4)) == 0:
        headers["Content-Length"] = draw(st.sampled_from(["-1", "abc", "99999999999", str(len(body) + 5)]))
    if method.isascii() and " " not in method:
        return request_bytes(path, headers, body, method=method)
    return draw(st.binary(max_size=100))


def fuzz(servers: Servers, index: int, data: st.DataObject) -> None:
    target = servers.targets[index]
    for _ in range(3):
        status = exchange(target.port, data.draw(requests(target)))
        assert status is None or status < 500, f"{target.name}: {status}"
    assert not servers.errors, [r.getMessage() for r in servers.errors]
    servers.run(target.answered())


@FUZZ
@given(data=st.data())
def test_telegram_webhook_survives_random_requests(servers: Servers, data: st.DataObject) -> None:
    fuzz(servers, 0, data)


@FUZZ
@given(data=st.data())
def test_slack_endpoint_survives_random_requests(servers: Servers, data: st.DataObject) -> None:
    fuzz(servers, 1, data)


@FUZZ
@given(data=st.data())
def test_discord_endpoint_survives_random_requests(servers: Servers, data: st.DataObject) -> None:
    fuzz(servers, 2, data)
