"""A batch runner slowed down on purpose, so that a test can act while a reply is half-way written.

Tests of failures (a worker killed mid-reply, the broker vanishing mid-reply) pass it to the worker's
run function through their own launcher; production code has no switch for it. Importing this module
imports torch (through the batch runner it wraps), so ``botkit.testing`` does not import it for you.
"""

from __future__ import annotations

import time
from typing import Any

from botkit.model.decoding import generate_batch
from botkit.model.jobs import GenerationJob
from botkit.model.loader import LoadedModel
from botkit.model.scheduler import BatchRunner


def slowed(delay_s: float, runner: BatchRunner = generate_batch) -> BatchRunner:
    """``runner`` with a pause of ``delay_s`` before each piece of text reaches its job's ``on_delta``.

    The pause happens in the model thread, so every row of the batch waits: with ``n`` tokens to write a
    reply takes at least ``n * delay_s`` seconds.
    """

    def run(lm: LoadedModel, jobs: list[GenerationJob]) -> None:
        for job in jobs:
            inner = job.on_delta

            def on_delta(delta: str, inner: Any = inner) -> None:
                time.sleep(delay_s)
                if inner is not None:
                    inner(delta)

            job.on_delta = on_delta
        runner(lm, jobs)

    return run
