"""The real processes the chaos harness breaks: a private redis-server and PostgreSQL, a slowed
``botkit worker`` on the shipped model, ``botkit run`` replicas serving a Telegram webhook, and the fake
Telegram server they answer through (in this process, so that replies can be read as users see them).

Everything is started the way tests/queue starts it (:mod:`tests.queue.servers`,
:mod:`tests.queue.test_replicas_processes`); only what the faults need is added here: replicas that can
be killed and replaced, a worker that can be replaced, and the delivery of updates as Telegram does it
(to one replica; again to another when that one fails).
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.config import QueueSettings
from botkit.model.loader import DEFAULT_MODEL_DIR
from tests.chaos.postgres import PostgresCluster
from tests.queue.servers import RedisServer, WorkerProcess, free_port, write_config
from tests.queue.test_replicas_processes import (
    SECRET,
    TELEGRAM,
    start_replica,
    wait_listening,
)

# The queue's own defaults: the faults are measured at the settings a deployment runs with.
QUEUE_DEFAULTS = {
    name: QueueSettings.model_fields[name].default
    for name in (
        "visibility_timeout_s",
        "restore_interval_s",
        "lock_ttl_s",
        "stream_interval_ms",
        "queue_grace_s",
    )
}
REDELIVER_S = 1.0  # Telegram retries a failed webhook delivery after a pause; this one is short


@dataclass(frozen=True)
class ChaosSettings:
    """How big a chaos run is.

    Attributes:
        conversations: users writing at the same time.
        messages: messages each user sends, each after the reply to the last one (or a "busy").
        step_delay_ms: the slowed worker's pause per streamed piece per request, so faults land mid-reply.
        max_new_tokens: longest reply (greedy decoding: each message's reply is known in advance).
        replicas: ``botkit run`` processes behind the webhook.
        outage_s: how long Redis is unreachable in the ``redis_outage`` fault.
        platform_outage_s: how long Telegram answers 429/5xx in the ``platform_errors`` fault.
        pg_down_s: how long PostgreSQL stays down in the ``postgres_restart`` fault.
        wait_s: how long a user waits for a reply before writing the next message anyway.
    """

    conversations: int = 32
    messages: int = 3
    step_delay_ms: float = 8.0
    max_new_tokens: int = 24
    replicas: int = 2
    outage_s: float = 30.0
    platform_outage_s: float = 20.0
    pg_down_s: float = 3.0
    wait_s: float = 180.0


class ChaosCluster:
    """Start with ``async with ChaosCluster(directory, settings) as cluster``; stops everything on exit."""

    def __init__(self, directory: Path, settings: ChaosSettings) -> None:
        self.directory = directory
        self.settings = settings
        self.model = DEFAULT_MODEL_DIR
        self.redis = RedisServer(_mkdir(directory / "redis"))
        self.postgres = PostgresCluster()
        self.telegram = FakeTelegramServer()
        self._slack = FakeSlackServer()  # only for start_replica's environment: Slack is not served here
        self.config = directory / "botkit.toml"
        self.worker: WorkerProcess | None = None
        self.replicas: dict[int, subprocess.Popen[bytes]] = {}  # webhook port -> process
        self.routed: dict[int, int] = {}  # update_id -> the webhook port it was last delivered to
        self._next = itertools.count()
        self._session: aiohttp.ClientSession | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.worker_restarts = 0

    async def __aenter__(self) -> ChaosCluster:
        try:
            await self.telegram.start()
            self.redis.start()
            await asyncio.to_thread(self.postgres.start)
            self._write_config()
            self.worker = self._start_worker()
            for _ in range(self.settings.replicas):
                self.start_replica()
            await asyncio.to_thread(self.worker.wait_ready, 180)
            await self.wait_replicas()
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self._session is not None:
            await self._session.close()
        for proc in self.replicas.values():
            proc.terminate()
        for proc in self.replicas.values():
            try:
                proc.wait(3)  # nothing is left to finish: the runs are over
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self.worker is not None and self.worker.proc.poll() is None:
            self.worker.kill9()  # a warm shutdown waits for the worker's tasks; none is left to finish
        self.redis.stop()
        self.postgres.remove()
        await self.telegram.stop()

    def _write_config(self) -> None:
        write_config(self.config, self.redis.url, self.model, **QUEUE_DEFAULTS)
        text = self.config.read_text(encoding="utf-8").replace("max_batch = 8", "max_batch = 32")
        text = text.replace("timeout_s = 30\n", "")  # the model's default time limit
        text += (  # appended to [model], the last table write_config writes
            f"temperature = 0.0\nmax_new_tokens = {self.settings.max_new_tokens}\n"
            # history off: each reply depends on its message alone, so the expected reply is known
            "[chat]\nhistory_turns = 0\n"
            f'[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.test{TELEGRAM}"\n'
            f'webhook_path = "{TELEGRAM}"\nbase_url = "{self.telegram.base_url}"\nflood_limits = false\n'
            f'store = "database"\ndatabase_url = "{self.postgres.url}"\nadapters = ["telegram"]\n'
        )
        self.config.write_text(_top_level_first(text), encoding="utf-8")

    def _start_worker(self) -> WorkerProcess:
        return WorkerProcess(
            _mkdir(self.directory / "worker"),
            self.config,
            self.model,
            "--max-batch",
            "32",
            step_delay_ms=self.settings.step_delay_ms,
        )

    async def replace_worker(self) -> None:
        """Start a fresh worker (as a supervisor restarts a killed one) and wait until it is ready."""
        self.worker = self._start_worker()
        self.worker_restarts += 1
        await asyncio.to_thread(self.worker.wait_ready, 180)

    async def _supervise(self) -> None:
        """The service manager: a worker that exited is started again (deploy/ runs it with a restart
        policy; the worker exits on purpose when Celery stops consuming after losing the broker)."""
        while True:
            await asyncio.sleep(0.5)
            if self.worker is not None and self.worker.proc.poll() is not None:
                await self.replace_worker()

    def start_replica(self) -> int:
        """Start one more ``botkit run``; returns its webhook port (call :meth:`wait_replicas` next)."""
        ports = (free_port(), free_port())
        proc = start_replica(self.directory, self.config, ports, self.telegram, self._slack)
        self.replicas[ports[0]] = proc
        return ports[0]

    async def wait_replicas(self) -> None:
        """Wait until every replica's webhook accepts connections."""
        for port, proc in self.replicas.items():
            await wait_listening(port, proc, self.directory / f"replica-{port}.log")

    def kill_replica(self) -> int:
        """SIGKILL the first replica; returns its port. Nothing it answered 200 is resent: another replica
        adopts those updates from the intake journal. Only a delivery the dead replica refused or reset goes
        to the next replica, as Telegram retries a failed delivery (:meth:`deliver`)."""
        port = next(iter(self.replicas))
        proc = self.replicas.pop(port)
        proc.kill()
        proc.wait(10)
        return port

    async def deliver(self, update: dict[str, Any], *, within: float = 60.0) -> int:
        """POST an update as Telegram does: to the next replica; when it fails (refused, reset, 5xx), again
        to the next one after :data:`REDELIVER_S`, until one takes it or ``within`` seconds passed."""
        assert self._session is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        status = 0
        while loop.time() < deadline:
            ports = list(self.replicas)
            port = ports[next(self._next) % len(ports)]
            self.routed[int(update["update_id"])] = port
            try:
                url = f"http://127.0.0.1:{port}{TELEGRAM}"
                async with self._session.post(url, json=update, headers=headers) as answer:
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            if 200 <= status < 300:
                return status
            await asyncio.sleep(REDELIVER_S)
        return status

    def logs(self) -> str:
        """The tails of every process's log, for a failure message."""
        parts = [p for p in self.directory.glob("*.log")] + list((self.directory / "worker").glob("*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in parts)


def _top_level_first(toml: str) -> str:
    """Keys without a table (store, database_url, adapters) must come before the first ``[table]``."""
    lines = toml.splitlines()
    top = [line for line in lines if line.startswith(("store =", "database_url =", "adapters ="))]
    return "\n".join([*top, *(line for line in lines if line not in top)]) + "\n"


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
