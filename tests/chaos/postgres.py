"""A private PostgreSQL cluster (initdb + pg_ctl from this machine's binaries) that a test may restart.

The machine's shared server (tests/databases.py) must never be restarted by a test; this one belongs to
the test alone: its own data folder, port and socket folder, ``fsync`` off (nothing here must survive a
power cut). PostgreSQL refuses to run as root, so as root the commands run as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.queue.servers import free_port


def postgres_bin() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl; fails clearly if none."""
    found = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "pg_ctl").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        on_path = shutil.which("pg_ctl")
        if on_path:
            return Path(on_path).parent
        pytest.fail(
            "the PostgreSQL fault needs its own cluster, made with initdb and pg_ctl, and neither was found "
            "in /usr/lib/postgresql/*/bin nor on PATH: apt-get install postgresql",
            pytrace=False,
        )
    return found[-1]


class PostgresCluster:
    """``initdb`` into a fresh folder, then ``start``/``restart``/``stop`` with ``pg_ctl``.

    ``url`` is a SQLAlchemy URL for the database ``botkit`` (created by :meth:`start` the first time).
    """

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        # Not under pytest's tmp_path: its parents are private to root, and the server may run as postgres.
        self.directory = Path(tempfile.mkdtemp(prefix="botkit-chaos-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root, and there is no postgres user to run PostgreSQL as")
            os.chown(self.directory, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/botkit"
        self._made = False

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, check=False, timeout=timeout)
        if done.returncode != 0:
            out = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            pytest.fail(f"{Path(args[0]).name} {args[1:3]} failed ({done.returncode}):\n{out}\n{log}")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        args = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60"]
        self._run(*args, "-o", options, *extra, action)

    def start(self) -> PostgresCluster:
        """Start the server (made with initdb the first time) and wait until it accepts connections."""
        if not self._made:
            initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
            self._run(*initdb, "-E", "UTF8", "--no-sync")
        self._pg_ctl("start")
        if not self._made:
            psql = self.bin / "psql"
            if not psql.is_file():
                psql = Path(shutil.which("psql") or "psql")
            host = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
            self._run(str(psql), *host, "-d", "postgres", "-c", "CREATE DATABASE botkit")
            self._made = True
        return self

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (``-m fast``: every open connection is cut), stay down ``down_s`` seconds (connections
        are refused meanwhile), start again; the data is kept."""
        self._pg_ctl("stop", "-m", "fast")
        time.sleep(down_s)
        self._pg_ctl("start")

    def stop(self) -> None:
        """Stop the server (immediately: nothing here needs a clean shutdown)."""
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            args = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "immediate", "stop"]
            subprocess.run([*self._as, *args], capture_output=True, check=False, timeout=60)

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
