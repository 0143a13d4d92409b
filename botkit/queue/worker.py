"""The inference worker process: a Celery worker whose tasks feed one in-process BatchScheduler.

Run it as ``botkit worker --model DIR`` (its one entry point, :mod:`botkit.queue.cli`). The pool is
``threads`` (default: each task thread submits to the same scheduler, so concurrent requests share a
batch) or ``solo``; prefork is not offered because every child would hold its own copy of the model.
The model loads when the worker starts (``worker_init``), in the process that runs the tasks, never in a
parent that forks afterwards: CUDA cannot be re-initialised in a forked child.

Restarting is the service manager's job: when Celery gives up by itself, the process exits non-zero
with a message and systemd (``Restart=``) or Kubernetes starts a fresh one.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_init, worker_ready, worker_shutdown, worker_shutting_down

from botkit.queue.app import make_celery
from botkit.queue.connection import check_queue
from botkit.queue.protocol import GENERATE_TASK
from botkit.queue.runtime import WorkerOptions, WorkerRuntime

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.model.scheduler import BatchRunner

log = logging.getLogger("botkit.queue")


class _State:
    """This process's settings and runtime (one worker per process)."""

    settings: Settings | None = None
    options: WorkerOptions | None = None
    runner: BatchRunner | None = None
    runtime: WorkerRuntime | None = None
    lock = threading.Lock()
    stop_requested = False  # a signal asked the worker to stop
    exit_status = 0  # the Celery worker's own exit status (Celery's entry points drop it)
    cannot_start = False  # the model did not load (already reported)


def runtime() -> WorkerRuntime:
    """The process's runtime, created on first use if ``worker_init`` has not done it."""
    with _State.lock:
        if _State.runtime is None:
            if _State.settings is None or _State.options is None:
                raise RuntimeError("the worker was not configured (start it with `botkit worker`)")
            _State.runtime = WorkerRuntime.create(_State.settings, _State.options, _State.runner)
        return _State.runtime


def build_app(settings: Settings, options: WorkerOptions, runner: BatchRunner | None = None) -> Celery:
    """The worker's Celery app with the generation task registered (``runner``: see :func:`run`)."""
    _State.settings, _State.options, _State.runner = settings, options, runner
    app = make_celery(settings, role="worker")

    @app.task(name=GENERATE_TASK, ignore_result=True)
    def generate(
        rid: str,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        deadline: float,
        limit_s: float | None = None,
    ) -> str:
        return runtime().handle(rid, messages, params, deadline, limit_s)  # type: ignore[arg-type]  # JSON

    return app


@worker_init.connect
def _load_on_start(**_: Any) -> None:
    if _State.options is None:
        return
    try:
        runtime()
    except Exception as exc:  # stop the worker: taking tasks without a model would fail them all
        _State.cannot_start = True
        log.critical("the worker cannot start: %s", exc)
        raise SystemExit(1) from exc


@worker_ready.connect
def _announce(**_: Any) -> None:
    # Said here, not at load time: Celery sets up its log handlers between worker_init and worker_ready.
    if _State.runtime is not None:
        ready = _State.runtime
        note = ready.lm.sampling.note()  # the model's defaults, for requests that leave them to it
        log.info(
            "model ready: %s (engine %s [%s], max batch %d)%s",
            ready.lm.describe(),
            ready.scheduler.name,
            ready.scheduler.chosen_by,
            ready.scheduler.max_batch,
            f"; {note} where a request leaves it unset" if note else "",
        )


@worker_shutting_down.connect
def _note_stop_request(**_: Any) -> None:
    _State.stop_requested = True


@worker_shutdown.connect
def _note_exit_status(sender: Any = None, **_: Any) -> None:
    _State.exit_status = int(getattr(sender, "exitcode", 0) or 0)


def run(args: argparse.Namespace, *, runner: BatchRunner | None = None) -> int:
    """Configure from ``args`` and the botkit config, then run the worker until it stops.

    Args:
        args: the parsed ``botkit worker`` options (:func:`botkit.queue.cli.register`).
        runner: a stand-in batch function instead of the real engine, e.g. the slowed one of
            :mod:`botkit.testing.slow_runner` that tests start through their own launcher.

    Returns:
        The exit status: 0 after a requested stop, 1 when the model cannot load or Celery gave up, 2 for
        a configuration error (Redis refusing the credentials among them).
    """
    from botkit.config import ConfigError, load_settings
    from botkit.model.loader import ModelLoadError, resolve_model_dir

    try:
        settings = load_settings(args.config)
        model = None
        if not args.echo:
            model = str(resolve_model_dir(args.model or settings.model.path))
        # Before the model loads: a refused password is a configuration error, not an outage to wait out.
        check_queue(settings.queue)
    except (ConfigError, ModelLoadError) as exc:  # QueueRefused is a ModelLoadError
        print(f"botkit worker: {exc}", file=sys.stderr)
        return 2
    options = WorkerOptions(
        model=model,
        device=args.device or settings.model.device,
        dtype=args.dtype or settings.model.dtype,
        max_batch=args.max_batch or settings.model.max_batch,
        engine=args.engine or settings.model.engine,
        echo=args.echo,
        threads=args.torch_threads,
        metrics_port=args.metrics_port,
        sampling=settings.model.sampling_params(),
    )
    if settings.queue.visibility_timeout_s < settings.model.timeout_s + settings.queue.queue_grace_s:
        log.warning(
            "queue.visibility_timeout_s is below model.timeout_s + queue.queue_grace_s: Celery hands a long "
            "reply's task out again while it runs (the copy waits on its lock, holding a worker thread); a "
            "crashed worker's requests are re-queued through its heartbeat, not this timeout"
        )
    app = build_app(settings, options, runner)
    concurrency = 1 if args.pool == "solo" else args.concurrency or options.max_batch
    argv = [
        "worker",
        f"--pool={args.pool}",
        f"--concurrency={concurrency}",
        f"--queues={args.queue or settings.queue.inference_queue}",
        f"--loglevel={args.loglevel}",
        f"--hostname={args.hostname or 'botkit-worker@' + socket.gethostname()}",
        # Mingle and gossip make every start wait for replies from peers, which a worker never needs.
        "--without-mingle",
        "--without-gossip",
    ]
    try:
        return _serve(app, argv)
    finally:
        if _State.runtime is not None:
            _State.runtime.close()


def _serve(app: Celery, argv: list[str]) -> int:
    """Run the Celery worker until it stops, and say why it stopped when nobody asked it to.

    Celery gives up ("Unrecoverable error") on some broker failures, e.g. kombu failing to restore
    unacknowledged messages when Redis vanished while a reply was being written. The worker does not
    restart itself: it exits non-zero so that systemd or Kubernetes starts a fresh process.

    Returns:
        The exit status: Celery's own after a requested stop (0) or a model that did not load (1), else
        at least 1.
    """
    _State.exit_status = 0
    try:
        app.worker_main(argv)
        code = _State.exit_status
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    if _State.stop_requested or _State.cannot_start:
        return code
    code = code or 1  # nobody asked it to stop: whatever Celery says, this is a failure
    message = (
        f"botkit worker: Celery stopped consuming by itself (exit status {code}), e.g. after losing the "
        "broker while a reply was being written; exiting so that the service manager starts a fresh worker"
    )
    print(message, file=sys.stderr)
    return code
