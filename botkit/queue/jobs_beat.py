"""``botkit beat``: Celery beat sending each plugin's ``@every``/``@at`` ticks to the jobs queue.

Run exactly one (the deployment files do: one compose service, a Kubernetes Deployment of one replica
with the Recreate strategy, one systemd unit); however many bot replicas run, each tick is sent once,
because only this process schedules. It keeps no state: the ticks are a function of time
(:mod:`botkit.jobs.schedule`), so a restarted beat goes on with the next tick, and the tick each task
runs for travels with it (``job.scheduled_at``).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from celery.beat import BeatLazyFunc
from celery.schedules import BaseSchedule, schedstate

from botkit.config import Settings
from botkit.discovery import load_plugins
from botkit.jobs.schedule import Schedule
from botkit.queue.app import make_celery
from botkit.queue.connection import QueueRefused, check_queue
from botkit.queue.jobs_client import SCHEDULED_TASK


class PluginSchedule(BaseSchedule):
    """A :class:`~botkit.jobs.schedule.Schedule` as Celery beat asks it: is it due, and when next."""

    def __init__(self, plan: Schedule, app: Celery | None = None) -> None:
        super().__init__(app=app)
        self.plan = plan

    def is_due(self, last_run_at: datetime) -> schedstate:
        if last_run_at.tzinfo is None:
            last_run_at = last_run_at.replace(tzinfo=UTC)
        now = time.time()
        due_at = self.plan.next_after(last_run_at.timestamp())
        if due_at <= now:
            return schedstate(True, max(0.0, self.plan.next_after(now) - now))
        return schedstate(False, due_at - now)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        return timedelta(seconds=max(0.0, self.plan.next_after(last_run_at.timestamp()) - time.time()))

    def __repr__(self) -> str:
        return f"<PluginSchedule {self.plan}>"


def current_tick(plan: Schedule) -> float:
    """The tick being sent now: the latest at or before this moment (evaluated when beat sends)."""
    return plan.last_tick(time.time())


def beat_schedule(settings: Settings, app: Celery) -> dict[str, dict[str, Any]]:
    """One beat entry per scheduled plugin method, each sent to ``queue.jobs_queue``."""
    report = load_plugins(
        settings.plugins,
        discover=settings.discover_plugins,
        disabled=settings.disabled_plugins,
        search_path=settings.plugin_search_path(),
    )
    entries: dict[str, dict[str, Any]] = {}
    for plugin in report.plugins:
        for job in plugin.jobs():
            plan = job.spec.schedule
            entries[job.name] = {
                "task": SCHEDULED_TASK,
                "schedule": PluginSchedule(plan, app=app),
                "args": (job.name,),
                "kwargs": {"scheduled": BeatLazyFunc(current_tick, plan)},
                "options": {"queue": settings.queue.jobs_queue},
            }
    return entries


def run(args: argparse.Namespace) -> int:
    """``botkit beat``: send the plugins' scheduled ticks until stopped; returns the exit status."""
    import logging

    from botkit.config import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
        check_queue(settings.queue)
    except (ConfigError, QueueRefused) as exc:
        print(f"botkit beat: {exc}", file=sys.stderr)
        return 2
    app = make_celery(settings, role="worker")
    entries = beat_schedule(settings, app)
    app.conf.beat_schedule = entries
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("botkit.jobs").info(
        "beat: %d scheduled jobs: %s", len(entries), ", ".join(sorted(entries)) or "none"
    )
    # The in-memory scheduler: the ticks are computed from time, so there is nothing to persist.
    beat = app.Beat(loglevel=args.loglevel, scheduler="celery.beat:Scheduler", max_interval=60)
    beat.run()
    return 0
