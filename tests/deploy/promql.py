"""The metric names botkit really exports, and the metric names a PromQL expression reads.

The names come from the running code, not from a list kept beside it: the desk's collector is run on an
empty SQLite database of the real schema, and the worker's metric objects are made by ``WorkerMetrics`` (with
its HTTP server left unstarted). A renamed metric therefore breaks the dashboard's test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client import REGISTRY
from prometheus_client.core import Metric

from botkit.db.engine import open_engine
from botkit.desk.metrics import DeskCollector
from botkit.queue.metrics import WorkerMetrics

# The series names each metric type is exposed under (text format 0.0.4, which Prometheus scrapes).
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}


def series_names(families: Iterable[Metric]) -> set[str]:
    """Every series name the families are exposed under, whether or not they have a sample now."""
    names: set[str] = set()
    for family in families:
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
        names |= {sample.name for sample in family.samples}
    return names


def desk_series(tmp_path: Path) -> set[str]:
    """The desk collector's series, collected from an empty database that the migrations made."""
    engine = open_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    try:
        return series_names(DeskCollector(engine).collect())
    finally:
        engine.dispose()


def worker_series(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The worker's series: WorkerMetrics' own objects, its HTTP server not started."""
    monkeypatch.setattr(prometheus_client, "start_http_server", lambda port: None)
    metrics = WorkerMetrics(port=0)
    objects = [metrics._requests, metrics._tokens, metrics._batch]
    try:
        return series_names(family for obj in objects for family in obj.collect())
    finally:
        for obj in objects:  # the global registry, so that another WorkerMetrics can register them again
            REGISTRY.unregister(obj)


# PromQL words that are not metric names: aggregations' clauses, set and binary operators, modifiers.
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "inf",
    "nan",
}
FUNCTIONS = {
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "rate",
    "irate",
    "increase",
    "histogram_quantile",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "clamp_min",
    "clamp_max",
    "topk",
    "abs",
}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects.

    Raises:
        AssertionError: a function this reader does not know (it would be mistaken for a name).
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings (label values)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    names: set[str] = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match[0]
        follows = text[match.end() :].lstrip()[:1]
        if follows == "(":
            assert word in FUNCTIONS, f"unknown PromQL function {word!r} in {expr!r}"
        elif word.lower() not in KEYWORDS:
            names.add(word)
    return names
