"""Slow request bodies on ``botkit.asgi_server`` (the widget's and the console's uvicorn), with a real client
trickling bytes over a socket: a body not complete within the body timeout is answered 408 and closed while
other requests are served; bodies in time, long streamed responses and quiet WebSockets are untouched; and
``/healthz`` is answered by the server itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from botkit import asgi_server
from botkit.asgi_server import AsgiServer, bind_socket

BODY_TIMEOUT_S = 0.5
# How late a close may come on a busy test machine; the real timeout (10 s) is far above this bound.
SLACK_S = 3.0


@dataclass
class Recorder:
    """What the app saw: the messages its ``receive()`` returned, per request path."""

    received: dict[str, list[str]] = field(default_factory=dict)


def make_app(seen: Recorder) -> Any:
    """``POST /echo`` reads the whole body and says its size, ``POST /late`` too after a wait;
    ``POST /ignore`` answers without reading it; ``GET /stream`` streams 6 pieces over 3 body timeouts;
    ``/ws`` echoes; ``/healthz`` would say "app"."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            while (message := await receive())["type"] == "websocket.receive":
                await send({"type": "websocket.send", "text": "echo: " + message["text"]})
            return
        path = scope["path"]
        kinds = seen.received.setdefault(path, [])
        size = 0
        if path == "/late":  # busy before it reads: uvicorn stops reading past 64 KiB meanwhile
            await asyncio.sleep(BODY_TIMEOUT_S * 2.5)
        if path in ("/echo", "/late"):
            while True:
                message = await receive()
                kinds.append(message["type"])
                if message["type"] == "http.disconnect":
                    return
                size += len(message["body"])
                if not message["more_body"]:
                    break
        text = f"got {size} bytes" if path in ("/echo", "/late") else "app"
        headers = [(b"content-type", b"text/plain")]
        if path != "/stream":
            headers.append((b"content-length", str(len(text)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if path == "/stream":
            for piece in range(6):
                await send({"type": "http.response.body", "body": b"piece %d\n" % piece, "more_body": True})
                await asyncio.sleep(BODY_TIMEOUT_S / 2)
        await send({"type": "http.response.body", "body": text.encode()})

    return app


@dataclass
class Running:
    host: str
    port: int
    seen: Recorder

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
async def running(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    monkeypatch.setattr(asgi_server, "BODY_TIMEOUT_S", BODY_TIMEOUT_S)
    seen = Recorder()
    server = AsgiServer("test")
    sock = bind_socket("127.0.0.1", 0, "test")
    port = int(sock.getsockname()[1])
    await server.start(make_app(seen), sock, ws="websockets-sansio", timeout_graceful_shutdown=1)
    try:
        yield Running("127.0.0.1", port, seen)
    finally:
        await server.stop()


async def read_to_end(reader: asyncio.StreamReader, into: bytearray) -> None:
    while chunk := await reader.read(4096):
        into.extend(chunk)


async def trickle(running: Running, head: bytes, body: bytes) -> tuple[bytes, float]:
    """Send ``head`` at once, then ``body`` one byte every 50 ms until the server closes; returns what it
    answered and how long after the head it closed. Fails if still open after the timeout and SLACK_S."""
    reader, writer = await asyncio.open_connection(running.host, running.port)
    answer = bytearray()
    writer.write(head)
    began = time.monotonic()
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S + SLACK_S):
            reading = asyncio.create_task(read_to_end(reader, answer))
            for byte in body:
                if reading.done():
                    break
                try:
                    writer.write(bytes([byte]))
                    await writer.drain()
                except ConnectionError:  # closed while we wrote
                    break
                await asyncio.sleep(0.05)
            await reading
    except TimeoutError:
        raise AssertionError(f"a trickled body was still open after {BODY_TIMEOUT_S + SLACK_S} s") from None
    finally:
        writer.close()
    return bytes(answer), time.monotonic() - began


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        (b"Content-Length: 4000\r\n", b"x" * 4000),
        (b"Transfer-Encoding: chunked\r\n", b"fa0\r\n" + b"x" * 4000),
    ],
    ids=["content-length", "chunked"],
)
async def test_a_trickled_body_gets_408_and_is_closed_while_others_are_served(
    running: Running, framing: bytes, body: bytes
) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n"
    trickling = asyncio.create_task(trickle(running, head, body))
    answered = 0
    async with httpx.AsyncClient(base_url=running.url) as http:
        while not trickling.done():  # the event loop answers others all along
            started = time.monotonic()
            assert (await http.get("/healthz")).status_code == 200
            assert time.monotonic() - started < 0.5
            answered += 1
            await asyncio.sleep(0.05)
    answer, lasted = await trickling
    assert answered >= 3
    assert BODY_TIMEOUT_S * 0.9 <= lasted <= BODY_TIMEOUT_S + SLACK_S  # not extended by each byte
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close" in answer.lower()
    assert answer.endswith(b"body not received within 0.5 s\n")  # the webhook servers' words
    assert running.seen.received["/echo"][-1] == "http.disconnect"  # the app was told, not left waiting


async def test_a_body_in_time_is_served_and_the_connection_kept(running: Running) -> None:
    reader, writer = await asyncio.open_connection(running.host, running.port)
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
        await asyncio.sleep(BODY_TIMEOUT_S / 2)
        writer.write(b"def")
        async with asyncio.timeout(SLACK_S):
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            assert await reader.readexactly(len(b"got 6 bytes")) == b"got 6 bytes"
        await asyncio.sleep(BODY_TIMEOUT_S * 2)  # the body's timer stopped with the body
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
        async with asyncio.timeout(SLACK_S):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
            assert await reader.readexactly(len(b"got 2 bytes")) == b"got 2 bytes"
    finally:
        writer.close()


async def test_a_body_waiting_for_a_busy_app_is_not_the_clients_delay(running: Running) -> None:
    body = b"x" * 300_000  # sent at once; uvicorn holds 64 KiB and stops reading until the app asks
    async with httpx.AsyncClient(base_url=running.url, timeout=SLACK_S + 2) as http:
        response = await http.post("/late", content=body)
    assert (response.status_code, response.text) == (200, "got 300000 bytes")


async def test_a_body_the_app_did_not_read_is_cut_without_a_second_answer(running: Running) -> None:
    head = b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n"
    answer, lasted = await trickle(running, head, b"x" * 4000)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"app")  # the app's answer, and nothing after it
    assert b"408" not in answer
    assert BODY_TIMEOUT_S * 0.9 <= lasted <= BODY_TIMEOUT_S + SLACK_S


