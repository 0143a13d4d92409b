"""Payload fixtures the adapter tests replay: the repository's own, and the shared corpus where it exists.

``tests/adapters/fixtures/<platform>.json`` ships with the repository and covers each platform's update
kinds (text, command, edit, button, mention, thread, DM, the bot's own message, attachment, unknown and
malformed events, and the platform's handshakes), so a clone that stands alone tests every adapter. The
shared corpus of real captured payloads (``../shared/platform-payloads``, beside the clone) is replayed
wherever it is checked out: its tests are skipped, with the reason, when it is absent, except in CI (the
``CI`` environment variable set), where its absence fails them. Collection never fails either way.

Both files hold JSON lists of entries: ``name``, ``kind``, ``payload``, ``expect`` (the sentence the test's
check for that name turns into assertions), and for Slack sometimes ``form`` or ``headers``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "platform-payloads"
MISSING = "../shared/platform-payloads not found: the shared corpus is replayed in CI"


def _read(path: Path) -> dict[str, dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return {entry["name"]: entry for entry in entries}


def fixtures(platform: str) -> dict[str, dict[str, Any]]:
    """The repository's own payload entries for ``platform``, by name."""
    return _read(FIXTURES / f"{platform}.json")


def shared(platform: str) -> dict[str, dict[str, Any]]:
    """The shared corpus's entries for ``platform``, by name; empty when the corpus is not checked out."""
    path = SHARED / f"{platform}.json"
    return _read(path) if path.is_file() else {}


def shared_params(platform: str, *only: str) -> list[Any]:
    """Parameters for a test over the shared corpus (or ``only`` those entries): one per entry, or one
    stand-in when the corpus is absent.

    The stand-in (``None``) is skipped with the reason, or, in CI, runs and fails in :func:`require`.
    """
    entries = shared(platform)
    if entries:
        return [pytest.param(name, id=name) for name in sorted(entries) if not only or name in only]
    marks = [] if os.environ.get("CI") else [pytest.mark.skip(reason=MISSING)]
    return [pytest.param(None, id="shared-corpus", marks=marks)]


def whole_params(platform: str) -> list[Any]:
    """One parameter for a test over the whole shared corpus (``"all"``), or the stand-in when absent."""
    if shared(platform):
        return [pytest.param("all", id="shared-corpus")]
    marks = [] if os.environ.get("CI") else [pytest.mark.skip(reason=MISSING)]
    return [pytest.param(None, id="shared-corpus", marks=marks)]


def require_all(platform: str, present: str | None) -> dict[str, dict[str, Any]]:
    """The whole shared corpus by name; fails the test when it is missing (only reached in CI)."""
    if present is None:
        _missing(platform)
    return shared(platform)


def require(platform: str, name: str | None) -> dict[str, Any]:
    """The shared entry ``name``; fails the test when the corpus is missing (only reached in CI)."""
    if name is None:
        _missing(platform)
    return shared(platform)[name]


def _missing(platform: str) -> NoReturn:
    pytest.fail(
        f"CI is set but the shared payload corpus is missing: expected {SHARED / (platform + '.json')} "
        "(check out shared/ beside the repository)"
    )
