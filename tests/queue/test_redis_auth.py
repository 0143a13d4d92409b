"""Redis with a password, as the deployment files run it (an ACL user ``botkit``, the ``default`` user off).

The right credentials carry a reply through the real queue, over plain TCP and over TLS (``rediss://``,
verified against the test's own CA); missing or wrong ones stop each process at start with one line that
names authentication (not a traceback, not "busy" for ever); the password is written nowhere.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from botkit.config import load_settings
from botkit.errors import BUSY, ModelBusy
from botkit.queue.client import CeleryGenerator
from botkit.queue.connection import QueueRefused, check_credentials, redact
from botkit.types import ChatTurn, SamplingParams
from tests.core.installed import clean_env, run_botkit
from tests.queue.servers import RedisServer, WorkerProcess, make_tls_files, write_config

PASSWORD = secrets.token_urlsafe(18)  # URL-safe, as deploy/README.md makes it; new every run
WRONG = "not-" + PASSWORD
HELLO: list[ChatTurn] = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server with the ACL user botkit and its password; nobody else may connect."""
    server = RedisServer(tmp_path_factory.mktemp("redis-auth"), password=PASSWORD, user="botkit")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _round_trip(server: RedisServer, model: Path, where: Path) -> tuple[str, str]:
    """A worker and a bot's generator on ``server.url``: the reply's text and the worker's log."""
    import asyncio

    config = write_config(where / "botkit.toml", server.url, model)
    worker = WorkerProcess(where, config, model).wait_ready()

    async def ask() -> str:
        generator = CeleryGenerator.from_settings(load_settings(config))
        try:
            reply = await generator.generate(HELLO, SamplingParams(max_new_tokens=8, seed=3))
        finally:
            await generator.close()
        return reply.text

    try:
        text = asyncio.run(ask())
    finally:
        worker.stop()
    return text, worker.log


