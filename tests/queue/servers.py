"""Real redis-server and ``botkit worker`` subprocesses for the queue tests (private ports, tmp dirs)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

REDIS_BIN = shutil.which("redis-server") or "/usr/bin/redis-server"
ROOT = Path(__file__).resolve().parents[2]
BOTKIT_BIN = Path(sys.executable).with_name("botkit")  # the installed entry point, as a user runs it


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class TlsFiles:
    """A throw-away CA and a server certificate for 127.0.0.1 that it signed (PEM files)."""

    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA and a server certificate for 127.0.0.1, made with the openssl command (valid two days)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the TLS test makes its certificates with openssl: apt-get install openssl")
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n", encoding="ascii")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    ca = ["-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=botkit test CA"]
    server = [*ec[:-2], "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]
    sign = ["-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2"]
    steps = [["req", *ca], ["req", *server], ["x509", *sign, "-out", "server.pem", "-extfile", "san.ext"]]
    for step in steps:
        done = subprocess.run([openssl, *step], cwd=directory, capture_output=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"openssl {step[0]} failed: {done.stderr.decode(errors='replace')[-1000:]}")
    return files


# The ACL the deployment files give botkit's Redis user (deploy/compose.yaml, deploy/k8s/redis.yaml).
BOTKIT_ACL = ("~*", "&*", "+@all", "-@dangerous")


class RedisServer:
    """A private redis-server without persistence; ``stop``/``start`` simulate an outage.

    With ``password`` it refuses clients without it: alone as ``requirepass`` (the ``default`` user),
    with ``user`` as that ACL user (rights :data:`BOTKIT_ACL`) while the ``default`` user is off, as the
    deployment files run it. ``url`` then carries the credentials; ``url_as`` makes other ones.
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        password: str | None = None,
        user: str | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        if user is not None and password is None:
            raise ValueError("an ACL user needs a password")
        self.directory = directory
        self.port = port or free_port()
        # free_port() only says that nobody listened a moment ago: another xdist worker's server, or an
        # outgoing connection, may take the port before redis-server binds it. A port chosen here is chosen
        # again (see start) until the server has run once; a restart must come back on the same port.
        self._may_move = port is None
        self.password = password
        self.user = user
        self.tls = tls
        self.url = self.url_as(user, password)
        self.proc: subprocess.Popen[bytes] | None = None

    def url_as(self, user: str | None, password: str | None) -> str:
        """This server's URL with the given credentials (None: leave them out)."""
        credentials = f"{user or ''}:{password}@" if password is not None else ""
        if self.tls is not None:  # the client verifies the server against the test's own CA
            return f"rediss://{credentials}127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls.ca}"
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def _listen_args(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        files = ["--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key)]
        files += [
            "--tls-ca-cert-file",
            str(self.tls.ca),
        ]  # redis-server wants one even when clients show none
        return ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no", *files]

    def _auth_args(self) -> list[str]:
        if self.password is None:
            return []
        if self.user is None:
            return ["--requirepass", self.password]
        return ["--user", "default", "off", "--user", self.user, "on", f">{self.password}", *BOTKIT_ACL]

    def start(self) -> None:
        for _ in range(3):
            started = self._start_once()
            if started:
                self._may_move = False
                return
            log = (self.directory / "redis.log").read_text(errors="replace")
            taken = started is None or "Address already in use" in log
            if not (self._may_move and taken):
                break
            self.port = free_port()
            self.url = self.url_as(self.user, self.password)
        tail = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"could not start redis-server on port {self.port}:\n{tail}")

    def _start_once(self) -> bool | None:
        """Start redis-server and wait until it answers: True; False if it does not, None if another
        server answers on its port (nothing is left running unless True)."""
        if not Path(REDIS_BIN).is_file():
            pytest.fail(f"redis-server not found at {REDIS_BIN}: install it (apt-get install redis-server)")
        args = [
            REDIS_BIN,
            *self._listen_args(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            *self._auth_args(),
        ]
        with (self.directory / "redis.log").open("ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen([*args, "--dir", str(self.directory)], stdout=log, stderr=log)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:
            for _ in range(100):
                if self.proc.poll() is not None:
                    break
                try:
                    if client.ping():
                        if self._is_ours(client):
                            return True
                        self.stop()
                        return None
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        return False

    def _is_ours(self, client: redis.Redis) -> bool:
        """Whether the server that answered is this one, not another test's on the port it failed to bind."""
        assert self.proc is not None
        try:
            pid = client.info("server")["process_id"]
        except redis.ResponseError:  # INFO is a "dangerous" command the ACL user may not run
            return self.proc.poll() is None
        return bool(pid == self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None:
            _end(self.proc)
            self.proc = None


class WorkerProcess:
    """``botkit worker`` in a subprocess, logging to a file.

    With ``step_delay_ms`` the test-only launcher (``tests/queue/slow_worker.py``) starts the same worker
    with a slowed batch runner, so a test can act while a reply is half-way written.
    """

    def __init__(
        self, directory: Path, config: Path, model: Path, *extra: str, step_delay_ms: float | None = None
    ) -> None:
        self.log_path = directory / f"worker-{time.monotonic_ns()}.log"
        self.metrics_port: int | None = None
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("BOTKIT_REDIS_URL", None)
        if step_delay_ms is None:
            cmd = [str(BOTKIT_BIN), "worker"]
        else:
            cmd = [
                sys.executable,
                "-m",
                "tests.queue.slow_worker",
                "--step-delay-ms",
                str(step_delay_ms),
                "worker",
            ]
        cmd += ["--model", str(model), "--config", str(config), "--torch-threads", "1", "--loglevel", "INFO"]
        cmd += ["--hostname", f"w{time.monotonic_ns()}@test"]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([*cmd, *extra], cwd=ROOT, env=env, stdout=log, stderr=log)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 90) -> WorkerProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if " ready." in self.log:
                return self
            if self.proc.poll() is not None:
                pytest.fail(f"the worker exited with {self.proc.returncode}:\n{self.log[-3000:]}")
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the worker did not become ready in {timeout_s}s:\n{self.log[-3000:]}")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        _end(self.proc)


def _end(proc: subprocess.Popen[Any]) -> None:
    """Terminate, then kill if it does not exit promptly."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def write_config(path: Path, redis_url: str, model: Path, **queue: Any) -> Path:
    """A botkit.toml for tests: short timeouts so redelivery and recovery happen within seconds."""
    values: dict[str, Any] = {
        "backend": "celery",
        "redis_url": redis_url,
        "visibility_timeout_s": 3,
        "restore_interval_s": 1,
        "lock_ttl_s": 2,
        "stream_interval_ms": 0,
        "queue_grace_s": 10,
        **queue,
    }
    lines = ["[queue]", *(f"{k} = {_toml(v)}" for k, v in values.items())]
    lines += ["[model]", f'path = "{model}"', "timeout_s = 30", "max_batch = 8"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)
