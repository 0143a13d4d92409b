"""``botkit run`` with ``adapters = ["web"]``, as a site owner starts it: the installed executable, the
tiny model, a visitor's question over the widget's socket, a streamed answer, and a clean stop."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

from tests.core.installed import BOTKIT, clean_env, run_botkit
from tests.web.support import SECRET, ChatClient


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_botkit_run_serves_the_widget_and_answers_with_the_model(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    port = _free_port()
    (tmp_path / "botkit.toml").write_text(
        f"""
name = "Tea shop"
adapters = ["web"]
data_dir = "{tmp_path / "data"}"

[model]
path = "{tiny_model_dir}"
max_new_tokens = 8
temperature = 1.0
seed = 5

[web]
port = {port}
"""
    )
    process = await asyncio.create_subprocess_exec(
        str(BOTKIT),
        "run",
        cwd=tmp_path,
        env=clean_env(BOTKIT_WEB__SECRET=SECRET),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(120):  # loading the model in a cold process takes a while on 2 cores
            while True:
                try:
                    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    assert process.returncode is None, "botkit run exited early"
                    await asyncio.sleep(0.2)
                    continue
                writer.close()
                break
        client = await ChatClient.open(f"ws://127.0.0.1:{port}/ws")
        await client.hello(lang="en")
        await client.say("hello there")
        start = await client.wait(lambda f: f["type"] in ("start", "message") and f.get("from") == "bot")
        end = start if start["type"] == "message" else await client.wait(lambda f: f["type"] == "end")
        assert end["text"].strip()  # the tiny model's words, streamed to the widget
        await client.close()
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            output, _ = await process.communicate()
        log = output.decode(errors="replace")
        assert process.returncode == 0, log
        assert "adapter web running" in log
        assert f"http://127.0.0.1:{port}/widget.js" in log
        assert SECRET not in log
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_botkit_run_without_a_secret_says_which_setting_to_set(tmp_path: Path) -> None:
    (tmp_path / "botkit.toml").write_text('adapters = ["web"]\n')
    result = run_botkit(["run"], cwd=tmp_path)
    said = result.stderr.decode()
    assert result.returncode != 0
    assert "set web.secret (or BOTKIT_WEB__SECRET)" in said
    assert "Traceback" not in said
