"""deploy/grafana/dashboards/botkit.json: a dashboard Grafana loads, on the provisioned Prometheus, whose
every query reads a metric botkit really exports (collected from the running code, see promql.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.compose_file import DEPLOY
from tests.deploy.promql import desk_series, metric_names, worker_series

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "botkit.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that draw queries (rows only group them)."""
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dashboard) for t in p["targets"]]


def test_the_dashboard_has_what_grafana_needs(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"]
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in _panels(dashboard):
        assert panel["title"]
        assert panel["type"] in {"stat", "timeseries", "gauge", "bargauge", "table"}
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, f"{panel['title']} is wider than the grid"
        assert panel["targets"], f"{panel['title']} has no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), f"{panel['title']}: refIds repeat"


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_query_uses_the_provisioned_datasource(dashboard: dict[str, Any]) -> None:
    provisioned = DEPLOY / "grafana" / "provisioning" / "datasources"
    uids = {
        s["uid"]: s["type"]
        for p in provisioned.glob("*.yaml")
        for s in yaml.safe_load(p.read_text())["datasources"]
    }
    for panel in _panels(dashboard):
        for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert uids.get(source["uid"]) == source["type"], f"{panel['title']}: unknown datasource {source}"


def test_every_metric_in_the_queries_is_one_botkit_exports(
    dashboard: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = desk_series(tmp_path) | worker_series(monkeypatch)
    for expr in _exprs(dashboard):
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} reads {sorted(names - exported)}, which botkit does not export"


def test_the_dashboard_shows_the_support_and_queue_figures(dashboard: dict[str, Any]) -> None:
    used = set().union(*(metric_names(e) for e in _exprs(dashboard)))
    wanted = {
        "botkit_desk_containment_ratio",
        "botkit_desk_handoff_ratio",
        "botkit_desk_handoffs_total",
        "botkit_desk_waiting_tickets",
        "botkit_desk_oldest_waiting_seconds",
        "botkit_desk_first_reply_seconds",
        "botkit_desk_resolution_seconds",
        "botkit_desk_csat_mean",
        "botkit_requests_total",
        "botkit_generated_tokens_total",
        "botkit_batch_rows_bucket",
    }
    assert wanted <= used, f"missing: {sorted(wanted - used)}"
    handoffs = [e for e in _exprs(dashboard) if "botkit_desk_handoffs_total" in e]
    assert any("by (reason)" in e for e in handoffs), "handoffs are shown by reason"


def test_the_queries_read_each_desk_figure_once_however_many_bots(dashboard: dict[str, Any]) -> None:
    """Every bot replica reports the same desk figures (from the shared tables): summing would multiply."""
    for expr in _exprs(dashboard):
        if "botkit_desk_" in expr:
            assert "sum" not in expr, f"{expr!r} adds up the replicas' copies of one figure"


def test_a_renamed_metric_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a name the desk does not export is found out."""
    assert "botkit_desk_containment_rate" not in desk_series(tmp_path)
    assert metric_names("max(botkit_desk_containment_rate)") == {"botkit_desk_containment_rate"}