async def test_a_long_streamed_response_is_not_cut(running: Running) -> None:
    async with httpx.AsyncClient(base_url=running.url) as http:
        began = time.monotonic()
        response = await http.get("/stream")
    assert time.monotonic() - began >= BODY_TIMEOUT_S * 2.5
    assert response.status_code == 200
    assert response.text == "".join(f"piece {n}\n" for n in range(6)) + "app"


async def test_a_quiet_websocket_outlives_the_body_timeout(running: Running) -> None:
    async with connect(f"ws://{running.host}:{running.port}/ws") as ws:
        await ws.send("one")
        assert await ws.recv() == "echo: one"
        await asyncio.sleep(BODY_TIMEOUT_S * 3)
        await ws.send("two")
        assert await ws.recv() == "echo: two"


async def test_healthz_is_answered_by_the_server_not_the_app(running: Running) -> None:
    async with httpx.AsyncClient(base_url=running.url) as http:
        health = await http.get("/healthz")
        head = await http.head("/healthz")
        posted = await http.post("/healthz")
    assert (health.status_code, health.text) == (200, "ok\n")
    assert health.headers["cache-control"] == "no-store"
    assert head.status_code == 200
    assert posted.text == "app"  # other methods reach the app
    assert "/healthz" in running.seen.received  # the POST only
    assert running.seen.received["/healthz"] == []