def test_the_right_password_carries_a_reply_and_is_logged_nowhere(
    locked: RedisServer, tiny_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    text, worker_log = _round_trip(locked, tiny_model_dir, tmp_path)
    assert text.strip(), "the tiny model's reply came back through the password-protected Redis"
    assert "botkit:**@127.0.0.1" in worker_log  # Celery's banner names the broker, password masked
    assert PASSWORD not in worker_log
    assert PASSWORD not in caplog.text


def test_tls_with_a_verified_certificate_carries_a_reply(tiny_model_dir: Path, tmp_path: Path) -> None:
    """rediss:// reaches redis-py (the bot's streams), kombu (the broker) and Celery's backend alike:
    a worker that ignored the TLS options could not consume, and the reply would never come."""
    (tmp_path / "redis").mkdir()
    tls = make_tls_files(tmp_path / "tls")
    server = RedisServer(tmp_path / "redis", password=PASSWORD, user="botkit", tls=tls)
    server.start()
    try:
        assert server.url.startswith("rediss://")
        text, worker_log = _round_trip(server, tiny_model_dir, tmp_path)
    finally:
        server.stop()
    assert text.strip()
    assert "rediss://botkit:**@127.0.0.1" in worker_log
    assert PASSWORD not in worker_log


def test_tls_refuses_a_server_its_ca_did_not_sign(tmp_path: Path) -> None:
    """Verification is on by default: without the test's CA the system's CAs reject the certificate,
    and the process stops saying so (rather than answering "busy" for ever)."""
    server = RedisServer(tmp_path, password=PASSWORD, user="botkit", tls=make_tls_files(tmp_path / "tls"))
    server.start()
    try:
        unverified = server.url.split("?", 1)[0]
        with pytest.raises(QueueRefused, match=r"TLS certificate that cannot be verified") as refused:
            check_credentials(unverified, timeout_s=2.0)
    finally:
        server.stop()
    assert "ssl_ca_certs=FILE" in str(refused.value)
    assert PASSWORD not in str(refused.value)


CASES = {
    "no password": ("requires authentication and the URL has no password", None),
    "wrong password": ("refused the credentials: authentication failed", WRONG),
}


def _url(server: RedisServer, case: str) -> str:
    password = CASES[case][1]
    return server.url_as("botkit" if password else None, password)


@pytest.mark.parametrize("case", sorted(CASES))
def test_botkit_run_stops_with_one_line_naming_authentication(
    locked: RedisServer, tmp_path: Path, case: str
) -> None:
    env = clean_env(BOTKIT_QUEUE__BACKEND="celery", BOTKIT_QUEUE__REDIS_URL=_url(locked, case))
    result = run_botkit(["run", "--adapter", "console"], cwd=tmp_path, env=env, timeout=120)
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr  # one line, no traceback
    assert lines[0].startswith(
        f"botkit run: Redis at redis://{'botkit:***@' if CASES[case][1] else ''}127.0.0.1"
    )
    assert CASES[case][0] in lines[0]
    assert "BOTKIT_QUEUE__REDIS_URL" in lines[0]  # what to change
    assert WRONG not in stderr + result.stdout.decode()


@pytest.mark.parametrize("command", ["worker", "jobs", "beat"])
def test_the_queue_processes_stop_with_one_line_naming_authentication(
    locked: RedisServer, tiny_model_dir: Path, tmp_path: Path, command: str
) -> None:
    config = write_config(tmp_path / "botkit.toml", _url(locked, "wrong password"), tiny_model_dir)
    extra = ["--model", str(tiny_model_dir)] if command == "worker" else []
    result = run_botkit([command, "--config", str(config), *extra], cwd=tmp_path, timeout=120)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr  # a configuration error: Celery would retry it for ever
    [line] = stderr.strip().splitlines()
    assert line.startswith(f"botkit {command}: Redis at redis://botkit:***@127.0.0.1:{locked.port}/0 refused")
    assert WRONG not in stderr


async def test_a_password_rotated_under_a_running_bot_is_logged_as_such(
    locked: RedisServer, tiny_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The user hears "busy"; the operator reads an error naming authentication, not an outage."""
    config = write_config(tmp_path / "botkit.toml", _url(locked, "wrong password"), tiny_model_dir)
    generator = CeleryGenerator(load_settings(config))  # built before the password changed
    try:
        with pytest.raises(ModelBusy) as refused:
            await generator.generate(HELLO, SamplingParams(max_new_tokens=4))
    finally:
        await generator.close()
    assert str(refused.value) == BUSY
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("refused the credentials" in e and "botkit:***@" in e for e in errors), errors
    assert WRONG not in caplog.text


def test_an_acl_without_botkits_commands_is_named(tmp_path: Path) -> None:
    """A user that may log in but not write streams: refused at start, the message points at the ACL."""
    server = RedisServer(tmp_path, password=PASSWORD)  # requirepass: the default user may do anything
    server.start()
    try:
        admin = redis.Redis.from_url(server.url)
        admin.acl_setuser("pinger", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+ping"])
        admin.close()
        with pytest.raises(
            QueueRefused, match=r"accepted user 'pinger' but its ACL forbids what botkit needs"
        ):
            check_credentials(server.url_as("pinger", PASSWORD), timeout_s=2.0)
        assert check_credentials(server.url, timeout_s=2.0) is True  # requirepass alone works as well
    finally:
        server.stop()


def test_a_redis_that_is_down_is_waited_for_not_refused(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password=PASSWORD)  # never started
    assert check_credentials(server.url, timeout_s=0.5) is False


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://botkit:s3cret@redis:6379/0", "redis://botkit:***@redis:6379/0"),
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        (
            "rediss://botkit:p%40ss@redis:6380/1?ssl_ca_certs=/ca.pem",
            "rediss://botkit:***@redis:6380/1?ssl_ca_certs=/ca.pem",
        ),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_celery_gets_the_tls_options_of_a_rediss_url(tmp_path: Path) -> None:
    """kombu would connect to a rediss:// broker without verifying it, and Celery's backend refuse the URL,
    unless both are given the options; the URL's own ssl_* parameters become those options."""
    import ssl

    from botkit.queue.app import celery_config

    url = "rediss://botkit:pw@redis.example:6380/0?ssl_ca_certs=/etc/ca.pem"
    config = celery_config(load_settings(None, queue={"redis_url": url}))
    assert config["broker_url"] == config["result_backend"] == "rediss://botkit:pw@redis.example:6380/0"
    expected = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": "/etc/ca.pem"}
    assert config["broker_use_ssl"] == config["redis_backend_use_ssl"] == expected
    plain = celery_config(load_settings(None, queue={"redis_url": "redis://botkit:pw@redis:6379/0"}))
    assert "broker_use_ssl" not in plain


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://botkit:s3cret@redis:6379/0", "must start with redis://, rediss:// (TLS) or unix://"),
        ("redis://botkit:s3cret@redis:6379/0?ssl_ca_certs=/ca.pem", "ssl_ca_certs needs TLS"),
        ("rediss://botkit:s3cret@redis:6379/0?ssl_cert_reqs=maybe", "ssl_cert_reqs must be required"),
    ],
)
def test_a_url_botkit_cannot_use_is_refused_without_repeating_it(url: str, message: str) -> None:
    from botkit.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        load_settings(None, queue={"redis_url": url})
    assert "s3cret" not in str(refused.value)
