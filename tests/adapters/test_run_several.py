"""``botkit run`` as a user starts it: one process, two adapters, shared plugins and model.

The real command runs in a subprocess with a config naming Telegram and Slack, each pointed at its fake
server on loopback; a message on each platform gets a model reply on that platform, and SIGTERM stops
the process cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.adapters.telegram.fake_server import FakeTelegramServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_starts_several_adapters_in_one_process(tiny_model_dir: Path, tmp_path: Path) -> None:
    slack_port = _free_port()
    async with FakeTelegramServer() as telegram, FakeSlackServer() as slack:
        (tmp_path / "botkit.toml").write_text(
            f"""
adapters = ["telegram", "slack"]
data_dir = "{tmp_path / "data"}"

[model]
path = "{tiny_model_dir}"
max_new_tokens = 8
temperature = 1.0
seed = 5

[telegram]
base_url = "{telegram.base_url}"
poll_timeout_s = 1
flood_limits = false

[slack]
api_base = "{slack.api_base}"
port = {slack_port}
"""
        )
        env = {
            **os.environ,
            "BOTKIT_TELEGRAM__TOKEN": telegram.token,
            "BOTKIT_SLACK__BOT_TOKEN": slack.bot_token,
            "BOTKIT_SLACK__SIGNING_SECRET": slack.signing_secret,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "botkit.cli",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{slack_port}/slack/events"
            async with asyncio.timeout(120):  # model loading in a cold process takes a while on 2 cores
                while True:
                    try:
                        _reader, writer = await asyncio.open_connection("127.0.0.1", slack_port)
                    except OSError:
                        assert process.returncode is None, "botkit run exited early"
                        await asyncio.sleep(0.2)
                        continue
                    writer.close()
                    break
            telegram.message_update("/help", chat_id=7)
            telegram.message_update("hello from telegram", chat_id=7)
            status, _ = await slack.send_event(url, slack.message_event("hello from slack"))
            assert status == 200
            await slack.wait_for(lambda: len(telegram.texts(7)) >= 2, timeout=60)
            await slack.wait_for(lambda: any(m.text.strip() for m in slack.thread("D0001", None)), timeout=60)
            help_text, model_text = telegram.texts(7)[:2]
            assert help_text.startswith("Commands:")
            assert model_text.strip()  # the shared tiny model answered on Telegram
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                output, _ = await process.communicate()
            assert process.returncode == 0, output.decode(errors="replace")
            log = output.decode(errors="replace")
            assert "adapter telegram running" in log
            assert "adapter slack running" in log
            assert telegram.token not in log
            assert slack.bot_token not in log
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
