"""The Celery application, configured from botkit's settings (Redis as broker and result transport).

Generation requests go to ``queue.inference_queue``, which only inference workers consume; anything else
a plugin sends (background jobs) defaults to ``queue.jobs_queue``, so a GPU worker never picks up
ordinary work and a jobs worker never loads a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from celery import Celery

from botkit.queue.connection import tls_options, without_tls_query
from botkit.queue.protocol import GENERATE_TASK, redis_url

if TYPE_CHECKING:
    from botkit.config import Settings

Role = Literal["client", "worker"]


def make_celery(settings: Settings, *, role: Role = "client") -> Celery:
    """A Celery app for ``settings``; ``role`` picks how hard it tries to reach a missing broker.

    The client gives up at once (the user is told "busy, please try again" instead of waiting); a worker
    keeps reconnecting for ever, so it recovers by itself when Redis comes back.
    """
    app = Celery("botkit", set_as_current=False)
    app.conf.update(celery_config(settings, role=role))
    return app


def celery_config(settings: Settings, *, role: Role = "client") -> dict[str, Any]:
    """The Celery settings as a plain dict (also handy to print or to reuse in ``celery -A``)."""
    queue = settings.queue
    url = redis_url(queue)
    connect = queue.connect_timeout_s
    transport: dict[str, Any] = {
        # Redis's default of one hour would leave a reply stuck that long after a worker dies. It must
        # be shorter than the user's wait for a crashed worker's request to be retried in time; a copy
        # redelivered while a live worker still generates is harmless (it waits on the request's lock).
        "visibility_timeout": queue.visibility_timeout_s,
        "unacked_restore_interval": queue.restore_interval_s,
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": connect,
        # A dead broker can leave a half-open socket; without a read timeout a publish waits for ever.
        "socket_timeout": max(5.0, connect),
        "health_check_interval": 10,
    }
    if role == "client":
        # kombu otherwise retries connecting for ever before it publishes.
        transport |= {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
    tls = tls_options(url)
    tls_config: dict[str, Any] = {}
    if tls is not None:
        # kombu would otherwise connect to a rediss:// broker without verifying the certificate, and
        # Celery's result backend refuses the URL; both get the same options (see botkit.queue.connection).
        tls_config = {"broker_use_ssl": tls, "redis_backend_use_ssl": tls}
        url = without_tls_query(url)
    return {
        "broker_url": url,
        "result_backend": url,
        **tls_config,
        "broker_transport_options": transport,
        "result_backend_transport_options": {"socket_connect_timeout": connect, "socket_timeout": 5.0},
        "redis_socket_connect_timeout": connect,
        "redis_socket_timeout": 5.0,
        "broker_connection_timeout": connect,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": queue.jobs_queue,
        "task_routes": {GENERATE_TASK: {"queue": queue.inference_queue}},
        # Acknowledge after the reply is stored: a worker killed mid-generation leaves the task unacked
        # and Redis hands it to another worker after the visibility timeout.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One message per free thread: a busy worker does not hoard requests an idle one could serve.
        "worker_prefetch_multiplier": 1,
        "task_publish_retry": False,
        # A task still running when the broker connection drops keeps going: its reply is stored in
        # Redis under the request id and a redelivery finds it there instead of generating again.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "result_expires": queue.result_ttl_s,
    }
