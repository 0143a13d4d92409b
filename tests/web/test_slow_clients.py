"""Slow and greedy clients of the widget's server (``botkit.asgi_server``): a request head trickled byte by
byte is cut off with a 408 once its time is up, while other visitors are served; an idle connection is
closed; the chat's WebSockets are never cut by that timer; past the connection limit requests get 503."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from botkit import asgi_server
from tests.web.conftest import Served, start_served
from tests.web.support import ChatClient

HEAD_TIMEOUT_S = 0.5
# How late a close may come on a busy test machine; the real timeout (10 s) is far above this bound.
SLACK_S = 3.0


@pytest.fixture
async def slow_served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    """A widget server whose request heads must be complete within :data:`HEAD_TIMEOUT_S`."""
    monkeypatch.setattr(asgi_server, "HEAD_TIMEOUT_S", HEAD_TIMEOUT_S)
    running = await start_served()
    try:
        yield running
    finally:
        await running.adapter.stop()
        await running.bot.stop()


def address(served: Served) -> tuple[str, int]:
    url = httpx.URL(served.http)
    assert url.host is not None
    assert url.port is not None
    return url.host, url.port


async def trickle_until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
) -> bytes:
    """Send ``head`` one byte every 50 ms (then a padding header, never the blank line that ends a head)
    until the server closes; returns what it answered. Fails if it is still open after the timeout and
    :data:`SLACK_S`."""
    answer = bytearray()
    try:
        async with asyncio.timeout(HEAD_TIMEOUT_S + SLACK_S):
            reading = asyncio.create_task(read_to_end(reader, answer))
            for byte in head + b"X-Pad: " + b"a" * 10_000:
                if reading.done():
                    break
                try:
                    writer.write(bytes([byte]))
                    await writer.drain()
                except ConnectionError:  # the server closed while we were writing
                    break
                await asyncio.sleep(0.05)
            await reading
    except TimeoutError:
        raise AssertionError(
            f"a trickled request head was still open after {HEAD_TIMEOUT_S + SLACK_S} s"
        ) from None
    finally:
        writer.close()
    return bytes(answer)


async def read_to_end(reader: asyncio.StreamReader, into: bytearray) -> None:
    while chunk := await reader.read(4096):
        into.extend(chunk)


async def test_a_trickled_request_head_is_cut_off_while_others_are_served(slow_served: Served) -> None:
    reader, writer = await asyncio.open_connection(*address(slow_served))
    began = time.monotonic()
    trickling = asyncio.create_task(trickle_until_closed(reader, writer, b"GET /widget.js HTTP/1.1\r\n"))
    async with httpx.AsyncClient(base_url=slow_served.http) as http:
        while not trickling.done():  # other visitors get their answers all along
            assert (await http.get("/widget.js")).status_code == 200
            await asyncio.sleep(0.1)
    answer = await trickling
    lasted = time.monotonic() - began
    assert HEAD_TIMEOUT_S * 0.9 <= lasted <= HEAD_TIMEOUT_S + SLACK_S  # not extended by each byte
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close" in answer.lower()
    assert answer.endswith(b"request head not received within 0.5 s\n")


async def test_the_next_head_on_a_kept_alive_connection_has_the_same_time(slow_served: Served) -> None:
    reader, writer = await asyncio.open_connection(*address(slow_served))
    writer.write(b"GET /widget.css HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        async with asyncio.timeout(SLACK_S):
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = next(int(line[15:]) for line in lines if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
    except BaseException:
        writer.close()
        raise
    assert lines[0].startswith(b"HTTP/1.1 200 ")
    answered = time.monotonic()
    # uvicorn's own keep-alive timer (5 s) stops at the first byte; the head's does not.
    answer = await trickle_until_closed(reader, writer, b"GET / HTTP/1.1\r\n")
    assert time.monotonic() - answered <= HEAD_TIMEOUT_S + SLACK_S
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


async def test_a_connection_that_sends_nothing_is_closed_without_an_answer(slow_served: Served) -> None:
    reader, writer = await asyncio.open_connection(*address(slow_served))
    began = time.monotonic()
    try:
        answer = await asyncio.wait_for(reader.read(), HEAD_TIMEOUT_S + SLACK_S)  # b"" once closed
    finally:
        writer.close()
    assert answer == b""  # a browser's spare connection: nothing to tell it
    assert time.monotonic() - began >= HEAD_TIMEOUT_S * 0.9


async def test_a_quiet_chat_socket_outlives_the_head_timeout(slow_served: Served) -> None:
    client = await ChatClient.open(slow_served.ws)
    await client.hello()
    await asyncio.sleep(HEAD_TIMEOUT_S * 4)  # quiet for four head timeouts
    await client.say("still here?")
    reply = await client.wait(lambda f: f["type"] == "message" and f["from"] == "bot")
    assert reply["text"] == "You said: still here?"
    await client.close()


async def test_past_the_connection_limit_requests_get_503_until_sockets_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(asgi_server, "MAX_CONCURRENCY", 3)
    served = await start_served()
    try:
        chats = [await ChatClient.open(served.ws) for _ in range(2)]
        for chat in chats:
            await chat.hello()
        async with httpx.AsyncClient(base_url=served.http) as http:
            refused = await http.get("/widget.js")  # two sockets and this request's connection: 3
            assert refused.status_code == 503
            assert refused.text == "Service Unavailable"
            for chat in chats:
                await chat.close()
            await asyncio.sleep(0.2)  # the server sees the sockets close
            answered = await http.get("/widget.js")
            assert answered.status_code == 200
    finally:
        await served.adapter.stop()
        await served.bot.stop()
