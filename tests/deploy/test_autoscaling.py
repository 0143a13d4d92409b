"""The workers scale on the inference queue's length: the KEDA ScaledObject reads the Redis list Celery
really fills (real tasks sent to a private Redis), with the password of the Secret Redis itself reads; the
HPA alternative reads the botkit_queue_depth gauge the workers really export."""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import prometheus_client
import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from botkit.config import Settings, load_settings
from botkit.queue.app import make_celery
from botkit.queue.metrics import QUEUE_DEPTH, QueueDepth
from botkit.queue.protocol import GENERATE_TASK
from tests.deploy.k8s_objects import K8S, containers, environment, objects, selects, workloads
from tests.deploy.test_k8s_security import SECRETS
from tests.queue.servers import RedisServer, WorkerProcess, free_port, write_config

AUTOSCALING = K8S / "autoscaling"


def manifest(name: str) -> dict[tuple[str, str], dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all((AUTOSCALING / name).read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings every pod loads from the ConfigMap's botkit.toml (no BOTKIT_ variables of this shell)."""
    for name in [n for n in os.environ if n.startswith("BOTKIT_")]:
        monkeypatch.delenv(name)
    [config] = [o for o in objects() if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "botkit-config"]
    path = tmp_path / "botkit.toml"
    path.write_text(config["data"]["botkit.toml"])
    return load_settings(path)


def test_keda_scales_the_worker_on_the_configured_queues_list(settings: Settings) -> None:
    keda = manifest("keda.yaml")
    scaled = keda[("ScaledObject", "botkit-worker")]
    assert scaled["spec"]["scaleTargetRef"]["name"] in workloads()
    assert scaled["spec"]["minReplicaCount"] >= 1  # the bots' readiness asks for a live worker
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == settings.queue.inference_queue
    # The address is the Redis Service's, by its full name (KEDA runs in another namespace), on its port.
    [service] = [o for o in objects() if o["kind"] == "Service" and o["metadata"]["name"] == "botkit-redis"]
    host, port = trigger["metadata"]["address"].rsplit(":", 1)
    assert host.split(".")[0] == "botkit-redis"
    assert host.endswith(".svc.cluster.local")
    assert int(port) == service["spec"]["ports"][0]["port"]
    assert int(trigger["metadata"]["listLength"]) >= 1


def test_keda_logs_in_as_the_workers_do(settings: Settings) -> None:
    keda = manifest("keda.yaml")
    scaled = keda[("ScaledObject", "botkit-worker")]
    [trigger] = scaled["spec"]["triggers"]
    auth = keda[("TriggerAuthentication", trigger["authenticationRef"]["name"])]
    worker = next(c for c in containers(workloads()["botkit-worker"]))
    url = urlsplit(environment(worker, SECRETS)["BOTKIT_QUEUE__REDIS_URL"])
    [password] = auth["spec"]["secretTargetRef"]
    assert password["parameter"] == "password"
    # The Secret's key is the one Redis itself starts with (and tests/deploy knows its value).
    [redis_container] = containers(workloads()["botkit-redis"])
    redis_env = {e["name"]: e for e in redis_container["env"]}
    reference = {"name": password["name"], "key": password["key"]}
    assert redis_env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == reference
    assert SECRETS[(password["name"], password["key"])] == url.password
    [username] = auth["spec"]["env"]
    assert username["parameter"] == "username"
    assert username["containerName"] == worker["name"]
    assert environment(worker, SECRETS)[username["name"]] == url.username == "botkit"


def test_keda_may_reach_redis_through_the_network_policies() -> None:
    policy = manifest("keda.yaml")[("NetworkPolicy", "botkit-redis-from-keda")]
    redis_pod = workloads()["botkit-redis"]["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["spec"]["podSelector"], redis_pod)
    [rule] = policy["spec"]["ingress"]
    [peer] = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "keda"}
    assert peer["podSelector"]["matchLabels"] == {"app": "keda-operator"}
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]


def test_the_hpa_reads_the_gauge_the_workers_export(settings: Settings) -> None:
    hpa = manifest("hpa.yaml")
    autoscaler = hpa[("HorizontalPodAutoscaler", "botkit-worker")]
    target = autoscaler["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "botkit-worker")
    assert target["name"] in workloads()
    assert autoscaler["spec"]["minReplicas"] >= 1  # a worker exports the metric
    [metric] = autoscaler["spec"]["metrics"]
    assert metric["external"]["metric"]["name"] == QUEUE_DEPTH
    assert metric["external"]["metric"]["selector"]["matchLabels"] == {
        "queue": settings.queue.inference_queue
    }
    rules = yaml.safe_load(
        hpa[("ConfigMap", "botkit-prometheus-adapter-rules")]["data"]["external-rules.yaml"]
    )
    [rule] = rules["externalRules"]
    assert rule["seriesQuery"].startswith(QUEUE_DEPTH + "{")
    assert rule["name"]["as"] == QUEUE_DEPTH
    # Prometheus scrapes the workers' metrics port (the annotation prometheus.yaml's pod job reads).
    worker = workloads()["botkit-worker"]
    port = worker["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
    command = next(iter(containers(worker)))["command"]
    assert command[command.index("--metrics-port") + 1] == port


def test_only_one_autoscaler_is_applied_with_the_main_manifests() -> None:
    # deploy/k8s/*.yaml is applied as a whole; the two autoscalers are alternatives, each applied alone.
    kinds = {o["kind"] for o in objects()}
    assert not kinds & {"ScaledObject", "HorizontalPodAutoscaler", "TriggerAuthentication"}


@pytest.fixture
def queued(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[Settings, redis.Redis]]:
    """Settings whose inference queue nobody consumes, on the session's private Redis."""
    path = tmp_path / "botkit.toml"
    queue = f"scale-test-{uuid.uuid4().hex[:8]}"
    path.write_text(
        f'[queue]\nbackend = "celery"\nredis_url = "{redis_server.url}"\ninference_queue = "{queue}"\n'
    )
    client = redis.Redis.from_url(redis_server.url)
    try:
        yield load_settings(path), client
    finally:
        client.delete(queue)
        client.close()


def test_the_list_keda_reads_and_the_exported_gauge_count_the_waiting_requests(
    queued: tuple[Settings, redis.Redis],
) -> None:
    settings, client = queued
    app = make_celery(settings)
    try:
        for n in range(5):  # as the bot sends them (routed to the inference queue by task_routes)
            app.send_task(GENERATE_TASK, args=[f"r{n}", [], {}, 0.0])
    finally:
        app.close()
    name = settings.queue.inference_queue
    assert client.llen(name) == 5  # the list KEDA's listName names
    registry = prometheus_client.CollectorRegistry()
    registry.register(QueueDepth(client, name))
    text = prometheus_client.generate_latest(registry).decode()  # what Prometheus scrapes
    [family] = [f for f in text_string_to_metric_families(text) if f.name == QUEUE_DEPTH]
    assert [(s.labels, s.value) for s in family.samples] == [({"queue": name}, 5.0)]


def test_the_gauge_has_no_sample_while_redis_is_down() -> None:
    down = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    registry = prometheus_client.CollectorRegistry()
    registry.register(QueueDepth(down, "botkit.inference"))
    text = prometheus_client.generate_latest(registry).decode()
    assert f"# TYPE {QUEUE_DEPTH} gauge" in text
    assert f"{QUEUE_DEPTH}{{" not in text  # no 0 that would scale the workers in


def test_a_real_worker_serves_the_gauge_on_its_metrics_port(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    queue = f"scale-test-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "botkit.toml", redis_server.url, tmp_path, inference_queue=queue)
    port = free_port()
    # An echo worker (no model) consuming another queue, so that what is sent to this one waits.
    worker = WorkerProcess(
        tmp_path, config, tmp_path, "--echo", "--queue", "elsewhere", "--metrics-port", str(port)
    )
    client = redis.Redis.from_url(redis_server.url)
    try:
        worker.wait_ready()
        app = make_celery(load_settings(config))
        try:
            for n in range(3):
                app.send_task(GENERATE_TASK, args=[f"r{n}", [], {}, 0.0])
        finally:
            app.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        worker.stop()
        client.delete(queue)
        client.close()
    [family] = [f for f in text_string_to_metric_families(text) if f.name == QUEUE_DEPTH]
    assert [(s.labels, s.value) for s in family.samples] == [({"queue": queue}, 3.0)]
