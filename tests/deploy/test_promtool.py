"""Prometheus' own checker reads what botkit ships for it: the compose scrape config, and every query of the
Grafana dashboard as PromQL (written into a rules file, the form ``promtool check rules`` parses).

promtool comes with Debian's ``prometheus`` package (``apt-get install prometheus``; the binary alone is
``/usr/bin/promtool`` inside it) or Prometheus' release archives; ``PROMTOOL`` names another path. Debian's
build leaves out Kubernetes service discovery, so ``k8s/prometheus.yaml``'s config is read by
test_k8s_desk.py, not here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.compose_file import DEPLOY


@pytest.fixture(scope="module")
def promtool() -> str:
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not found:
        pytest.fail(
            "promtool not found: apt-get install prometheus (Debian's package ships /usr/bin/promtool), "
            "or set PROMTOOL=/path/to/promtool"
        )
    return found


def _check(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, "check", *args], capture_output=True, text=True, timeout=60, check=False)


def _rules_file(path: Path, exprs: list[str]) -> Path:
    rules = [{"record": f"botkit:query{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return path


def test_the_compose_scrape_config_is_valid(promtool: str) -> None:
    result = _check(promtool, "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_dashboard_query_is_promql(promtool: str, tmp_path: Path) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "botkit.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] if p["type"] != "row" for t in p["targets"]]
    result = _check(promtool, "rules", str(_rules_file(tmp_path / "rules.yml", exprs)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout + result.stderr


def test_a_broken_query_is_refused(promtool: str, tmp_path: Path) -> None:
    """The check above can fail: a bracket left open is a parse error with its place."""
    result = _check(promtool, "rules", str(_rules_file(tmp_path / "bad.yml", ["max by (reason (x)"])))
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr
