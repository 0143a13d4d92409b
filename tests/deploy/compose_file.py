"""deploy/compose.yaml as compose reads it: YAML, then ``${...}`` filled from an environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

# The forms this compose file uses: ${NAME}, ${NAME:-default}, ${NAME:?message}; $$ is a literal $.
VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}")


class MissingVariable(ValueError):
    """A ``${NAME:?message}`` whose variable is unset or empty: compose stops with the message."""


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """The tree with every ``${...}`` in its strings replaced as compose does."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if not isinstance(node, str):
        return node

    def fill(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, form, argument = match[1], match[2], match[3]
        value = env.get(name, "")
        if value:
            return value
        if form == ":?":
            raise MissingVariable(f"required variable {name} is missing a value: {argument}")
        return argument if form == ":-" else ""

    left = VARIABLE.sub(fill, node)
    assert "${" not in left, f"an interpolation this reader does not know: {node!r}"
    return left


def raw_compose() -> dict[str, Any]:
    """The file as YAML, ``${...}`` left as written."""
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def compose(env: dict[str, str]) -> dict[str, Any]:
    """The file with its variables filled from ``env`` (what ``docker compose config`` would print)."""
    filled: dict[str, Any] = interpolate(raw_compose(), env)
    return filled


def published_container_ports(service: dict[str, Any]) -> set[int]:
    """Container ports a service publishes (``ports``) or opens to the compose network (``expose``)."""
    ports = {int(str(p)) for p in service.get("expose", [])}
    for mapping in service.get("ports", []):
        ports.add(int(str(mapping).rsplit(":", 1)[-1].split("/")[0]))
    return ports


def mount_target(service: dict[str, Any], source: str) -> str:
    """Where a service mounts the host path ``source`` (relative to deploy/, as compose resolves it)."""
    for volume in service.get("volumes", []):
        parts = str(volume).split(":")
        if parts[0] == source:
            return parts[1]
    raise AssertionError(f"{source} is not mounted")
