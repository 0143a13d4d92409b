"""``botkit worker``: the command-line entry of an inference worker.

Kept free of heavy imports (celery, torch) so that ``botkit --help`` stays fast; the handler imports
them. ``register(subparsers)`` is what the main ``botkit`` CLI calls; ``python -m botkit.queue.cli``
runs the same command without it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``worker`` subcommand to ``subparsers`` (from ``ArgumentParser.add_subparsers``).

    The handler is stored as ``handler`` (and ``func``) in the parsed namespace; it returns an exit code.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "worker",
        help="run an inference worker: load the model once, batch queued requests, stream replies",
        description="Consume generation requests from the inference queue (Celery on Redis).",
    )
    add_worker_arguments(parser)
    parser.set_defaults(handler=run_worker, func=run_worker)
    return parser


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's options (shared by ``botkit worker`` and ``python -m botkit.queue.worker``)."""
    parser.add_argument(
        "--model", metavar="DIR", help="model directory (default: [model] path, else shipped)"
    )
    parser.add_argument("--device", help="cuda, cuda:N, cpu or auto (default: [model] device)")
    parser.add_argument("--dtype", help="auto, float32, bfloat16, float16 (default: [model] dtype)")
    parser.add_argument("--max-batch", type=int, metavar="N", help="most requests in one batch")
    parser.add_argument(
        "--engine",
        choices=("auto", "botkit", "transformers"),
        help="batch engine (default: [model] engine; auto times both on a GPU and keeps the faster)",
    )
    parser.add_argument("--queue", metavar="NAME", help="queue to consume (default: [queue] inference_queue)")
    parser.add_argument(
        "--config", metavar="FILE", help="botkit.toml (default: $BOTKIT_CONFIG or ./botkit.toml)"
    )
    parser.add_argument(
        "--pool",
        choices=("threads", "solo"),
        default="threads",
        help="threads (default): concurrent tasks feed one batch; solo: one request at a time",
    )
    parser.add_argument("--concurrency", type=int, metavar="N", help="task threads (default: --max-batch)")
    parser.add_argument("--hostname", help="Celery node name (default: botkit-worker@HOST)")
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument("--torch-threads", type=int, metavar="N", help="torch CPU threads per worker")
    parser.add_argument("--echo", action="store_true", help="no model: echo messages (plumbing benchmarks)")
    parser.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on PORT")
    # Slows each decoding step so tests can kill a worker half-way through a reply.
    parser.add_argument("--step-delay-ms", type=float, default=0.0, help=argparse.SUPPRESS)


def run_worker(args: argparse.Namespace) -> int:
    """Start the worker in this process until it is stopped; returns the exit code."""
    from botkit.queue.worker import run

    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m botkit.queue.cli worker ...`` (or without the ``worker`` word)."""
    args = list(argv) if argv is not None else None
    parser = argparse.ArgumentParser(prog="botkit")
    register(parser.add_subparsers(dest="command", required=True))
    import sys

    given = args if args is not None else sys.argv[1:]
    if not given or given[0] != "worker":
        given = ["worker", *given]
    parsed = parser.parse_args(given)
    return int(parsed.handler(parsed))


if __name__ == "__main__":
    raise SystemExit(main())
