"""deploy/k8s/ as a cluster reads it: every object of every manifest, the pod templates, and a container's
environment with Kubernetes' ``$(VAR)`` references filled in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
WORKLOADS = ("Deployment", "StatefulSet")
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")  # Kubernetes' dependent variables


def objects() -> list[dict[str, Any]]:
    """Every object in deploy/k8s/*.yaml."""
    found: list[dict[str, Any]] = []
    for manifest in sorted(K8S.glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    return found


def workloads() -> dict[str, dict[str, Any]]:
    """Deployments and StatefulSets by name."""
    return {o["metadata"]["name"]: o for o in objects() if o["kind"] in WORKLOADS}


def pod_labels() -> list[dict[str, str]]:
    """The labels of every pod the workloads make."""
    return [w["spec"]["template"]["metadata"]["labels"] for w in workloads().values()]


def volumes(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pod's volumes by name, a StatefulSet's claim templates among them."""
    found = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes", [])}
    for claim in workload["spec"].get("volumeClaimTemplates", []):
        found[claim["metadata"]["name"]] = {"persistentVolumeClaim": claim["spec"]}
    return found


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def environment(container: dict[str, Any], secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The container's environment as Kubernetes builds it: ``secretKeyRef`` from ``secrets``
    (``(name, key) -> value``), then ``$(VAR)`` replaced by a variable defined *earlier* in the list."""
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = secrets[(ref["name"], ref["key"])]
        else:
            env[entry["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), entry["value"]
            )
    return env


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions with In) matches ``labels``."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", "this reader knows the In operator only"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True
