"""Figures for bench/soak.py: resident memory sampled per process, latency per minute, the CSV and the plot.

Memory is the resident set (RSS) of each process and its children, read with psutil when the venv has it,
else from ``/proc/PID/status`` (``VmRSS``). Growth is measured after the warm-up, from the first sample
past it to the last one, so the model load and the first allocations of every code path do not count.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import psutil  # type: ignore[import-untyped]
except ImportError:  # not a declared dependency: /proc gives the same figure on Linux
    psutil = None

MIB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in bytes (0 once it has exited)."""
    if psutil is not None:
        try:
            proc = psutil.Process(pid)
            total: int = proc.memory_info().rss
            for child in proc.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            return total
        except psutil.NoSuchProcess:
            return 0
    return _proc_rss(pid) + sum(_proc_rss(child) for child in _proc_children(pid))


def _proc_rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024  # reported in kB
    return 0


def _proc_children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text(encoding="ascii").split()
        except OSError:
            continue
        for kid in map(int, kids):
            found += [kid, *_proc_children(kid)]
    return found


@dataclass(frozen=True)
class Sample:
    """One reading: ``t_s`` seconds after the traffic started, ``process``'s RSS, the 1-minute load."""

    t_s: float
    process: str
    pid: int
    rss_mib: float
    load1: float


class MemorySampler:
    """Reads every named process's RSS on each :meth:`sample` call (the caller paces it)."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self.samples: list[Sample] = []

    def sample(self, t_s: float) -> None:
        load1 = os.getloadavg()[0]
        for name, pid in self.pids.items():
            self.samples.append(Sample(round(t_s, 2), name, pid, rss_bytes(pid) / MIB, load1))

    def latest(self) -> dict[str, float]:
        """The last RSS of each process, in MiB."""
        return {s.process: s.rss_mib for s in self.samples[-len(self.pids) :]}


def growth(samples: Sequence[Sample], warmup_s: float) -> dict[str, dict[str, Any]]:
    """Per process: sample count, RSS at the first sample after the warm-up and at the last, growth in %."""
    result: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(s.process for s in samples):
        own = [s for s in samples if s.process == name]
        after = [s for s in own if s.t_s >= warmup_s] or own[-1:]
        start, end = after[0].rss_mib, after[-1].rss_mib
        result[name] = {
            "pid": own[0].pid,
            "samples": len(own),
            "first_mib": round(own[0].rss_mib, 1),
            "start_mib": round(start, 1),
            "end_mib": round(end, 1),
            "peak_mib": round(max(s.rss_mib for s in own), 1),
            "growth_pct": round(100 * (end - start) / start, 2) if start else None,
        }
    return result


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * q / 100))]


def per_minute(latencies: Sequence[tuple[float, float]]) -> list[dict[str, Any]]:
    """p50/p99 reply latency (ms) of the messages sent in each minute; ``latencies`` = (sent_s, seconds)."""
    minutes: dict[int, list[float]] = {}
    for sent_s, seconds in latencies:
        minutes.setdefault(int(sent_s // 60), []).append(seconds * 1000)
    return [
        {
            "minute": minute,
            "messages": len(values),
            "p50_ms": round(percentile(values, 50), 1),
            "p99_ms": round(percentile(values, 99), 1),
        }
        for minute, values in sorted(minutes.items())
    ]


def write_csv(samples: Sequence[Sample], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["t_s", "process", "pid", "rss_mib", "load1"])
        for s in samples:
            writer.writerow([s.t_s, s.process, s.pid, round(s.rss_mib, 2), round(s.load1, 2)])


def plot(
    samples: Sequence[Sample], minutes: Sequence[Mapping[str, Any]], warmup_s: float, path: Path
) -> None:
    """RSS per process relative to the end of the warm-up (shaded), above p50/p99 latency per minute.

    Relative, because the processes differ twenty-fold in size and the target is the same 10% for each;
    the legend gives each one's size in MiB.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    fig, (mem, lat) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for name, figure in growth(samples, warmup_s).items():
        own = [s for s in samples if s.process == name]
        change = [100 * (s.rss_mib / figure["start_mib"] - 1) for s in own]
        label = f"{name} ({figure['start_mib']:.0f} MiB after warm-up)"
        mem.plot([s.t_s / 60 for s in own], change, label=label)
    mem.axhline(10, color="red", linestyle="--", linewidth=1, label="target: +10%")
    mem.set_ylabel("RSS change (%)")
    mem.legend(loc="lower right", fontsize="small")
    mem.set_title("botkit soak: steady Telegram + Slack webhook traffic, Celery queue, tiny model")
    x = [m["minute"] + 0.5 for m in minutes]
    lat.plot(x, [m["p50_ms"] for m in minutes], marker="o", label="p50")
    lat.plot(x, [m["p99_ms"] for m in minutes], marker="o", label="p99")
    lat.set_ylabel("reply latency (ms)")
    lat.set_ylim(bottom=0)
    lat.set_xlabel("minutes since the traffic started (latency: by the minute the message was sent)")
    lat.legend(loc="upper right")
    for axis in (mem, lat):
        axis.axvspan(0, warmup_s / 60, color="grey", alpha=0.15)
        axis.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
