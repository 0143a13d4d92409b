"""Three ``botkit run`` replicas of one Telegram bot behind a round-robin front, as a deployment runs them:
the installed executable, a private redis-server, a real ``botkit worker --echo`` on the Celery queue and
the fake Telegram server the replicas answer through. Users write in turn, some updates reach two
replicas (the platform's retry), and every user sees exactly one reply per message, in the order sent.

The echo worker answers each message with its own text, so a chat's replies name the messages they answer.
Each replica keeps its history in memory (``store = "memory"``): what is shared here is the intake and the
rate window (:mod:`botkit.queue.cluster`), not the conversation store.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from botkit.adapters.telegram.fake_server import FakeTelegramServer
from tests.core.installed import BOTKIT, clean_env
from tests.queue.servers import RedisServer, WorkerProcess, free_port, write_config

USERS = 30
MESSAGES_EACH = 10  # 300 messages in all, as the scale-out issue asks
TWICE = 0.10  # the share of updates the platform delivers a second time, to another replica
SECRET = "replica-test-secret"
PATH = "/telegram"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


class RoundRobinFront:
    """The load balancer: each webhook POST goes to the next replica; ``X-Avoid: i`` skips replica ``i``
    (how the test sends a redelivery to another replica). Answers with the replica's status and its
    index in ``X-Replica``."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self._next = itertools.cycle(range(len(ports)))
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(PATH, self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        avoid = request.headers.get("X-Avoid")
        replica = next(self._next)
        if avoid is not None and replica == int(avoid):
            replica = next(self._next)
        headers = {
            k: v for k, v in request.headers.items() if k.lower().startswith(("x-telegram", "content-"))
        }
        url = f"http://127.0.0.1:{self.ports[replica]}{PATH}"
        async with self._session.post(url, data=await request.read(), headers=headers) as answer:
            return web.Response(status=answer.status, headers={"X-Replica": str(replica)})


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own: update ids repeat between tests, and they are the de-duplication keys."""
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def start_replica(directory: Path, config: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    env = clean_env(
        BOTKIT_TELEGRAM__TOKEN=token,
        BOTKIT_TELEGRAM__SECRET_TOKEN=SECRET,
        BOTKIT_TELEGRAM__WEBHOOK_PORT=str(port),
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    with (directory / f"replica-{port}.log").open("wb") as log:
        return subprocess.Popen(
            [str(BOTKIT), "run", "--config", str(config)], cwd=directory, env=env, stdout=log, stderr=log
        )


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    async with asyncio.timeout(120):  # three cold processes on two shared cores
        while True:
            if proc.poll() is not None:
                pytest.fail(f"a replica exited with {proc.returncode}:\n{tail(log)}")
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            writer.close()
            return


@pytest.fixture
async def cluster(
    tmp_path: Path, redis: RedisServer, tiny_model_dir: Path
) -> AsyncIterator[tuple[FakeTelegramServer, RoundRobinFront]]:
    async with FakeTelegramServer() as telegram:
        config = write_config(tmp_path / "botkit.toml", redis.url, tiny_model_dir)
        with config.open("a", encoding="utf-8") as extra:  # the model's tokenizer counts; the worker echoes
            extra.write(
                'store = "memory"\nadapters = ["telegram"]\n'
                f'[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.test{PATH}"\n'
                f'webhook_path = "{PATH}"\nbase_url = "{telegram.base_url}"\nflood_limits = false\n'
            )
        config.write_text(_top_level_first(config.read_text(encoding="utf-8")), encoding="utf-8")
        worker = WorkerProcess(tmp_path, config, tiny_model_dir, "--echo", "--max-batch", "32")
        ports = [free_port() for _ in range(3)]
        replicas = [start_replica(tmp_path, config, port, telegram.token) for port in ports]
        front = RoundRobinFront(ports)
        try:
            worker.wait_ready()
            for port, proc in zip(ports, replicas, strict=True):
                await wait_listening(port, proc, tmp_path / f"replica-{port}.log")
            await front.start()
            yield telegram, front
        finally:
            await front.stop()
            for proc in replicas:
                proc.terminate()
            for proc in replicas:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            worker.stop()


def _top_level_first(toml: str) -> str:
    """Keys without a table must come before the first ``[table]`` in TOML."""
    lines = toml.splitlines()
    top = [line for line in lines if line.startswith(("store =", "adapters ="))]
    rest = [line for line in lines if line not in top]
    return "\n".join([*top, *rest]) + "\n"


async def test_three_replicas_answer_each_message_once_in_order(
    cluster: tuple[FakeTelegramServer, RoundRobinFront],
) -> None:
    telegram, front = cluster
    update_ids = itertools.count(1)
    twice = random.Random(16)
    redelivered = 0
    url = f"http://127.0.0.1:{front.port}{PATH}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    async def user(session: aiohttp.ClientSession, chat_id: int) -> None:
        nonlocal redelivered
        for n in range(MESSAGES_EACH):
            update = telegram.message_update(f"m{chat_id}-{n}", chat_id=chat_id, push=False)
            update["update_id"] = next(update_ids)
            async with session.post(url, json=update, headers=headers) as first:
                assert first.status == 200
                replica = first.headers["X-Replica"]
            if twice.random() < TWICE:  # Telegram retries: the same update reaches another replica
                redelivered += 1
                again = {**headers, "X-Avoid": replica}
                async with session.post(url, json=update, headers=again) as second:
                    assert second.status == 200

    chats = [100 + u for u in range(USERS)]
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(user(session, chat) for chat in chats))
    assert redelivered > USERS * MESSAGES_EACH * TWICE / 2  # the retries really happened

    def answered() -> int:
        return sum(len(telegram.texts(chat)) for chat in chats)

    async with asyncio.timeout(60):
        while True:  # the fake server's calls, polled: replies come from other processes
            if answered() >= USERS * MESSAGES_EACH:
                break
            await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # a doubled reply would arrive about now
    for chat in chats:  # what each user sees: one reply per message, in the order they wrote
        assert telegram.texts(chat) == [f"m{chat}-{n}" for n in range(MESSAGES_EACH)]
