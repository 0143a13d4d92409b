"""Adapters by name, for ``botkit run``: imported only when named, so unused extras need not be installed."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.types import Adapter

ADAPTERS: dict[str, tuple[str, str, str]] = {
    # name: (module, class, pip extra)
    "console": ("botkit.adapters.console", "ConsoleAdapter", ""),
    "telegram": ("botkit.adapters.telegram", "TelegramAdapter", "telegram"),
    "discord": ("botkit.adapters.discord", "DiscordAdapter", "discord"),
    "slack": ("botkit.adapters.slack", "SlackAdapter", "slack"),
}


class AdapterUnavailable(RuntimeError):
    """The adapter is unknown or its client library is not installed."""


def create(name: str, settings: Settings) -> Adapter:
    """Build the adapter called ``name`` from its section of ``settings``.

    Each adapter class takes its own settings section as its only positional argument
    (``TelegramAdapter(settings.telegram)``); the console adapter takes none.
    """
    if name not in ADAPTERS:
        raise AdapterUnavailable(f"unknown adapter {name!r}; known: {', '.join(sorted(ADAPTERS))}")
    module_name, class_name, extra = ADAPTERS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AdapterUnavailable(
            f"adapter {name!r} needs its client library: pip install 'botkit[{extra}]' ({exc})"
        ) from exc
    cls = getattr(module, class_name)
    section = getattr(settings, name, None)
    adapter: Adapter = cls(section) if section is not None else cls()
    return adapter
