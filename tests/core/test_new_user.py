"""A new user's first hour, with the installed ``botkit`` and ``pytest`` executables in a fresh project.

No ``PYTHONPATH`` and no ``python -m``: the project folder is importable only because botkit makes it so.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.core.installed import BIN, clean_env, run_botkit


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """What ``botkit init mybot`` writes."""
    result = run_botkit(["init", "mybot"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    return tmp_path / "mybot"


def test_init_then_plugins_then_chat_answers_the_example(project: Path) -> None:
    listing = run_botkit(["plugins"], cwd=project)
    assert listing.returncode == 0, listing.stderr.decode()
    assert listing.stderr == b""
    assert "example (plugins.example.Example)" in listing.stdout.decode()
    assert "/roll [sides]" in listing.stdout.decode()

    chat = run_botkit(["chat"], stdin=b"/roll 20\nthank you\n", cwd=project)  # the shipped model
    assert chat.returncode == 0, chat.stderr.decode()
    rolled, thanked = chat.stdout.decode().splitlines()
    assert re.fullmatch(r"You rolled \d+ \(d20\)\.", rolled)
    assert thanked == "You're welcome!"


def test_plugin_dirs_and_the_config_folder_are_found_from_anywhere(tmp_path: Path) -> None:
    project, shared, elsewhere = tmp_path / "project", tmp_path / "shared-plugins", tmp_path / "elsewhere"
    for folder in (project, shared, elsewhere):
        folder.mkdir()
    (project / "botkit.toml").write_text(
        'plugins = ["beside_config", "greeter"]\nplugin_dirs = ["../shared-plugins"]\n'
    )
    plugin = "from botkit import Plugin\n\nclass {name}(Plugin):\n    pass\n"
    (project / "beside_config.py").write_text(plugin.format(name="BesideConfig"))
    (shared / "greeter.py").write_text(plugin.format(name="Greeter"))

    listing = run_botkit(["plugins", "--config", "../project/botkit.toml"], cwd=elsewhere)
    assert listing.returncode == 0, listing.stderr.decode()
    assert "besideconfig (beside_config.BesideConfig)" in listing.stdout.decode()
    assert "greeter (greeter.Greeter)" in listing.stdout.decode()


def pytest_in(project: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The installed ``pytest`` in ``project``, as the user runs it (no configuration of ours)."""
    return subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "plugins",
    [
        pytest.param((), id="with pytest-asyncio installed but not configured"),
        pytest.param(("-p", "no:asyncio"), id="without pytest-asyncio"),
    ],
)
def test_the_starter_tests_run_under_plain_pytest(project: Path, plugins: tuple[str, ...]) -> None:
    assert (project / "tests" / "test_example.py").is_file()
    result = pytest_in(project, *plugins)
    assert result.returncode == 0, result.stdout.decode()
    assert "2 passed" in result.stdout.decode()


def test_a_project_that_chose_pytest_asyncio_keeps_its_event_loop(project: Path) -> None:
    """With ``asyncio_mode = "auto"`` pytest-asyncio runs every async test; botkit's plugin stays out."""
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nasyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"\n'
    )
    (project / "tests" / "test_loop.py").write_text(
        textwrap.dedent(
            """
            import asyncio

            import pytest_asyncio


            @pytest_asyncio.fixture
            async def loop_seen_by_fixture():
                return asyncio.get_running_loop()


            async def test_fixture_and_test_share_pytest_asyncios_loop(loop_seen_by_fixture):
                assert asyncio.get_running_loop() is loop_seen_by_fixture
            """
        )
    )
    result = pytest_in(project)
    assert result.returncode == 0, result.stdout.decode()
    assert "3 passed" in result.stdout.decode()
