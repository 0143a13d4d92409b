"""Scheduled and background jobs for plugins: ``@every``, ``@at``, ``ctx.later`` and ``ctx.background``.

``schedule`` holds the decorators and the schedules, ``context`` what a job sees and how it is named,
``local`` the embedded runner, ``clock`` the clocks it runs by. The Celery side (beat, the jobs worker and
the outbox that carries a worker's messages to a bot replica) lives in :mod:`botkit.queue`.
"""

from botkit.jobs.clock import Clock, ManualClock, SystemClock
from botkit.jobs.context import JobContext, JobRunner
from botkit.jobs.local import LocalJobs
from botkit.jobs.schedule import at, every, parse_duration

__all__ = [
    "Clock",
    "JobContext",
    "JobRunner",
    "LocalJobs",
    "ManualClock",
    "SystemClock",
    "at",
    "every",
    "parse_duration",
]
