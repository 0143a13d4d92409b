"""``botkit health``: whether a bot or a worker process can do its work, for probes and for people.

Two questions, as Kubernetes asks them:

- readiness (the default): can this process serve now? For ``--role bot``: the config loads and the store
  answers (the SQLite file or the PostgreSQL server). With ``queue.backend = "celery"`` it also asks whether
  Redis accepts botkit's credentials and at least one inference worker is alive (a fresh heartbeat, else a
  Celery worker consuming ``queue.inference_queue`` answers), but those two only WARN unless
  ``--require-queue`` is given: a bot taken out of its Service cannot even say "busy", and with the queue
  down every replica would be taken out at once, so the platform's deliveries would fail and users would
  hear nothing; the bot itself answers "busy" and takes the queue back when it returns. For
  ``--role worker``: Redis accepts the credentials and this host's worker is alive (its heartbeat, else a
  ping; see :mod:`botkit.health.queue`).
- liveness (``--live``): does the process's own loop still answer? Nothing else is asked, so that an outage
  of Redis or PostgreSQL never gets a healthy process restarted. The bot answers ``GET /healthz`` on its web
  widget's server (else its console's), from the event loop that runs the adapters
  (:mod:`botkit.asgi_server`); the worker answers a Celery ping to its own node name.

Every check has :data:`TIMEOUT_S`; each prints one line (``ok`` or ``FAIL``, its name, what it found), or
one JSON object with ``--json``. Exit status: 0 every check passed, 1 one failed, 2 the config does not
load. Heavy imports stay inside the checks: ``botkit --help`` must not pay for SQLAlchemy or Celery.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botkit.health import queue as health_queue
from botkit.health.checks import (
    HEALTH_PATH,
    TIMEOUT_S,
    Check,
    Failed,
    bot_health_url,
    check_http,
    check_store,
    one_line,
    timed,
)

if TYPE_CHECKING:
    from botkit.config import Settings

__all__ = ["HEALTH_PATH", "TIMEOUT_S", "Check", "Failed", "register", "role_checks", "run_health"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``health`` subcommand (the ``botkit.commands`` entry point)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "health",
        help="check what a bot or worker process needs (readiness), or that it answers (--live)",
        description=(
            "Exit 0 when every check passes, 1 when one fails, 2 when the config does not load; "
            "one line per check."
        ),
    )
    parser.add_argument("--role", choices=("bot", "worker"), default="bot", help="the process to check")
    parser.add_argument("--live", action="store_true", help="liveness: only whether the process answers")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    parser.add_argument(
        "--require-queue",
        action="store_true",
        help="bot role: fail (not only warn) when Redis or every inference worker is down",
    )
    parser.add_argument("--config", type=Path, help="botkit.toml (default: $BOTKIT_CONFIG or ./botkit.toml)")
    parser.add_argument(
        "--url", help=f"the bot's liveness URL (default: its web, else console, server's {HEALTH_PATH})"
    )
    parser.add_argument("--hostname", help="the worker's Celery node name (default: botkit-worker@HOST)")
    parser.add_argument(
        "--timeout", type=float, default=TIMEOUT_S, metavar="S", help=f"seconds per check ({TIMEOUT_S:g})"
    )
    parser.set_defaults(handler=run_health)
    return parser


def run_health(args: argparse.Namespace) -> int:
    """Run the checks ``args`` ask for, print them, and return the exit status."""
    checks: list[Check] = []
    settings = timed(checks, "config", lambda: _load(args.config))
    if settings is not None:
        checks += role_checks(
            settings,
            args.role,
            live=args.live,
            timeout_s=args.timeout,
            url=args.url,
            node=args.hostname,
            require_queue=args.require_queue,
        )
    ok = all(check.ok or not check.required for check in checks)
    if args.json:
        report = {"role": args.role, "live": args.live, "ok": ok, "checks": [asdict(c) for c in checks]}
        print(json.dumps(report))
    else:
        for check in checks:
            print(check.line())
    if settings is None:
        return 2
    return 0 if ok else 1


def role_checks(
    settings: Settings,
    role: str,
    *,
    live: bool = False,
    timeout_s: float = TIMEOUT_S,
    url: str | None = None,
    node: str | None = None,
    require_queue: bool = False,
) -> list[Check]:
    """The checks of ``role`` (``bot`` or ``worker``) after the config loaded, in order.

    The bot's Redis and worker checks are advisory unless ``require_queue`` (see the module's text).

    A check that depends on another (the workers on Redis) is left out when that one failed: its failure
    would only repeat the cause.
    """
    checks: list[Check] = []
    if role == "bot" and live:
        timed(checks, "loop", lambda: check_http(url or bot_health_url(settings), timeout_s))
    elif role == "bot":
        timed(checks, "store", lambda: check_store(settings, timeout_s))
        if settings.queue.backend == "celery" and timed(
            checks, "redis", lambda: health_queue.check_redis(settings, timeout_s), required=require_queue
        ):
            timed(
                checks,
                "workers",
                lambda: health_queue.check_workers(settings, timeout_s),
                required=require_queue,
            )
    elif live:
        timed(checks, "worker", lambda: health_queue.check_worker_alive(settings, node, timeout_s))
    elif timed(checks, "redis", lambda: health_queue.check_redis(settings, timeout_s)):
        timed(checks, "worker", lambda: health_queue.check_worker(settings, node, timeout_s))
    return checks


def _load(path: Path | None) -> Settings:
    from botkit.config import ConfigError, load_settings

    try:
        return load_settings(path)
    except ConfigError as exc:
        raise Failed(one_line(exc)) from None
