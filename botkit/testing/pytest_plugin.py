"""botkit's pytest plugin (entry point ``pytest11``): a new project's async tests run with no configuration.

pytest cannot run ``async def test_...`` itself ("async def functions are not natively supported"), and
the usual answer, pytest-asyncio in auto mode, has to be installed and configured. This plugin runs each
``async def`` test that no async plugin has claimed in a fresh event loop (``asyncio.run``). A test is
claimed when it carries an ``asyncio``, ``anyio`` or ``trio`` marker; pytest-asyncio in auto mode marks
every coroutine test, so a project that configured pytest-asyncio (as botkit's own tests do) runs exactly as
before. Async *fixtures* still need pytest-asyncio.

It also makes the folder holding the project's ``botkit.toml`` importable, as the ``botkit`` command does,
so a test imports the project's plugins (``from plugins.example import Example``) as the bot does.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from pathlib import Path

import pytest

CLAIMING_MARKERS = ("asyncio", "anyio", "trio")
CONFIG_NAME = "botkit.toml"


def pytest_configure(config: pytest.Config) -> None:
    """Put the nearest folder holding ``botkit.toml`` (the rootdir or above) at the front of ``sys.path``."""
    project = _project_dir(config.rootpath)
    if project is not None and str(project) not in sys.path:
        sys.path.insert(0, str(project))


def _project_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an unclaimed coroutine test to completion; leave every other test to the other plugins."""
    test = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test):
        return None
    if any(pyfuncitem.get_closest_marker(name) for name in CLAIMING_MARKERS):
        return None
    parameters = inspect.signature(test).parameters
    arguments = {name: value for name, value in pyfuncitem.funcargs.items() if name in parameters}
    asyncio.run(test(**arguments))
    return True
