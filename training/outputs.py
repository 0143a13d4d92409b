"""Stage output directories: checking they can be written, and marking them complete.

A stage writes ``stage.json`` last, so its presence means the outputs are whole; the pipeline skips a
stage whose output directory has it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

MARKER = "stage.json"


class OutputError(OSError):
    """An output directory that cannot be created or written."""


def check_writable(path: Path) -> Path:
    """Create ``path`` if needed and prove it can be written.

    Raises:
        OutputError: naming the directory and the reason.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"output directory {path} is not writable: {exc.strerror or exc}") from exc
    return path


def mark_complete(path: Path, stage: str, info: dict[str, Any] | None = None) -> None:
    """Write the completion marker of ``stage`` into ``path``."""
    record = {"stage": stage, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    record.update(info or {})
    (Path(path) / MARKER).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def is_complete(path: Path, stage: str) -> bool:
    """Whether ``path`` holds the finished outputs of ``stage``."""
    marker = Path(path) / MARKER
    if not marker.is_file():
        return False
    try:
        return bool(json.loads(marker.read_text()).get("stage") == stage)
    except (OSError, json.JSONDecodeError):
        return False
