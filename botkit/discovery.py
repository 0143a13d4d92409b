"""Finding what plugs in: plugins, adapters and ``botkit`` sub-commands, through entry-point groups.

Plugins come from import paths in the config and the ``botkit.plugins`` group; a plugin that fails to import
or to construct is reported (name and reason) and skipped, and the rest load. Adapters (``botkit.adapters``:
a class with ``from_settings(settings)``) and sub-commands (``botkit.commands``: a ``register(subparsers)``
function) are found the same way, so the core imports neither and a third-party one is a package away.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from botkit.plugin import Plugin

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.types import Adapter

log = logging.getLogger("botkit.plugins")

ENTRY_POINT_GROUP = "botkit.plugins"
ADAPTER_GROUP = "botkit.adapters"
COMMAND_GROUP = "botkit.commands"
BUILTIN_PLUGINS = (
    "botkit.plugins.help:HelpPlugin",
    "botkit.plugins.reset:ResetPlugin",
    "botkit.plugins.chat:ChatPlugin",
)


@dataclass
class LoadReport:
    """What loading found: plugin instances in order, and ``source -> reason`` for each failure."""

    plugins: list[Plugin] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def load_plugins(
    paths: Iterable[str] = (),
    *,
    builtins: bool = True,
    discover: bool = True,
    disabled: Iterable[str] = (),
    search_path: Sequence[Path] = (),
) -> LoadReport:
    """Load plugins from import paths (``"pkg.mod:Class"`` or ``"pkg.mod"``) and entry points.

    Args:
        paths: import paths from the config. A module path loads every Plugin class defined in it.
        builtins: include botkit's help, reset and chat plugins.
        discover: include the ``botkit.plugins`` entry-point group of installed packages.
        disabled: plugin names to leave out.
        search_path: folders put at the front of ``sys.path`` first (``Settings.plugin_search_path()``),
            as ``python -m`` does for the working directory; they stay there, for the plugins' own imports.
    """
    for folder in reversed(search_path):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    report = LoadReport()
    skip = set(disabled)
    seen: set[type[Plugin]] = set()
    sources: list[tuple[str, Any]] = [(p, None) for p in (*(BUILTIN_PLUGINS if builtins else ()), *paths)]
    if discover:
        sources.extend(
            (f"entry point {ep.name} = {ep.value}", ep) for ep in entry_points(group=ENTRY_POINT_GROUP)
        )
    for source, ep in sources:
        try:
            target = ep.load() if ep is not None else _import(source)
            classes = plugin_classes(target, source)
        except Exception as exc:
            report.errors[source] = f"{type(exc).__name__}: {exc}"
            log.error("plugin %s failed to load: %s: %s", source, type(exc).__name__, exc)
            continue
        for cls in classes:
            if cls in seen or cls.name in skip:
                continue
            seen.add(cls)
            try:
                report.plugins.append(cls())
            except Exception as exc:
                report.errors[source] = f"{type(exc).__name__}: {exc}"
                log.error("plugin %s could not be created: %s: %s", source, type(exc).__name__, exc)
    return report


def _import(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    if not attr:
        return module
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError(f"module {module_name!r} has no attribute {attr!r}") from None


def plugin_classes(target: Any, source: str) -> list[type[Plugin]]:
    """The plugin classes ``target`` names: itself if a Plugin subclass, else those a module defines.

    Raises:
        ImportError: the module defines no Plugin subclass.
        TypeError: ``target`` is neither (``source`` names it in the message).
    """
    if inspect.isclass(target) and issubclass(target, Plugin):
        return [target]
    if inspect.ismodule(target):
        found = [
            obj
            for obj in vars(target).values()
            if inspect.isclass(obj)
            and issubclass(obj, Plugin)
            and obj is not Plugin
            and obj.__module__ == target.__name__
        ]
        if not found:
            raise ImportError(f"module {target.__name__!r} defines no Plugin subclass")
        return found
    raise TypeError(f"{source} is neither a Plugin subclass nor a module")


class AdapterUnavailable(RuntimeError):
    """The adapter is unknown, or its client library is not installed."""


class AdapterClass(Protocol):
    """What a ``botkit.adapters`` entry point names: an adapter class built from the settings."""

    def from_settings(self, settings: Settings) -> Adapter:
        """The adapter, configured from its section of ``settings``.

        Raises:
            botkit.config.ConfigError: one line naming a missing or malformed setting and its env var.
        """


def adapter_names() -> list[str]:
    """The names of the installed adapters, sorted."""
    return sorted({ep.name for ep in entry_points(group=ADAPTER_GROUP)})


def load_adapter(name: str, settings: Settings) -> Adapter:
    """Build the adapter registered as ``name`` in the ``botkit.adapters`` group from ``settings``.

    Raises:
        AdapterUnavailable: the name is unknown, or importing the adapter failed (the message says which
            extra to install).
        botkit.config.ConfigError: the adapter's settings are missing or malformed.
    """
    found = entry_points(group=ADAPTER_GROUP, name=name)
    if not found:
        known = ", ".join(adapter_names()) or "none"
        raise AdapterUnavailable(f"unknown adapter {name!r}; installed: {known}")
    ep = next(iter(found))
    try:
        cls = cast(AdapterClass, ep.load())
    except ImportError as exc:
        raise AdapterUnavailable(
            f"adapter {name!r} needs its client library: pip install '{_requirement(ep)}' ({exc})"
        ) from exc
    return cls.from_settings(settings)


def register_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add each ``botkit.commands`` entry point's sub-command to ``subparsers``.

    An entry point that fails to import still becomes a sub-command, one that says what to install.
    """
    for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda ep: ep.name):
        try:
            register = cast(Callable[[Any], object], ep.load())
        except ImportError as exc:
            requirement = _requirement(ep)
            # No option prefix any argument starts with: whatever follows the command (options included)
            # is taken as it is, and the command explains what to install instead of an argparse error.
            missing = subparsers.add_parser(
                ep.name, help=f"(needs: pip install '{requirement}')", prefix_chars="\0", add_help=False
            )
            missing.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
            missing.set_defaults(handler=_unavailable(ep.name, requirement, exc))
            continue
        register(subparsers)


def _requirement(ep: EntryPoint) -> str:
    """What to ``pip install`` for ``ep``: its distribution with the extras the entry point names."""
    dist = ep.dist.name if ep.dist is not None else "botkit"
    return f"{dist}[{','.join(ep.extras)}]" if ep.extras else dist


def _unavailable(command: str, requirement: str, exc: ImportError) -> Callable[[argparse.Namespace], int]:
    def explain(_args: argparse.Namespace) -> int:
        print(
            f"botkit {command}: unavailable ({exc}); install it with pip install '{requirement}'",
            file=sys.stderr,
        )
        return 2

    return explain
