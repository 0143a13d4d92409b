"""The Kubernetes probes mean something: the bot runs 2+ replicas sharing the intake through Redis, and every
probe of the bot and the worker is a `botkit health` command the real CLI parses (with the role and the
node name of the process it probes) or an HTTP GET of a path and a named port the process really serves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from botkit.asgi_server import HEALTH_PATH
from botkit.cli import build_parser
from botkit.config import Settings, load_settings
from botkit.health.checks import bot_health_url
from botkit.health.queue import default_node
from tests.deploy.k8s_objects import containers, objects, workloads

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings every pod loads from the ConfigMap's botkit.toml (no BOTKIT_ variables of this shell)."""
    for name in [n for n in os.environ if n.startswith("BOTKIT_")]:
        monkeypatch.delenv(name)
    [config] = [o for o in objects() if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "botkit-config"]
    path = tmp_path / "botkit.toml"
    path.write_text(config["data"]["botkit.toml"])
    return load_settings(path)


def container(name: str) -> dict[str, Any]:
    [found] = containers(workloads()[name])
    return found


def health_args(probe: dict[str, Any]) -> Any:
    """A probe's exec command parsed by the real CLI; it must be `botkit health`."""
    argv = probe["exec"]["command"]
    assert argv[:2] == ["botkit", "health"], argv
    args = build_parser().parse_args(argv[1:])  # SystemExit on a flag the CLI does not know
    assert args.handler.__module__ == "botkit.health"
    assert args.config == Path("/etc/botkit/botkit.toml")  # where the ConfigMap is mounted
    return args


def test_the_bot_runs_several_replicas_that_share_the_intake(settings: Settings) -> None:
    bot = workloads()["botkit-bot"]
    assert bot["spec"]["replicas"] >= 2
    # Replicas share de-duplication, order and rate windows only through Redis, in celery mode.
    assert settings.queue.backend == "celery"


def test_every_bot_and_worker_container_has_all_three_probes() -> None:
    for name in ("botkit-bot", "botkit-worker"):
        found = container(name)
        assert set(PROBES) <= set(found), f"{name} lacks {set(PROBES) - set(found)}"
        for kind in PROBES:
            probe = found[kind]
            assert ("exec" in probe) != ("httpGet" in probe), f"{name} {kind}: one handler"
            if "exec" in probe:  # Python's start and 2 s per check fit in the probe's time
                assert probe["timeoutSeconds"] >= 8, f"{name} {kind}"


def test_the_bots_liveness_is_its_web_servers_healthz(settings: Settings) -> None:
    bot = container("botkit-bot")
    ports = {p["name"]: p["containerPort"] for p in bot["ports"]}
    for kind in ("startupProbe", "livenessProbe"):
        probe = bot[kind]["httpGet"]
        assert probe["path"] == HEALTH_PATH  # what botkit.asgi_server answers itself
        assert ports[probe["port"]] == settings.web.port
    # `botkit health --role bot --live` in the pod asks the same server.
    assert bot_health_url(settings) == f"http://127.0.0.1:{settings.web.port}{HEALTH_PATH}"


def test_the_bots_readiness_checks_its_dependencies() -> None:
    args = health_args(container("botkit-bot")["readinessProbe"])
    assert (args.role, args.live) == ("bot", False)


def test_the_workers_probes_ask_its_own_node(settings: Settings) -> None:
    worker = container("botkit-worker")
    ready = health_args(worker["readinessProbe"])
    live = health_args(worker["livenessProbe"])
    assert (ready.role, ready.live, live.role, live.live) == ("worker", False, "worker", True)
    # Both commands name the node the same way: the worker's default (botkit-worker@POD) or one --hostname.
    run = build_parser().parse_args(worker["command"][1:])
    assert ready.hostname == live.hostname == run.hostname
    assert run.queue is None  # it consumes the configured queue, which the scaler watches
    assert default_node().startswith("botkit-worker@")
    ports = {p["name"]: p["containerPort"] for p in worker["ports"]}
    started = worker["startupProbe"]["httpGet"]
    assert str(ports[started["port"]]) == worker["command"][worker["command"].index("--metrics-port") + 1]
    # Liveness waits for the model: the startup probe allows minutes.
    assert worker["startupProbe"]["periodSeconds"] * worker["startupProbe"]["failureThreshold"] >= 300
