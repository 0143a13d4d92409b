"""``botkit health`` run for real, as a probe runs it: the installed command against a private Redis, a real
inference worker, SQLite files and the machine's PostgreSQL; exit status and one clear line per check."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botkit.asgi_server import AsgiServer, bind_socket
from botkit.db.engine import open_engine
from tests.queue.servers import BOTKIT_BIN, ROOT, RedisServer, WorkerProcess, free_port, write_config

NODE = "health-test@probe"  # the worker's Celery node name
NO_MODEL = Path("/nonexistent/model")  # `botkit health` and an echo worker never read [model] path


def health(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``botkit health ARGS --config CONFIG`` in a subprocess, as a kubelet's exec probe runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTKIT_")}
    argv = [str(BOTKIT_BIN), "health", *args, *(["--config", str(config)] if config else [])]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def lines(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The printed checks by name: ``{"redis": "ok   redis: ..."}``."""
    found = {}
    for line in done.stdout.splitlines():
        name = line[5:].split(":", 1)[0]
        found[name] = line
    return found


def config(path: Path, *lines_: str, redis_url: str | None = None, model: Path | None = None) -> Path:
    """A botkit.toml: the top-level ``lines_``, then [queue] and [model] as the queue tests write them."""
    path.write_text("\n".join(lines_) + "\n", encoding="utf-8")
    if redis_url is not None:
        assert model is not None
        queue = write_config(path.with_suffix(".queue"), redis_url, model)
        path.write_text(path.read_text() + queue.read_text(), encoding="utf-8")
    return path


def sqlite_store(directory: Path) -> str:
    """A data_dir line whose SQLite store exists (the migrations made it, as `botkit run` does)."""
    open_engine(f"sqlite:///{directory / 'botkit.sqlite3'}").dispose()
    return f'data_dir = "{directory}"'


@pytest.fixture(scope="module")
def echo_worker(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[Path]:
    """A real `botkit worker --echo` named :data:`NODE` on the session's Redis; yields its config file.
    An echo worker loads no model: its [model] path is never read."""
    directory = tmp_path_factory.mktemp("health-worker")
    cfg = write_config(directory / "botkit.toml", redis_server.url, NO_MODEL)
    proc = WorkerProcess(directory, cfg, NO_MODEL, "--echo", "--hostname", NODE)
    try:
        proc.wait_ready()
        yield cfg
    finally:
        proc.stop()


def test_worker_role_passes_with_redis_and_its_worker_answering(echo_worker: Path) -> None:
    done = health("--role", "worker", "--hostname", NODE, config=echo_worker)
    assert done.returncode == 0, done.stdout + done.stderr
    found = lines(done)
    assert found["config"].startswith("ok   config: loaded from ")
    assert found["redis"].startswith("ok   redis: Redis at redis://127.0.0.1:")
    assert found["worker"] == f"ok   worker: worker {NODE} answers"
    live = health("--role", "worker", "--live", "--hostname", NODE, config=echo_worker)
    assert live.returncode == 0, live.stdout
    assert lines(live)["worker"] == f"ok   worker: worker {NODE} answers"


def test_worker_role_is_ready_on_its_hosts_fresh_heartbeat(echo_worker: Path) -> None:
    # Readiness finds the heartbeat of the worker on this host (the node name's part after "@") ...
    host = socket.gethostname()
    done = health("--role", "worker", "--hostname", f"no-such-node@{host}", config=echo_worker)
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines(done)["worker"].startswith(f"ok   worker: worker {host}:")
    assert lines(done)["worker"].endswith(" has a fresh heartbeat")
    # ... while liveness asks that node's own Celery loop, which does not exist.
    live = health(
        "--role",
        "worker",
        "--live",
        "--hostname",
        f"no-such-node@{host}",
        "--timeout",
        "0.5",
        config=echo_worker,
    )
    assert live.returncode == 1
    assert lines(live)["worker"].startswith(f"FAIL worker: worker no-such-node@{host} did not answer a ping")


def test_worker_role_fails_without_a_heartbeat_or_an_answer(echo_worker: Path) -> None:
    done = health("--role", "worker", "--hostname", "nobody@nowhere", "--timeout", "0.5", config=echo_worker)
    assert done.returncode == 1
    assert lines(done)["worker"] == (
        "FAIL worker: no worker on nowhere has a fresh heartbeat, and worker nobody@nowhere did not answer a "
        "ping within 0.5 s (starting, loading its model, stuck, or started with another --hostname)"
    )


def test_bot_role_passes_with_sqlite_redis_and_an_inference_worker(echo_worker: Path, tmp_path: Path) -> None:
    cfg = config(tmp_path / "bot.toml", sqlite_store(tmp_path))
    cfg.write_text(cfg.read_text() + echo_worker.read_text(), encoding="utf-8")
    done = health("--role", "bot", "--json", config=cfg)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["role"], report["live"], report["ok"]) == ("bot", False, True)
    checks = {c["name"]: c for c in report["checks"]}
    assert list(checks) == ["config", "store", "redis", "workers"]
    assert checks["store"]["detail"] == f"sqlite at sqlite:///{tmp_path / 'botkit.sqlite3'} answers"
    assert "inference worker(s) with a fresh heartbeat: " in checks["workers"]["detail"]
    assert all(c["ok"] and c["seconds"] < 5 for c in checks.values())


