"""When jobs run: ``@every("10m")`` and ``@at("09:00", tz="Europe/Berlin")`` on plugin methods.

A schedule is a pure function of time, so that the in-process scheduler and Celery beat (see
:mod:`botkit.queue.jobs_beat`) agree on every tick without sharing state: :meth:`Schedule.next_after` gives
the first tick after a moment and :meth:`Schedule.last_tick` the latest tick at or before one. ``every``
ticks on a grid counted from the Unix epoch (``every("10m")`` fires at :00, :10, :20...), so a restarted
scheduler and a second one compute the same ticks.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")


def parse_duration(value: str | float | timedelta) -> float:
    """Seconds in ``value``: a number of seconds, a ``timedelta``, or text such as ``"10m"``, ``"1h30m"``.

    Raises:
        ValueError: the text is not a duration, or the duration is not positive.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        parts = _DURATION.findall(text)
        if not parts or _DURATION.sub("", text).strip():
            raise ValueError(f"{value!r} is not a duration: write e.g. '30s', '10m', '1h30m' or '2d'")
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


class Schedule(Protocol):
    """The ticks of a repeating job, as Unix timestamps."""

    def next_after(self, when: float) -> float:
        """The first tick strictly after ``when``."""

    def last_tick(self, when: float) -> float:
        """The latest tick at or before ``when``."""


@dataclass(frozen=True)
class Every:
    """Every ``seconds``, on a grid counted from the Unix epoch."""

    seconds: float

    def next_after(self, when: float) -> float:
        return (math.floor(when / self.seconds) + 1) * self.seconds

    def last_tick(self, when: float) -> float:
        return math.floor(when / self.seconds) * self.seconds

    def __str__(self) -> str:
        return f"every {self.seconds:g}s"


@dataclass(frozen=True)
class At:
    """Every day at a wall-clock time in a time zone (a day that skips the time, at DST, fires after it)."""

    time: time
    tz: ZoneInfo

    def _on(self, day: datetime) -> float:
        return datetime.combine(day.date(), self.time, tzinfo=self.tz).timestamp()

    def next_after(self, when: float) -> float:
        day = datetime.fromtimestamp(when, self.tz)
        for offset in range(3):  # today, else tomorrow (two in case a DST jump skips it)
            tick = self._on(day + timedelta(days=offset))
            if tick > when:
                return tick
        raise AssertionError("unreachable: a day always has the time within three days")

    def last_tick(self, when: float) -> float:
        day = datetime.fromtimestamp(when, self.tz)
        for offset in range(3):
            tick = self._on(day - timedelta(days=offset))
            if tick <= when:
                return tick
        raise AssertionError("unreachable: a day always has the time within three days")

    def __str__(self) -> str:
        return f"daily at {self.time:%H:%M} {self.tz.key}"


@dataclass(frozen=True)
class JobSpec:
    """What ``every``/``at`` record on a method: its schedule."""

    schedule: Schedule


@dataclass(frozen=True)
class ScheduledJob:
    """A scheduled method bound to its plugin: ``name`` is ``"plugin.method"``."""

    name: str
    spec: JobSpec
    func: Callable[..., Awaitable[Any]]


def _mark(spec: JobSpec) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        checked: Any = func  # checking ``func`` itself would narrow away its type F
        if not inspect.iscoroutinefunction(checked):
            raise TypeError(f"job {func.__qualname__} must be an async function")
        setattr(func, "__botkit_job__", spec)  # noqa: B010  (dunder attr on a function)
        return func

    return decorate


def every(interval: str | float | timedelta) -> Callable[[F], F]:
    """Run the method every ``interval`` (``"10m"``, ``90``, ``timedelta(hours=1)``) while the bot runs.

    The method is called as ``await method(job)`` with a :class:`~botkit.jobs.context.JobContext`.
    """
    return _mark(JobSpec(Every(parse_duration(interval))))


def at(clock_time: str, *, tz: str = "UTC") -> Callable[[F], F]:
    """Run the method every day at ``clock_time`` (``"09:00"``) in the time zone ``tz``.

    Raises:
        ValueError: the time is not ``HH:MM`` (or ``HH:MM:SS``) or the time zone is unknown.
    """
    try:
        parsed = time.fromisoformat(clock_time)
    except ValueError:
        raise ValueError(f"{clock_time!r} is not a time of day: write e.g. '09:00'") from None
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}: write e.g. 'Europe/Berlin' or 'UTC'") from None
    return _mark(JobSpec(At(parsed, zone)))
