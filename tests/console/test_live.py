"""Live updates: the console's event stream says "change" within about a second of a new ticket or a new
message, and a stream without a login is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tests.console.conftest import Running, log_in


async def next_change(lines: AsyncIterator[str]) -> str:
    """The data line of the stream's next ``change`` event (within 10 seconds)."""
    previous = ""
    async with asyncio.timeout(10):
        async for line in lines:
            if previous == "event: change" and line.startswith("data:"):
                return line
            previous = line
    raise AssertionError("the stream ended before a change")


async def test_the_event_stream_reports_a_new_ticket_and_a_new_message(running: Running) -> None:
    async with running.client() as ben:
        await log_in(ben, "ben")
        async with ben.stream("GET", "/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert (await anext(lines)) == "retry: 2000"
            await asyncio.sleep(1.2)  # the stream has read the database once: what follows is news
            await running.tester.send("talk to a human")
            first = await next_change(lines)
            assert '"tickets": 1' in first
            await running.tester.send("are you there?")  # the user's turn, while the ticket waits
            second = await next_change(lines)
            assert second != first
            assert '"tickets": 1' in second


async def test_the_event_stream_needs_a_login(running: Running) -> None:
    async with running.client() as anonymous:
        answer = await anonymous.get("/events")
        assert answer.status_code == 401
