"""The cluster's own attack surface: Redis's password only from the Secret botkit-redis, no literal secret in
any manifest, NetworkPolicies that select pods that exist and let only botkit's processes reach Redis and
PostgreSQL, and every container non-root on a read-only root filesystem with writable emptyDirs where
botkit writes."""

from __future__ import annotations

import re
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest

from botkit.config import load_settings
from tests.deploy.k8s_objects import (
    containers,
    environment,
    objects,
    pod_labels,
    selects,
    volumes,
    workloads,
)

SECRETS = {
    ("botkit-redis", "password"): "redis-pw-1",
    ("botkit-database", "url"): "postgresql+psycopg://botkit:pg-pw-2@botkit-postgres:5432/botkit",
    ("botkit-postgres", "password"): "pg-pw-2",
}
REDIS_CLIENTS = {"botkit-bot", "botkit-worker", "botkit-beat", "botkit-jobs", "botkit-flower"}
DESK = {"botkit-bot", "botkit-beat", "botkit-jobs"}
BOTKIT_IMAGES = ("botkit-bot:", "botkit-worker:")


def _redis_url(container: dict[str, Any]) -> str | None:
    env = environment(container, SECRETS)
    return env.get("BOTKIT_QUEUE__REDIS_URL") or env.get("BROKER_URL")


@pytest.mark.parametrize("name", sorted(REDIS_CLIENTS))
def test_every_redis_client_takes_the_password_from_the_secret(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    [container] = containers(workloads()[name])
    [password] = [e for e in container["env"] if e["name"] == "REDIS_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": "botkit-redis", "key": "password"}
    url = _redis_url(container)
    assert url == "redis://botkit:redis-pw-1@botkit-redis:6379/0"  # $(REDIS_PASSWORD) filled in, in order
    if name != "botkit-flower":  # botkit reads it as its setting (Flower as Celery's BROKER_URL)
        monkeypatch.setenv("BOTKIT_QUEUE__REDIS_URL", url)
        assert load_settings(None).queue.redis_url == url
    [service] = [o for o in objects() if o["kind"] == "Service" and o["metadata"]["name"] == "botkit-redis"]
    assert urlsplit(url).port == service["spec"]["ports"][0]["port"]


def test_redis_starts_with_the_password_of_the_secret() -> None:
    [container] = containers(workloads()["botkit-redis"])
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "botkit-redis", "key": "password"}
    script = container["command"][2]
    assert "--user default off" in script
    assert '--user botkit on ">$REDIS_PASSWORD"' in script
    assert "REDISCLI_AUTH" in container["readinessProbe"]["exec"]["command"][2]  # the probe logs in too


def _env_values(node: Any) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and isinstance(value, list):
                found += [(e["name"], e) for e in value]
            else:
                found += _env_values(value)
    elif isinstance(node, list):
        for item in node:
            found += _env_values(item)
    return found


def test_no_manifest_holds_a_literal_secret() -> None:
    """A secret-looking variable comes from a Secret; a URL's password is only ever a $(VAR) reference."""
    entries = _env_values(objects())
    assert len(entries) > 10
    for name, entry in entries:
        value = entry.get("value")
        if re.search(r"PASSWORD|SECRET|TOKEN|AUTH", name):
            assert "valueFrom" in entry, f"{name} is written in a manifest"
        elif value and "://" in value:
            password = urlsplit(value).password
            assert password is None or re.fullmatch(r"\$\([A-Z_]+\)", password), f"{name} holds a password"
    [config] = [o for o in objects() if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "botkit-config"]
    toml = tomllib.loads(config["data"]["botkit.toml"])
    assert "redis_url" not in toml["queue"]  # it comes from the environment, with the Secret's password


def test_every_container_is_unprivileged_on_a_read_only_root() -> None:
    assert len(workloads()) >= 7
    for name, workload in workloads().items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        mountable = volumes(workload)
        for container in containers(workload):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"]: mountable[m["name"]] for m in container.get("volumeMounts", [])}
            assert "emptyDir" in mounts["/tmp"], f"{name}: /tmp must be writable"
            if container["image"].startswith(BOTKIT_IMAGES) and container["command"][0] == "botkit":
                for path in ("/home/botkit/.botkit", "/home/botkit/.cache"):  # data dir, HF/torch caches
                    assert "emptyDir" in mounts[path], f"{name}: {path} must be writable"


def _policies() -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects() if o["kind"] == "NetworkPolicy"}


def _allowed_apps(policy: dict[str, Any]) -> set[str]:
    apps: set[str] = set()
    for rule in policy["spec"]["ingress"]:
        for peer in rule["from"]:
            if "podSelector" in peer:
                apps |= {labels["app"] for labels in pod_labels() if selects(peer["podSelector"], labels)}
    return apps


def _policy_for(app: str) -> dict[str, Any]:
    [policy] = [p for p in _policies().values() if p["spec"]["podSelector"] == {"matchLabels": {"app": app}}]
    return policy


def test_ingress_is_denied_unless_a_policy_allows_it() -> None:
    deny = _policies()["botkit-default-deny-ingress"]
    assert deny["apiVersion"] == "networking.k8s.io/v1"
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_every_policy_selects_pods_that_exist_on_ports_they_serve() -> None:
    labels = pod_labels()
    for name, policy in _policies().items():
        chosen = [pod for pod in labels if selects(policy["spec"]["podSelector"], pod)]
        assert chosen, f"{name} selects no pod"
        served: set[Any] = set()
        for workload in workloads().values():
            if selects(policy["spec"]["podSelector"], workload["spec"]["template"]["metadata"]["labels"]):
                for container in containers(workload):
                    for port in container.get("ports", []):
                        served |= {port["containerPort"], port.get("name")}
        for rule in policy["spec"].get("ingress", []):
            for port in rule["ports"]:
                assert port["port"] in served, f"{name}: no selected pod serves {port['port']}"
            for peer in rule["from"]:
                if "podSelector" in peer:
                    assert any(selects(peer["podSelector"], pod) for pod in labels), f"{name}: no such peer"


def test_only_botkits_processes_reach_redis_and_only_the_desks_reach_postgres() -> None:
    assert _allowed_apps(_policy_for("botkit-redis")) == REDIS_CLIENTS
    assert _allowed_apps(_policy_for("botkit-postgres")) == DESK
    # Every process that is given Redis's URL or the database's may reach it: a new one without a rule fails.
    for name, workload in workloads().items():
        for container in containers(workload):
            if _redis_url(container):
                assert name in REDIS_CLIENTS, f"{name} talks to Redis but its policy does not allow it"
            if "BOTKIT_DATABASE_URL" in environment(container, SECRETS):
                assert name in DESK, f"{name} talks to PostgreSQL but its policy does not allow it"


def test_the_bots_widget_and_console_are_reached_from_the_ingress_only() -> None:
    policy = _policy_for("botkit-bot")
    [rule] = policy["spec"]["ingress"]
    assert [peer.keys() for peer in rule["from"]] == [{"namespaceSelector": None}.keys()]
    assert {p["port"] for p in rule["ports"]} == {"web", "console"}
    [ingress] = [o for o in objects() if o["kind"] == "Ingress"]
    assert ingress["spec"]["ingressClassName"] == "nginx"  # the controller of the namespace allowed
    namespace = rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    assert namespace == "ingress-nginx"
