"""Plugin loading from import paths and the botkit.plugins entry-point group."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from botkit.discovery import load_plugins


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory on sys.path holding plugin modules and a fake installed distribution."""
    (tmp_path / "good_plugins.py").write_text(
        textwrap.dedent(
            '''
            from botkit import Context, Plugin, on_command

            class Weather(Plugin):
                @on_command("weather")
                async def weather(self, ctx: Context) -> None:
                    """Tell the weather."""
                    await ctx.reply("sunny")

            class Second(Plugin):
                pass
            '''
        )
    )
    (tmp_path / "broken_plugins.py").write_text("import this_module_does_not_exist\n")
    (tmp_path / "no_plugins.py").write_text("X = 1\n")
    (tmp_path / "ep_plugins.py").write_text(
        "from botkit import Plugin\n\nclass FromEntryPoint(Plugin):\n    name = 'ep'\n"
    )
    dist = tmp_path / "botkit_example_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: botkit-example-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[botkit.plugins]\nep = ep_plugins:FromEntryPoint\nbroken = ep_plugins:Missing\n"
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in ("good_plugins", "broken_plugins", "no_plugins", "ep_plugins"):
        sys.modules.pop(name, None)


def test_builtins_load_in_order() -> None:
    report = load_plugins(discover=False)
    assert [p.name for p in report.plugins] == ["help", "reset", "chat"]
    assert report.errors == {}


def test_module_path_and_class_path(plugin_dir: Path) -> None:
    report = load_plugins(["good_plugins", "good_plugins:Weather"], builtins=False, discover=False)
    # the module path loads both classes; the class path repeats Weather, which is loaded once
    assert [p.name for p in report.plugins] == ["weather", "second"]


def test_failing_plugins_are_reported_and_the_rest_load(plugin_dir: Path) -> None:
    report = load_plugins(
        ["broken_plugins", "good_plugins:Nope", "no_plugins", "good_plugins:Weather"],
        builtins=False,
        discover=False,
    )
    assert [p.name for p in report.plugins] == ["weather"]
    assert "No module named 'this_module_does_not_exist'" in report.errors["broken_plugins"]
    assert "has no attribute 'Nope'" in report.errors["good_plugins:Nope"]
    assert "defines no Plugin subclass" in report.errors["no_plugins"]


def test_entry_points_are_discovered(plugin_dir: Path) -> None:
    report = load_plugins(builtins=False, discover=True)
    assert "ep" in [p.name for p in report.plugins]
    broken = [k for k in report.errors if k.startswith("entry point broken")]
    assert broken
    assert "Missing" in report.errors[broken[0]]


def test_disabled_plugins_are_left_out() -> None:
    report = load_plugins(discover=False, disabled=["chat"])
    assert [p.name for p in report.plugins] == ["help", "reset"]
