"""The whole desk as a site owner runs it, for the browser test, through the installed executable:
``botkit kb add`` of the example knowledge base, ``botkit console add-user`` of an agent and an admin, and
``botkit run`` with the web widget, the support desk, the console and the tiny model, each server on a free
port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.core.installed import BOTKIT, clean_env, run_botkit
from tests.web.support import SECRET

EXAMPLE_KB = Path(__file__).resolve().parents[2] / "botkit" / "presets" / "example_kb"
AGENT = ("agnes", "agnes-agent-pass")
ADMIN = ("adam", "adam-admin-pass")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 240) -> None:
    """Return once ``port`` accepts connections; fail with the bot's log if it exits or takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"botkit run exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"botkit run did not open port {port} within {timeout_s} s:\n{log.read_text()}")


class DeskStack:
    """A project folder with its ``botkit.toml``, the knowledge base added, the console's users made, and
    ``botkit run`` serving it (started by :meth:`start`, stopped by :meth:`stop` with SIGTERM)."""

    def __init__(self, folder: Path, model_dir: Path, site_origin: str) -> None:
        self.folder = folder
        self.web_port = free_port()
        self.console_port = free_port()
        self.log = folder / "botkit-run.log"
        self.process: subprocess.Popen[bytes] | None = None
        (folder / "botkit.toml").write_text(
            f"""
name = "Tea shop"
adapters = ["web"]
plugins = ["botkit.console"]
data_dir = "{folder / "data"}"

[model]
path = "{model_dir}"
max_new_tokens = 8
seed = 5

[web]
port = {self.web_port}
allowed_origins = ["{site_origin}"]

[desk]
enabled = true

[console]
port = {self.console_port}
"""
        )

    @property
    def widget_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def prepare(self) -> None:
        """``botkit kb add`` the example knowledge base and ``botkit console add-user`` an agent and an
        admin, as the README says."""
        added = run_botkit(["kb", "add", str(EXAMPLE_KB)], cwd=self.folder, timeout=600)
        assert added.returncode == 0, added.stderr.decode()
        for (name, password), role in ((AGENT, "agent"), (ADMIN, "admin")):
            made = run_botkit(
                ["console", "add-user", name, "--role", role, "--password-stdin"],
                stdin=f"{password}\n".encode(),
                cwd=self.folder,
            )
            assert made.returncode == 0, made.stderr.decode()

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(BOTKIT), "run"],
                cwd=self.folder,
                env=clean_env(BOTKIT_WEB__SECRET=SECRET, PYTHONUNBUFFERED="1"),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.web_port, self.process, self.log)
        wait_for_port(self.console_port, self.process, self.log)

    def stop(self) -> tuple[int | None, str]:
        """Stop the bot as a service manager does; its exit code and its log."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        code = self.process.returncode if self.process is not None else None
        return code, self.log.read_text(errors="replace")
