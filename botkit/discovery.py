"""Finding plugins: import paths from the config and the ``botkit.plugins`` entry-point group.

A plugin that fails to import or to construct is reported (name and reason) and skipped; the rest load.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from botkit.plugin import Plugin

log = logging.getLogger("botkit.plugins")

ENTRY_POINT_GROUP = "botkit.plugins"
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
) -> LoadReport:
    """Load plugins from import paths (``"pkg.mod:Class"`` or ``"pkg.mod"``) and entry points.

    Args:
        paths: import paths from the config. A module path loads every Plugin class defined in it.
        builtins: include botkit's help, reset and chat plugins.
        discover: include the ``botkit.plugins`` entry-point group of installed packages.
        disabled: plugin names to leave out.
    """
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
            classes = _plugin_classes(target, source)
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


def _plugin_classes(target: Any, source: str) -> list[type[Plugin]]:
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
