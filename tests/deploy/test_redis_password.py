"""Redis's password in compose and systemd, and the deployment files' own Redis command really run.

The redis command of compose.yaml and of k8s/redis.yaml is run here with this machine's redis-server (the
image's is the same Redis 7): it must refuse a client without the password, accept the URL the bot is
given, and its health check must pass with the password and fail without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botkit.config import load_settings
from botkit.queue.connection import QueueRefused, check_credentials
from tests.deploy.compose_file import DEPLOY, MissingVariable, compose, raw_compose
from tests.deploy.k8s_objects import containers, workloads
from tests.deploy.test_compose_desk import SECRETS
from tests.queue.servers import REDIS_BIN, free_port

PASSWORD = SECRETS["REDIS_PASSWORD"]
REDIS_CLIENTS = ("bot", "worker", "beat", "jobs")


def test_compose_requires_the_redis_password() -> None:
    others = {name: value for name, value in SECRETS.items() if name != "REDIS_PASSWORD"}
    with pytest.raises(
        MissingVariable, match="REDIS_PASSWORD is missing a value: set REDIS_PASSWORD in deploy/"
    ):
        compose(others)


def test_every_compose_process_reaches_redis_with_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = compose(SECRETS)
    expected = f"redis://botkit:{PASSWORD}@redis:6379/0"
    for name in REDIS_CLIENTS:
        service = stack["services"][name]
        assert service["environment"]["BOTKIT_QUEUE__REDIS_URL"] == expected, name
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}, name
    assert stack["services"]["flower"]["environment"]["BROKER_URL"] == expected
    assert not any("redis://" in str(arg) for arg in stack["services"]["flower"]["command"])
    monkeypatch.setenv("BOTKIT_QUEUE__REDIS_URL", expected)
    assert load_settings(None).queue.redis_url == expected  # botkit accepts it as its setting
    # Nowhere is Redis reached without credentials.
    assert "redis://redis:" not in (DEPLOY / "compose.yaml").read_text()


def test_compose_runs_botkit_read_only_without_privileges() -> None:
    stack = raw_compose()
    for name in REDIS_CLIENTS:
        service = stack["services"][name]
        assert service["read_only"] is True, name
        assert set(service["tmpfs"]) == {"/tmp", "/home/botkit/.botkit", "/home/botkit/.cache"}, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


@pytest.mark.parametrize("unit", sorted((DEPLOY / "systemd").glob("*.service")), ids=lambda p: p.name)
def test_every_unit_reads_redis_from_the_root_only_environment_file(unit: Path) -> None:
    lines = unit.read_text().splitlines()
    assert "EnvironmentFile=-/etc/botkit/botkit.env" in lines
    assert not any(line.startswith("Environment=") and "REDIS" in line for line in lines)
    assert "NoNewPrivileges=yes" in lines
    assert "ProtectSystem=strict" in lines


def test_the_bot_unit_says_how_to_write_the_redis_url_and_acl() -> None:
    text = (DEPLOY / "systemd" / "botkit-bot.service").read_text()
    assert "#   BOTKIT_QUEUE__REDIS_URL=redis://botkit:REDIS_PASSWORD@127.0.0.1:6379/0" in text
    assert "#   user default off" in text
    assert "#   user botkit on >REDIS_PASSWORD ~* &* +@all -@dangerous" in text


def _shell(script: str, port: int) -> str:
    """A container's shell script pointed at this machine's binaries and a private port."""
    if shutil.which("redis-cli") is None:
        pytest.fail("redis-cli not found: install it (apt-get install redis-tools)")
    script = script.replace("exec redis-server ", f"exec {REDIS_BIN} --port {port} --bind 127.0.0.1 ", 1)
    return script.replace("redis-cli ", f"redis-cli -p {port} ")


@pytest.fixture(params=["compose", "k8s"])
def deployed_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    """The redis of compose.yaml or k8s/redis.yaml, started as its file says; (port, health check argv)."""
    if request.param == "compose":
        service: Any = compose(SECRETS)["services"]["redis"]
        command, check = service["command"], ["sh", "-c", service["healthcheck"]["test"][1]]
    else:
        [container] = containers(workloads()["botkit-redis"])
        command, check = container["command"], container["readinessProbe"]["exec"]["command"]
    assert command[:2] == ["sh", "-c"]
    port = free_port()
    env = {**os.environ, "REDIS_PASSWORD": PASSWORD}
    with (tmp_path / "redis.log").open("wb") as log:
        proc = subprocess.Popen(
            ["sh", "-c", _shell(command[2], port)], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    try:
        for _ in range(100):
            if proc.poll() is not None:
                pytest.fail(f"the deployment's redis command exited:\n{(tmp_path / 'redis.log').read_text()}")
            if check_credentials(f"redis://botkit:{PASSWORD}@127.0.0.1:{port}/0", timeout_s=0.2):
                break
            time.sleep(0.05)
        yield port, [*check[:2], _shell(check[2], port)]
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_deployed_redis_refuses_anyone_without_the_password(
    deployed_redis: tuple[int, list[str]],
) -> None:
    port, _ = deployed_redis
    assert check_credentials(f"redis://botkit:{PASSWORD}@127.0.0.1:{port}/0", timeout_s=1.0) is True
    for url in (f"redis://127.0.0.1:{port}/0", f"redis://botkit:wrong@127.0.0.1:{port}/0"):
        with pytest.raises(QueueRefused, match=r"requires authentication|refused the credentials"):
            check_credentials(url, timeout_s=1.0)
    with pytest.raises(QueueRefused):  # the default user is off, not just password-less
        check_credentials(f"redis://default:{PASSWORD}@127.0.0.1:{port}/0", timeout_s=1.0)


def test_the_deployed_health_check_logs_in(deployed_redis: tuple[int, list[str]]) -> None:
    _, check = deployed_redis
    right = subprocess.run(
        check, env={**os.environ, "REDIS_PASSWORD": PASSWORD}, capture_output=True, check=False
    )
    assert right.returncode == 0, right.stderr
    wrong = subprocess.run(
        check, env={**os.environ, "REDIS_PASSWORD": "wrong"}, capture_output=True, check=False
    )
    assert wrong.returncode != 0
