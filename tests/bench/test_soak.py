"""The soak benchmark's short form: ``bench/soak.py`` for half a minute through its real processes.

The script starts its own redis-server, ``botkit worker`` with a tiny model and ``botkit run`` with the
Telegram webhook and Slack Events adapters (the processes of tests/queue/test_replicas_processes.py), and
the fake platforms. This asserts what must hold at any length: no error of any kind, every message answered
exactly once, memory read from every process at every sample, and the JSON line, CSV and plot it promises.
Memory growth and a flat p99 are the 30-minute benchmark's targets (README, "Soak"), not asserted here.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MINUTES, RATE, SAMPLE_S = 0.3, 4, 2.0  # 72 messages, a sample every 2 s
PROCESSES = {"redis-server", "botkit worker", "botkit run"}
FIELDS = {
    "bench", "minutes", "rate_per_s", "warmup_minutes", "users_per_platform", "messages", "answered_once",
    "errors", "error_kinds", "processes", "latency_ms", "p99_ms_after_warmup", "per_minute", "load_avg_1m",
    "cpus", "csv", "plot", "log_error_lines",
}  # fmt: skip

# Its fixed rate must be answered within the run: kept off the worker that runs the fault tests (see
# tests/queue/test_fault_recovery.py), so it never shares the CPUs with another process-heavy test of theirs.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), pytest.mark.xdist_group("faults")]


def test_soak_answers_every_message_once_without_errors_and_samples_every_process(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    args = ["--minutes", str(MINUTES), "--rate", str(RATE), "--warmup-minutes", "0.1"]
    args += ["--model", str(tiny_model_dir)]  # the session's tiny model, made once for every test
    args += [
        "--sample-s",
        str(SAMPLE_S),
        "--csv",
        str(tmp_path / "soak.csv"),
        "--plot",
        str(tmp_path / "soak.png"),
    ]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), *args, "--keep", str(tmp_path / "work")],
        capture_output=True,
        cwd=tmp_path,  # the script finds the repository from its own path, not from the working directory
        timeout=200,
        check=False,
    )
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode == 0, stderr[-4000:]
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert set(result) == FIELDS

    messages = int(MINUTES * 60 * RATE)
    assert result["messages"] == messages
    assert result["error_kinds"] == dict.fromkeys(
        ("http", "lost", "duplicated", "notices", "log_errors", "exited"), 0
    ), result["log_error_lines"]
    assert result["errors"] == 0
    assert result["answered_once"] == messages  # one reply per message, none of them a busy/error notice

    samples_each = MINUTES * 60 / SAMPLE_S
    assert set(result["processes"]) == PROCESSES
    for name, figure in result["processes"].items():
        assert figure["samples"] >= samples_each - 1, name
        assert 0 < figure["start_mib"] <= figure["peak_mib"], name  # a real RSS was read, not a dead pid's 0
    with (tmp_path / "soak.csv").open(encoding="utf-8") as rows:
        read = list(csv.DictReader(rows))
    assert {row["process"] for row in read} == PROCESSES
    assert len(read) == sum(figure["samples"] for figure in result["processes"].values())
    assert all(float(row["rss_mib"]) > 0 for row in read)

    assert [m["minute"] for m in result["per_minute"]] == [0]
    assert sum(m["messages"] for m in result["per_minute"]) == messages
    assert all(0 < m["p50_ms"] <= m["p99_ms"] for m in result["per_minute"])
    assert (tmp_path / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
