"""A slow client of the console (``botkit.asgi_server``): a request head trickled byte by byte is cut off
with a 408 once its time is up while the console keeps answering, and the live-update stream, a long
response, is not cut by that timer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from botkit import asgi_server
from tests.console.conftest import Running, log_in, start

HEAD_TIMEOUT_S = 0.5
SLACK_S = 3.0  # how late a close may come on a busy test machine


@pytest.fixture
async def slow_running(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, tmp_path: Path
) -> AsyncIterator[Running]:
    """The console, its request heads due within :data:`HEAD_TIMEOUT_S`."""
    monkeypatch.setattr(asgi_server, "HEAD_TIMEOUT_S", HEAD_TIMEOUT_S)
    async with start(engine, tmp_path) as found:
        yield found


async def test_a_trickled_request_head_is_cut_off_while_the_console_answers(slow_running: Running) -> None:
    url = httpx.URL(slow_running.url)
    assert url.host is not None
    assert url.port is not None
    reader, writer = await asyncio.open_connection(url.host, url.port)
    answer = bytearray()

    async def trickle() -> None:
        for byte in b"GET /login HTTP/1.1\r\nX-Pad: " + b"a" * 10_000:  # never the blank line ending a head
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:  # the server closed while we were writing
                return
            await asyncio.sleep(0.05)

    async def read_to_end() -> None:
        while chunk := await reader.read(4096):
            answer.extend(chunk)

    began = time.monotonic()
    trickling = asyncio.create_task(trickle())
    reading = asyncio.create_task(read_to_end())
    try:
        async with slow_running.client() as browser:
            async with asyncio.timeout(HEAD_TIMEOUT_S + SLACK_S):
                while not reading.done():  # the login page is served all along
                    assert (await browser.get("/login")).status_code == 200
                    await asyncio.sleep(0.1)
        lasted = time.monotonic() - began
    except TimeoutError:
        raise AssertionError(
            f"a trickled request head was still open after {HEAD_TIMEOUT_S + SLACK_S} s"
        ) from None
    finally:
        trickling.cancel()
        writer.close()
    await reading
    assert HEAD_TIMEOUT_S * 0.9 <= lasted <= HEAD_TIMEOUT_S + SLACK_S
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert answer.endswith(b"request head not received within 0.5 s\n")


async def test_the_live_update_stream_outlives_the_head_timeout(slow_running: Running) -> None:
    async with slow_running.client() as ben:
        await log_in(ben, "ben")
        async with ben.stream("GET", "/events") as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            assert (await anext(lines)) == "retry: 2000"
            await asyncio.sleep(HEAD_TIMEOUT_S * 4)  # four head timeouts with the stream open
            await slow_running.tester.send("talk to a human")
            async with asyncio.timeout(10):
                async for line in lines:
                    if line.startswith("data:") and '"tickets": 1' in line:
                        break
                else:
                    raise AssertionError("the stream ended before the new ticket")
