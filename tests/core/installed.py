"""Running the *installed* ``botkit`` executable as a user does: its own process, a clean environment.

``python -m botkit.cli`` would put the working directory on ``sys.path`` and hide what a user meets (the
starter's ``plugins`` package not importing); the console script next to ``sys.executable`` does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

BIN = Path(sys.executable).parent
BOTKIT = BIN / "botkit"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONPATH and BOTKIT_* settings (the test's own ones can be added)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("BOTKIT_")}
    return {**env, **extra}


def run_botkit(
    args: list[str],
    stdin: bytes = b"",
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[bytes]:
    """``botkit ARGS`` through the installed executable; never raises for its exit code."""
    return subprocess.run(
        [str(BOTKIT), *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=dict(env) if env is not None else clean_env(),
        timeout=timeout,
        check=False,
    )