def test_bot_role_warns_when_no_inference_worker_is_alive_and_fails_only_if_asked(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)  # a Redis of its own: no worker's heartbeat, no worker to answer
    server.start()
    try:
        cfg = config(tmp_path / "bot.toml", sqlite_store(tmp_path), redis_url=server.url, model=NO_MODEL)
        # A bot with no worker still answers "busy": it stays ready (in its Service), the line warns.
        done = health("--role", "bot", "--timeout", "0.5", config=cfg)
        strict = health("--role", "bot", "--timeout", "0.5", "--require-queue", config=cfg)
    finally:
        server.stop()
    reason = (
        "no inference worker has a heartbeat, and none consuming 'botkit.inference' answered "
        "within 0.5 s; replies would wait: start one with botkit worker"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines(done)["redis"].startswith("ok   redis: ")
    assert lines(done)["workers"] == f"WARN workers: {reason}"
    assert strict.returncode == 1
    assert lines(strict)["workers"] == f"FAIL workers: {reason}"


@pytest.mark.parametrize("role", ["bot", "worker"])
def test_redis_down_fails_with_a_clear_line(role: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    cfg = config(
        tmp_path / "bot.toml",
        sqlite_store(tmp_path),
        redis_url=f"redis://botkit:s3cret@127.0.0.1:{port}/0",
        model=NO_MODEL,
    )
    # The bot role fails on Redis only when asked to: without it the bot still answers "busy".
    extra = ("--require-queue",) if role == "bot" else ()
    done = health("--role", role, *extra, config=cfg)
    assert done.returncode == 1
    found = lines(done)
    assert found["redis"].startswith(
        f"FAIL redis: Redis at redis://botkit:***@127.0.0.1:{port}/0 is not reachable"
    )
    if role == "bot":
        lenient = health("--role", "bot", config=cfg)
        assert lenient.returncode == 0, lenient.stdout + lenient.stderr
        assert lines(lenient)["redis"].startswith("WARN redis: Redis at redis://botkit:***@127.0.0.1:")
    assert "Connection refused" in found["redis"]
    assert "workers" not in found  # not asked: it would only repeat the cause
    assert "worker" not in found
    assert "s3cret" not in done.stdout + done.stderr
    if role == "worker":  # liveness: a restart would not bring Redis back
        live = health("--role", "worker", "--live", config=cfg)
        assert live.returncode == 0
        assert lines(live)["worker"].startswith("ok   worker: not asked: Redis at ")


def test_redis_refusing_the_password_fails_clearly(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password="right-one", user="botkit")
    server.start()
    try:
        cfg = config(
            tmp_path / "bot.toml",
            sqlite_store(tmp_path),
            redis_url=server.url_as("botkit", "wrong-one"),
            model=NO_MODEL,
        )
        done = health("--role", "worker", config=cfg)
    finally:
        server.stop()
    assert done.returncode == 1
    assert "refused the credentials" in lines(done)["redis"]
    assert "wrong-one" not in done.stdout + done.stderr


def test_bot_role_with_only_a_sqlite_store(tmp_path: Path) -> None:
    done = health("--role", "bot", config=config(tmp_path / "bot.toml", sqlite_store(tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(lines(done)) == ["config", "store"]  # the embedded queue: no Redis to ask


def test_a_missing_sqlite_file_fails(tmp_path: Path) -> None:
    done = health("--role", "bot", config=config(tmp_path / "bot.toml", f'data_dir = "{tmp_path / "none"}"'))
    assert done.returncode == 1
    assert lines(done)["store"] == (
        f"FAIL store: SQLite file {tmp_path / 'none' / 'botkit.sqlite3'} does not exist "
        "(botkit run creates it at start)"
    )
    assert not (tmp_path / "none").exists()  # the check made nothing


def test_a_reachable_postgresql_passes(postgres_url: str, tmp_path: Path) -> None:
    done = health("--role", "bot", config=config(tmp_path / "bot.toml", f'database_url = "{postgres_url}"'))
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines(done)["store"].startswith("ok   store: postgresql at postgresql+psycopg://")


def test_an_unreachable_postgresql_fails_clearly_and_quickly(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://botkit:pg-s3cret@127.0.0.1:{free_port()}/botkit"
    done = health("--role", "bot", "--json", config=config(tmp_path / "bot.toml", f'database_url = "{url}"'))
    assert done.returncode == 1
    [store] = [c for c in json.loads(done.stdout)["checks"] if c["name"] == "store"]
    assert store["ok"] is False
    assert store["detail"].startswith(
        "cannot reach the database at postgresql+psycopg://botkit:***@127.0.0.1:"
    )
    assert "Connection refused" in store["detail"] or "connection failed" in store["detail"]
    assert store["seconds"] < 4
    assert "pg-s3cret" not in done.stdout + done.stderr


def test_a_config_that_does_not_load_exits_2(tmp_path: Path) -> None:
    done = health(config=config(tmp_path / "bot.toml", "no_such_setting = 1"))
    assert done.returncode == 2
    assert lines(done)["config"].startswith("FAIL config: ")
    assert "no_such_setting" in done.stdout


async def _health_async(*args: str) -> tuple[int, str]:
    """:func:`health` without blocking this event loop, which serves the bot's /healthz meanwhile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTKIT_")}
    proc = await asyncio.create_subprocess_exec(
        str(BOTKIT_BIN), "health", *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_bot_liveness_asks_the_web_servers_healthz(tmp_path: Path) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise AssertionError("/healthz is answered before the app")

    port = free_port()
    cfg = config(tmp_path / "bot.toml", 'adapters = ["web"]', "[web]", 'listen = "0.0.0.0"', f"port = {port}")
    code, out = await _health_async("--role", "bot", "--live", "--config", str(cfg))
    assert code == 1  # nothing serves it yet
    assert out.startswith(
        f"ok   config: loaded from {cfg}\nFAIL loop: http://127.0.0.1:{port}/healthz did not answer"
    )
    server = AsgiServer("web")
    await server.start(app, bind_socket("0.0.0.0", port, "web"))
    try:
        code, out = await _health_async("--role", "bot", "--live", "--config", str(cfg))
    finally:
        await server.stop()
    assert code == 0, out
    assert out.splitlines()[1] == f"ok   loop: http://127.0.0.1:{port}/healthz answered 200"
