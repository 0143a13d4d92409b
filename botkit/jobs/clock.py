"""Time as the in-process scheduler sees it: the system clock, or a manual one that tests move by hand.

With :class:`ManualClock` a test runs an hour of ``@every("10m")`` in no time, and exactly: time only
moves in :meth:`ManualClock.advance`, which wakes each sleeper in the order its moment comes.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Unix time, and a way to wait for a moment of it."""

    def now(self) -> float:
        """The current Unix time, in seconds."""

    async def sleep_until(self, when: float) -> None:
        """Return at ``when`` (at once if it has passed)."""


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(0.0, when - time.time()))


class ManualClock:
    """A clock that stands still until :meth:`advance` moves it.

    Args:
        start: the Unix time it shows at first.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, when: float) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._order), wake))
        await wake

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking each sleeper at its moment, earliest first.

        After each wake-up the woken tasks get the loop to themselves until they wait again, so a job
        that reschedules itself is asleep before time moves on and never misses a tick.
        """
        target = self._now + seconds
        await _settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, wake = heapq.heappop(self._sleepers)
            if wake.done():  # its sleeper was cancelled
                continue
            self._now = max(self._now, when)
            wake.set_result(None)
            await _settle()
        self._now = target
        await _settle()


async def _settle(rounds: int = 20) -> None:
    """Let ready tasks run until they block again (each round is one pass of the event loop)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
