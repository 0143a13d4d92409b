"""Loading what plugs in: plugins (import paths, the botkit.plugins group), adapters and sub-commands."""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from botkit.config import ConfigError, Settings
from botkit.discovery import AdapterUnavailable, adapter_names, load_adapter, load_plugins, register_commands


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
    (tmp_path / "ep_adapters.py").write_text(
        textwrap.dedent(
            """
            from botkit.config import ConfigError

            class LoopbackAdapter:
                name = "loopback"

                def __init__(self, greeting: str) -> None:
                    self.greeting = greeting

                @classmethod
                def from_settings(cls, settings):
                    if settings.name == "nameless":
                        raise ConfigError("loopback: set name (or BOTKIT_NAME)")
                    return cls(f"hello from {settings.name}")

            def register(subparsers):
                subparsers.add_parser("hello").set_defaults(handler=lambda args: 0)
            """
        )
    )
    dist = tmp_path / "botkit_example_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: botkit-example-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[botkit.plugins]\nep = ep_plugins:FromEntryPoint\nbroken = ep_plugins:Missing\n"
        "[botkit.adapters]\nloopback = ep_adapters:LoopbackAdapter\n"
        "pager = no_pager_client.adapter:PagerAdapter [pager]\n"
        "[botkit.commands]\nhello = ep_adapters:register\nsummon = no_summon_lib:register [summon]\n"
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in ("good_plugins", "broken_plugins", "no_plugins", "ep_plugins", "ep_adapters"):
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


def test_search_path_makes_a_project_folder_importable(tmp_path: Path) -> None:
    (tmp_path / "starter_plugins.py").write_text(
        "from botkit import Plugin\n\nclass Starter(Plugin):\n    pass\n"
    )
    try:
        report = load_plugins(["starter_plugins"], builtins=False, discover=False, search_path=[tmp_path])
        assert [p.name for p in report.plugins] == ["starter"]
        assert sys.path[0] == str(tmp_path)  # first, as `python -m` puts the working directory
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("starter_plugins", None)


def test_adapters_are_built_from_their_entry_points(plugin_dir: Path) -> None:
    assert {"console", "loopback", "pager"} <= set(adapter_names())
    adapter = load_adapter("loopback", Settings(name="support"))
    assert adapter.name == "loopback"
    assert adapter.greeting == "hello from support"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"^loopback: set name \(or BOTKIT_NAME\)$"):
        load_adapter("loopback", Settings(name="nameless"))


def test_an_adapter_that_cannot_load_says_what_to_install(plugin_dir: Path) -> None:
    with pytest.raises(AdapterUnavailable) as missing:
        load_adapter("pager", Settings())
    assert str(missing.value) == (
        "adapter 'pager' needs its client library: pip install 'botkit-example-plugin[pager]' "
        "(No module named 'no_pager_client')"
    )
    with pytest.raises(AdapterUnavailable, match=r"unknown adapter 'fax'; installed: .*loopback"):
        load_adapter("fax", Settings())


def test_commands_register_and_a_missing_one_explains_itself(
    plugin_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="botkit")
    register_commands(parser.add_subparsers())
    assert parser.parse_args(["hello"]).handler(None) == 0
    args = parser.parse_args(["summon", "--anything", "goes"])
    assert args.handler(args) == 2
    assert capsys.readouterr().err.strip() == (
        "botkit summon: unavailable (No module named 'no_summon_lib'); "
        "install it with pip install 'botkit-example-plugin[summon]'"
    )
