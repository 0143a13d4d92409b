"""``botkit worker``: the one command-line entry of an inference worker.

The main ``botkit`` CLI finds it through the ``botkit.commands`` entry point (``register``). Kept free of
heavy imports (celery, torch) so that ``botkit --help`` stays fast; the handler imports them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``worker`` subcommand to ``subparsers`` (from ``ArgumentParser.add_subparsers``).

    The handler is stored as ``handler`` in the parsed namespace; it returns an exit code.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "worker",
        help="run an inference worker: load the model once, batch queued requests, stream replies",
        description="Consume generation requests from the inference queue (Celery on Redis).",
    )
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
    parser.set_defaults(handler=run_worker)
    return parser


def run_worker(args: argparse.Namespace) -> int:
    """Start the worker in this process until it stops; returns the exit code.

    A worker always runs torch (even ``--echo`` builds its stand-in with it), so a missing model extra is
    one line and exit status 2, before anything imports it.
    """
    from botkit.model.loader import ModelLoadError, require_model_stack

    try:
        require_model_stack("an inference worker")
    except ModelLoadError as exc:
        print(f"botkit worker: {exc}", file=sys.stderr)
        return 2
    from botkit.queue.worker import run

    return run(args)
