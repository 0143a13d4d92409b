"""Three ``botkit run`` replicas of one bot (Telegram webhook and Slack Events) behind a round-robin front,
as a deployment runs them: the installed executable, a private redis-server, a real ``botkit worker --echo``
on the Celery queue and the fake Telegram and Slack servers the replicas answer through. Users write in
turn, some updates reach two replicas at once (the platform's retry), and every user sees exactly one reply
per message, in the order sent.

The echo worker answers each message with its own text, so a chat's replies name the messages they answer.
Each replica keeps its history in memory (``store = "memory"``): what is shared here is the intake and the
rate window (:mod:`botkit.queue.cluster`), not the conversation store.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from tests.core.installed import BOTKIT, clean_env
from tests.queue.servers import RedisServer, WorkerProcess, free_port, write_config

USERS = 30
MESSAGES_EACH = 10  # 300 messages in all, as the scale-out issue asks
TWICE = 0.10  # the share of updates the platform delivers a second time, to another replica
SECRET = "replica-test-secret"
TELEGRAM = "/telegram"
SLACK = "/slack/events"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


class RoundRobinFront:
    """The load balancer: each webhook POST goes to the next replica. ``X-Twice: 1`` delivers it to the
    next two replicas at the same time (a platform's retry reaching another replica while the first
    still works); the sender gets the first replica's status."""

    def __init__(self, ports: dict[str, list[int]]) -> None:
        self.ports = ports  # by path: the replicas' ports serving it
        self._next = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        for path in self.ports:
            app.router.add_post(path, self._forward)
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
        ports = self.ports[request.path]
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower().startswith(("x-telegram", "x-slack"))
        }
        headers["Content-Type"] = request.headers["Content-Type"]
        first = next(self._next)
        targets = [first, first + 1] if request.headers.get("X-Twice") else [first]
        statuses = await asyncio.gather(
            *(self._post(ports[i % len(ports)], request.path, body, headers) for i in targets)
        )
        return web.Response(status=statuses[0])

    async def _post(self, port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
        assert self._session is not None
        async with self._session.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as answer:
            return answer.status


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


@dataclass
class Cluster:
    telegram: FakeTelegramServer
    slack: FakeSlackServer
    front: RoundRobinFront
    replicas: list[subprocess.Popen[bytes]]  # each replica's process and (telegram, slack) ports, in order
    ports: list[tuple[int, int]]
    worker: WorkerProcess

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.front.port}{path}"


def start_replica(
    directory: Path,
    config: Path,
    ports: tuple[int, int],
    telegram: FakeTelegramServer,
    slack: FakeSlackServer,
) -> subprocess.Popen[bytes]:
    env = clean_env(
        BOTKIT_TELEGRAM__TOKEN=telegram.token,
        BOTKIT_TELEGRAM__SECRET_TOKEN=SECRET,
        BOTKIT_TELEGRAM__WEBHOOK_PORT=str(ports[0]),
        BOTKIT_SLACK__BOT_TOKEN=slack.bot_token,
        BOTKIT_SLACK__SIGNING_SECRET=slack.signing_secret,
        BOTKIT_SLACK__PORT=str(ports[1]),
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    with (directory / f"replica-{ports[0]}.log").open("wb") as log:
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
async def cluster(tmp_path: Path, redis: RedisServer, tiny_model_dir: Path) -> AsyncIterator[Cluster]:
    async with FakeTelegramServer() as telegram, FakeSlackServer() as slack:
        config = write_config(tmp_path / "botkit.toml", redis.url, tiny_model_dir)
        with config.open("a", encoding="utf-8") as extra:  # the model's tokenizer counts; the worker echoes
            extra.write(
                'store = "memory"\nadapters = ["telegram", "slack"]\n'
                f'[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.test{TELEGRAM}"\n'
                f'webhook_path = "{TELEGRAM}"\nbase_url = "{telegram.base_url}"\nflood_limits = false\n'
                f'[slack]\napi_base = "{slack.api_base}"\npath = "{SLACK}"\n'
            )
        config.write_text(_top_level_first(config.read_text(encoding="utf-8")), encoding="utf-8")
        worker = WorkerProcess(tmp_path, config, tiny_model_dir, "--echo", "--max-batch", "32")
        ports = [(free_port(), free_port()) for _ in range(3)]
        replicas = [start_replica(tmp_path, config, pair, telegram, slack) for pair in ports]
        front = RoundRobinFront({TELEGRAM: [p[0] for p in ports], SLACK: [p[1] for p in ports]})
        try:
            worker.wait_ready()
            for pair, proc in zip(ports, replicas, strict=True):
                for port in pair:
                    await wait_listening(port, proc, tmp_path / f"replica-{pair[0]}.log")
            await front.start()
            yield Cluster(telegram, slack, front, replicas, ports, worker)
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


async def send_in_turn(send: Callable[[int, int, bool], Awaitable[int]]) -> int:
    """Every user sends their messages one after another (each once the last was acknowledged), all users
    at once; about :data:`TWICE` of the updates go to two replicas. Returns how many went twice."""
    twice = random.Random(16)
    doubled = 0

    async def user(u: int) -> None:
        nonlocal doubled
        for n in range(MESSAGES_EACH):
            again = twice.random() < TWICE
            doubled += again
            assert await send(u, n, again) == 200

    await asyncio.gather(*(user(u) for u in range(USERS)))
    assert doubled > USERS * MESSAGES_EACH * TWICE / 2  # the retries really happened
    return doubled


async def wait_answered(count: Callable[[], int]) -> None:
    async with asyncio.timeout(60):
        while True:  # the fake servers' records, polled: replies come from other processes
            if count() >= USERS * MESSAGES_EACH:
                break
            await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # a doubled reply would arrive about now


def sent(u: int, n: int) -> str:
    return f"m{u}-{n}"


async def test_telegram_webhook_replicas_answer_each_message_once_in_order(cluster: Cluster) -> None:
    telegram, update_ids = cluster.telegram, itertools.count(1)
    chats = [100 + u for u in range(USERS)]

    async def send(u: int, n: int, twice: bool) -> int:
        update = telegram.message_update(sent(u, n), chat_id=chats[u], push=False)
        update["update_id"] = next(update_ids)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, **({"X-Twice": "1"} if twice else {})}
        async with (
            aiohttp.ClientSession() as session,
            session.post(cluster.url(TELEGRAM), json=update, headers=headers) as answer,
        ):
            return answer.status

    await send_in_turn(send)
    await wait_answered(lambda: sum(len(telegram.texts(chat)) for chat in chats))
    for u, chat in enumerate(chats):  # what each user sees: one reply per message, in the order they wrote
        assert telegram.texts(chat) == [sent(u, n) for n in range(MESSAGES_EACH)]


async def test_slack_events_replicas_answer_each_message_once_in_order(cluster: Cluster) -> None:
    slack = cluster.slack
    channels = [f"D{u:04d}" for u in range(USERS)]

    async def send(u: int, n: int, twice: bool) -> int:
        event = slack.message_event(sent(u, n), channel=channels[u], user=f"U{u:04d}")
        headers = {"X-Twice": "1"} if twice else {}
        status, _ = await slack.send_event(cluster.url(SLACK), event, headers=headers)
        return status

    def replies(channel: str) -> list[str]:
        return [m.text for m in sorted(slack.thread(channel, None), key=lambda m: float(m.ts))]

    await send_in_turn(send)
    await wait_answered(lambda: sum(len(replies(channel)) for channel in channels))
    for u, channel in enumerate(channels):
        assert replies(channel) == [sent(u, n) for n in range(MESSAGES_EACH)]
