"""The Kubernetes desk: PostgreSQL, the database URL from a Secret, the bot's ports as botkit.toml sets them,
Services and an Ingress that reach those ports, and a Prometheus scrape config that finds them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from botkit.config import Settings, load_settings
from tests.deploy.compose_file import DEPLOY

K8S = DEPLOY / "k8s"
DATABASE_SECRET = {"secretKeyRef": {"name": "botkit-database", "key": "url"}}


def _objects(name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """A manifest's objects by (kind, name)."""
    documents = [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


@pytest.fixture(scope="module")
def bot() -> dict[tuple[str, str], dict[str, Any]]:
    return _objects("bot.yaml")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the bot loads from the ConfigMap's botkit.toml (no BOTKIT_ variables of this shell)."""
    for name in [n for n in __import__("os").environ if n.startswith("BOTKIT_")]:
        monkeypatch.delenv(name)
    config = _objects("config.yaml")[("ConfigMap", "botkit-config")]
    path = tmp_path / "botkit.toml"
    path.write_text(config["data"]["botkit.toml"])
    return load_settings(path)


@pytest.mark.parametrize("manifest", ["bot.yaml", "jobs.yaml", "beat.yaml"])
def test_the_desk_processes_read_the_database_url_from_a_secret(manifest: str) -> None:
    [deployment] = [o for (kind, _), o in _objects(manifest).items() if kind == "Deployment"]
    env = {e["name"]: e for e in _container(deployment)["env"]}
    assert env["BOTKIT_DATABASE_URL"]["valueFrom"] == DATABASE_SECRET
    assert "value" not in env["BOTKIT_DATABASE_URL"]


def test_postgres_is_a_stateful_set_with_its_password_from_a_secret() -> None:
    objects = _objects("postgres.yaml")
    stateful = objects[("StatefulSet", "botkit-postgres")]
    service = objects[("Service", "botkit-postgres")]
    assert stateful["spec"]["serviceName"] == service["metadata"]["name"]
    container = _container(stateful)
    assert container["image"].startswith("postgres:")
    env = {e["name"]: e for e in container["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "botkit-postgres"
    [claim] = stateful["spec"]["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/var/lib/postgresql/data"} in container[
        "volumeMounts"
    ]
    assert container["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    [port] = service["spec"]["ports"]
    assert ports[port["targetPort"]] == port["port"] == 5432
    assert service["spec"]["selector"] == stateful["spec"]["template"]["metadata"]["labels"]
    # The URL postgres.yaml's comment tells people to store names this Service.
    assert "@botkit-postgres:5432/botkit" in (K8S / "postgres.yaml").read_text()


def test_the_bot_serves_on_the_container_ports_its_config_sets(
    bot: dict[tuple[str, str], dict[str, Any]], settings: Settings
) -> None:
    deployment = bot[("Deployment", "botkit-bot")]
    container = _container(deployment)
    assert {"name": "BOTKIT_CONFIG", "value": "/etc/botkit/botkit.toml"} in container["env"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert "web" in settings.adapters
    assert "botkit.console" in settings.plugins
    assert settings.desk.enabled
    assert settings.web.listen == settings.console.listen == "0.0.0.0"
    assert ports == {
        "web": settings.web.port,
        "console": settings.console.port,
        "desk-metrics": settings.desk.metrics_port,
    }
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(settings.desk.metrics_port)
    probe = container["livenessProbe"]["httpGet"]  # tests/deploy/test_probes.py checks the others
    assert (probe["port"], probe["path"]) == ("web", "/healthz")


def test_services_and_the_ingress_reach_the_bots_ports(bot: dict[tuple[str, str], dict[str, Any]]) -> None:
    deployment = bot[("Deployment", "botkit-bot")]
    container_ports = {p["name"] for p in _container(deployment)["ports"]}
    services = {name: o for (kind, name), o in bot.items() if kind == "Service"}
    assert set(services) == {"botkit-web", "botkit-console"}
    service_ports: dict[str, set[str]] = {}
    for name, service in services.items():
        assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports
        service_ports[name] = {p["name"] for p in service["spec"]["ports"]}
    ingress = _objects("web-ingress.yaml")[("Ingress", "botkit-web")]
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    paths = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["port"]["name"] in service_ports[backend["name"]]
            paths[path["path"]] = backend["name"]
    assert paths["/ws"] == paths["/"] == "botkit-web"  # the WebSocket and the widget's script and pages
    assert {h for t in ingress["spec"]["tls"] for h in t["hosts"]} == {
        r["host"] for r in ingress["spec"]["rules"]
    }


def test_the_scrape_config_finds_every_annotated_pod_on_a_port_it_serves() -> None:
    config = _objects("prometheus.yaml")[("ConfigMap", "botkit-prometheus")]
    prometheus = yaml.safe_load(config["data"]["prometheus.yml"])
    [job] = prometheus["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    keep = job["relabel_configs"][0]
    assert keep["source_labels"] == ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    assert (keep["action"], keep["regex"]) == ("keep", "true")
    address = next(r for r in job["relabel_configs"] if r.get("target_label") == "__address__")
    assert address["source_labels"] == ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"]
    # Prometheus joins the labels with ";" and anchors the regex (RE2; this one means the same in Python).
    for pod_address in ("10.1.2.3:8080", "10.1.2.3"):
        match = re.fullmatch(address["regex"], f"{pod_address};9200")
        assert match
        assert match.expand(address["replacement"].replace("$", "\\")) == "10.1.2.3:9200"
    annotated = 0
    for manifest in sorted(K8S.glob("*.yaml")):
        for document in (d for d in yaml.safe_load_all(manifest.read_text()) if d):
            if document["kind"] not in {"Deployment", "StatefulSet"}:
                continue
            annotations = document["spec"]["template"]["metadata"].get("annotations", {})
            if annotations.get("prometheus.io/scrape") != "true":
                continue
            served = {str(p["containerPort"]) for p in _container(document).get("ports", [])}
            assert annotations["prometheus.io/port"] in served, (
                f"{manifest.name} annotates a port it does not open"
            )
            annotated += 1
    assert annotated == 2  # the workers' metrics and the bots' desk metrics
