"""``botkit beat`` and ``botkit jobs``: the two processes of Celery jobs, registered through the
``botkit.commands`` entry points. Kept free of heavy imports so that ``botkit --help`` stays fast."""

from __future__ import annotations

import argparse
from typing import Any


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="botkit.toml (default: $BOTKIT_CONFIG or ./botkit.toml)"
    )
    parser.add_argument("--loglevel", default="INFO")


def register_beat(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``botkit beat``: the one scheduler of the plugins' ``@every``/``@at`` jobs (run exactly one)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "beat",
        help="send the plugins' scheduled jobs to the jobs queue (Celery beat; run exactly one)",
        description="Celery beat for the @every/@at jobs of the configured plugins.",
    )
    _config(parser)
    parser.set_defaults(handler=_run_beat)
    return parser


def register_jobs(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``botkit jobs``: a worker running plugins' scheduled, one-off and background jobs."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "jobs",
        help="run plugins' scheduled, one-off and background jobs from the jobs queue (no model)",
        description="A Celery worker for the jobs queue; loads the plugins of the same config as the bot.",
    )
    _config(parser)
    parser.add_argument("--concurrency", type=int, default=4, metavar="N", help="jobs run at once (threads)")
    parser.add_argument("--hostname", help="Celery node name (default: botkit-jobs@HOST)")
    parser.set_defaults(handler=_run_jobs)
    return parser


def _run_beat(args: argparse.Namespace) -> int:
    from botkit.queue.jobs_beat import run

    return run(args)


def _run_jobs(args: argparse.Namespace) -> int:
    from botkit.queue.jobs_worker import run

    return run(args)
