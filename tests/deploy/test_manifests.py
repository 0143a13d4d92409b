"""The deployment files parse, and every botkit command they run is one the CLI accepts.

No container engine runs here, so the check is on what can be checked: YAML that loads, Kubernetes
objects with the fields a cluster needs, and each ``botkit ...`` command line parsed by the real
argument parser (a renamed flag would break a deployment silently otherwise).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from botkit.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _botkit_commands(node: Any) -> list[list[str]]:
    """Every command list in a YAML tree whose program is botkit."""
    found: list[list[str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "command" and isinstance(value, list) and value and value[0] == "botkit":
                found.append([str(v) for v in value])
            else:
                found.extend(_botkit_commands(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_botkit_commands(item))
    return found


def _deployment(manifest: str) -> Any:
    """The Deployment in a manifest (bot.yaml also holds its Services)."""
    documents = yaml.safe_load_all((DEPLOY / "k8s" / manifest).read_text())
    [deployment] = [d for d in documents if d and d["kind"] == "Deployment"]
    return deployment


def _parses(argv: list[str]) -> None:
    args = build_parser().parse_args(argv[1:])  # SystemExit on an unknown flag fails the test
    assert getattr(args, "handler", None) is not None, f"{argv} names no botkit command"


def test_compose_file() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert {"redis", "worker", "bot", "flower", "beat", "jobs"} <= set(compose["services"])
    commands = _botkit_commands(compose)
    for command in ("worker", "run", "beat", "jobs"):
        assert any(c[1] == command for c in commands), f"compose runs no botkit {command}"
    for command in commands:
        _parses(command)


# Which Dockerfile target (deploy/Dockerfile) each botkit process runs from: only the worker has torch.
TARGETS = {"worker": "worker", "bot": "bot", "flower": "bot", "beat": "bot", "jobs": "bot"}


@pytest.mark.parametrize(("service", "target"), TARGETS.items())
def test_compose_builds_each_service_from_its_target(service: str, target: str) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    spec = compose["services"][service]
    assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
    assert spec["build"]["target"] == target
    assert spec["image"] == f"botkit-{target}:latest"
    # The processes exit on failures they cannot heal; a stop on purpose stays a stop.
    assert spec["restart"] == "on-failure"


def test_compose_worker_serves_the_metrics_its_health_check_reads() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    command = compose["services"]["worker"]["command"]
    assert command[command.index("--metrics-port") + 1] == "9100"


@pytest.mark.parametrize("manifest", sorted((DEPLOY / "k8s").glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifest(manifest: Path) -> None:
    documents = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    assert documents
    for document in documents:
        assert {"apiVersion", "kind", "metadata"} <= set(document), f"{manifest.name}: incomplete object"
        assert document["metadata"].get("name")
    for command in _botkit_commands(documents):
        _parses(command)


@pytest.mark.parametrize(
    ("manifest", "target"),
    [("bot.yaml", "bot"), ("worker.yaml", "worker"), ("beat.yaml", "bot"), ("jobs.yaml", "bot")],
)
def test_kubernetes_runs_each_process_from_its_image(manifest: str, target: str) -> None:
    deployment = _deployment(manifest)
    pod = deployment["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["containers"]] == [f"botkit-{target}:latest"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # A Deployment's pods always restart (the only policy it allows): a process that exits is started again.
    assert pod.get("restartPolicy", "Always") == "Always"


def test_worker_has_started_once_its_metrics_answer() -> None:
    worker = yaml.safe_load((DEPLOY / "k8s" / "worker.yaml").read_text())
    container = worker["spec"]["template"]["spec"]["containers"][0]
    probe = container["startupProbe"]["httpGet"]
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == probe["port"])
    command = container["command"]
    assert str(port) == command[command.index("--metrics-port") + 1]
    assert probe["path"] == "/metrics"


def test_worker_deployment_asks_for_a_gpu() -> None:
    worker = yaml.safe_load((DEPLOY / "k8s" / "worker.yaml").read_text())
    containers = worker["spec"]["template"]["spec"]["containers"]
    limits = containers[0]["resources"]["limits"]
    assert str(limits["nvidia.com/gpu"]) == "1"


@pytest.mark.parametrize("unit", sorted((DEPLOY / "systemd").glob("*.service")), ids=lambda p: p.name)
def test_systemd_unit(unit: Path) -> None:
    text = unit.read_text().replace("\\\n", " ")  # join continued lines like systemd does
    sections = {line.strip() for line in text.splitlines() if line.startswith("[")}
    assert {"[Unit]", "[Service]", "[Install]"} <= sections
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0].endswith("/botkit")
    _parses(["botkit", *argv[1:]])
    # Restarted after a failure (the worker no longer restarts itself); `systemctl stop` stays a stop.
    assert "Restart=on-failure" in text.splitlines()


def test_beat_runs_exactly_once_everywhere() -> None:
    """Each tick is sent once because one beat runs: never scaled, never two during a rollout."""
    beat = yaml.safe_load((DEPLOY / "k8s" / "beat.yaml").read_text())
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert "deploy" not in compose["services"]["beat"]  # no replicas: setting
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    beats = [u.name for u in units if "/botkit beat " in u.read_text().replace("\\\n", " ")]
    assert beats == ["botkit-beat.service"]
    assert "@" not in beats[0]  # a plain unit, not a template that could be started several times


def test_jobs_workers_consume_the_jobs_queue_with_the_bots_config() -> None:
    """A jobs worker loads the same plugins as the bot: the same config file in every deployment."""
    jobs = _deployment("jobs.yaml")
    bot = _deployment("bot.yaml")
    [container] = jobs["spec"]["template"]["spec"]["containers"]
    [bot_container] = bot["spec"]["template"]["spec"]["containers"]
    config = container["command"][container["command"].index("--config") + 1]
    assert {"name": "BOTKIT_CONFIG", "value": config} in bot_container["env"]
    assert container["envFrom"] == bot_container["envFrom"]  # the platform tokens a job may need


def test_the_bot_unit_reads_the_database_url_from_its_environment_file() -> None:
    """The URL holds the database password: it goes in the root-only environment file, not the unit."""
    unit = (DEPLOY / "systemd" / "botkit-bot.service").read_text()
    lines = unit.splitlines()
    assert "EnvironmentFile=-/etc/botkit/botkit.env" in lines
    assert "#   BOTKIT_DATABASE_URL=postgresql+psycopg://botkit:PASSWORD@127.0.0.1:5432/botkit" in lines
    after = next(line for line in lines if line.startswith("After=")).split("=", 1)[1].split()
    assert "postgresql.service" in after
    assert not any(line.startswith("Environment=") and "DATABASE_URL" in line for line in lines)
    for port in ("[web] listen", "[console] port", "[desk] enabled = true, metrics_port"):
        assert port in unit, f"the unit's comment says where {port} is set"
