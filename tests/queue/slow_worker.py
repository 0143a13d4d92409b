"""Test-only launcher: ``botkit worker`` with a slowed batch runner passed in.

``python -m tests.queue.slow_worker --step-delay-ms 60 worker --model DIR ...``: the worker options are
parsed by the real ``botkit worker`` parser; only the delay is this launcher's own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from botkit.queue.cli import register
from botkit.queue.worker import run
from botkit.testing.slow_runner import slowed


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``--step-delay-ms`` and the worker's own options, then run the worker with the slow runner."""
    launcher = argparse.ArgumentParser(prog="slow_worker")
    launcher.add_argument("--step-delay-ms", type=float, required=True)
    commands = launcher.add_subparsers(dest="command", required=True)
    register(commands)
    args = launcher.parse_args(argv)
    return run(args, runner=slowed(args.step_delay_ms / 1000))


if __name__ == "__main__":
    sys.exit(main())
