"""The ``botkit`` command: init, chat, plugins, run, and the sub-commands other packages register.

Adapters and further sub-commands (``worker``, ``train``) come through entry-point groups (see
:mod:`botkit.discovery`), so this module imports no adapter and no training stage. Heavy imports (torch,
transformers, platform clients) happen inside the sub-commands, so ``botkit --version`` and ``botkit --help``
stay instant.

Exit codes: 0 done; 1 the bot could not run (a plugin or the model failed to load, an adapter is not
installed); 2 the command line or the configuration is wrong (one line on stderr says which setting).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from botkit import __version__

if TYPE_CHECKING:
    from botkit.app import Bot
    from botkit.config import Settings
    from botkit.types import Adapter, Generator


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``botkit`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except CommandFailed as exc:
        print(exc, file=sys.stderr)
        return exc.code


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with the sub-commands of the ``botkit.commands`` entry-point group."""
    from botkit.discovery import register_commands

    parser = argparse.ArgumentParser(
        prog="botkit", description="Chat bots backed by your own dialogue model."
    )
    parser.add_argument("--version", action="version", version=f"botkit {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    init = sub.add_parser("init", help="write a starter botkit.toml, an example plugin and its test")
    init.add_argument("directory", type=Path, nargs="?", help="the project folder (made if missing)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.add_argument(
        "--preset", metavar="NAME", help="merge a preset (persona and safety rules) into the config"
    )
    init.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    init.set_defaults(handler=cmd_init)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal (or through a pipe)")
    chat.add_argument("--model", type=Path, help="local model directory (default: the shipped model)")
    _common(chat)
    _reloading(chat)
    chat.set_defaults(handler=cmd_chat)

    plugins = sub.add_parser("plugins", help="load and set up the plugins; list them and their commands")
    _common(plugins)
    plugins.set_defaults(handler=cmd_plugins)

    run = sub.add_parser("run", help="start the adapters named in the config")
    run.add_argument("--adapter", action="append", dest="adapters", help="adapter to start (repeatable)")
    run.add_argument("--model", type=Path, help="local model directory (queue backend local)")
    _common(run)
    _reloading(run)
    run.set_defaults(handler=cmd_run)

    register_commands(sub)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (default: $BOTKIT_CONFIG or ./botkit.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")


def _reloading(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reload",
        action="store_true",
        help="reload a plugin when its file changes (development; botkit[reload])",
    )


class CommandFailed(Exception):
    """A sub-command stops with one line for stderr and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _settings(args: argparse.Namespace, command: str) -> Settings:
    from botkit.config import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        raise CommandFailed(f"botkit {command}: {exc}", 2) from None
    if getattr(args, "model", None):
        settings.model.path = args.model
    return settings


def _logging(args: argparse.Namespace, default: int) -> None:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else default,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def cmd_init(args: argparse.Namespace) -> int:
    from botkit import presets
    from botkit.scaffold import KB_FOLDER, write_starter

    if args.list_presets:
        for name in presets.names():
            print(f"{name:<20} {presets.summary(name)}")
        return 0
    if args.directory is None:
        raise CommandFailed("botkit init: name the project folder: botkit init DIR [--preset NAME]", 2)
    try:
        written = write_starter(args.directory, force=args.force, preset=args.preset)
    except presets.UnknownPresetError as exc:
        raise CommandFailed(f"botkit init: {exc}", 2) from None
    except FileExistsError as exc:
        raise CommandFailed(f"botkit init: {exc}", 1) from None
    kb = args.directory / KB_FOLDER
    kb_files = [path for path in written if kb in path.parents]
    for path in written:
        if path not in kb_files:  # the knowledge base's files are summed up in one line
            print(f"wrote {path}")
    if kb_files:
        print(f"wrote {kb}/ (the example shop's knowledge base, {len(kb_files)} files)")
        print(f"next: cd {args.directory} && botkit kb add {KB_FOLDER} && botkit chat")
    else:
        print(f"next: cd {args.directory} && botkit chat")
    return 0


@runtime_checkable
class _EndsWithItsInput(Protocol):
    """An adapter that stops by itself (the console at the end of its input), unlike a platform's."""

    async def wait(self) -> None:
        """Return when the input is exhausted or the user quit."""


def cmd_chat(args: argparse.Namespace) -> int:
    from botkit.model.loader import ModelLoadError
    from botkit.runtime import build_generator

    _logging(args, logging.WARNING)
    settings = _settings(args, "chat")
    _check_reload(args, "chat")
    # One local user at a keyboard or a pipe: a rate limit would only cut scripted input short.
    settings.rate_limit.enabled = False
    adapter = _adapters(["console"], settings, "chat")[0]
    if not isinstance(adapter, _EndsWithItsInput):
        raise CommandFailed("botkit chat: the installed console adapter has no wait(); it cannot chat", 1)
    try:
        model = build_generator(settings)
    except ModelLoadError as exc:
        raise CommandFailed(f"botkit chat: {exc}", 1) from None
    loaded = getattr(model, "lm", None)
    note = getattr(model, "sampling_note", "")  # the model's generation_config.json sets some sampling
    # A compressed model's replies may differ a little from the original's: say so, as well as the note.
    if getattr(loaded, "compression", "") or note:
        ready = "; ".join(part for part in (loaded.describe(), note) if part)  # type: ignore[union-attr]
        print(f"botkit: model ready: {ready}", file=sys.stderr)
    bot = _build_bot_or_fail(settings, "chat", model=model)

    async def session() -> None:
        await bot.start()
        _report_plugin_errors(bot)
        try:
            async with _watching(bot, args.reload):
                await adapter.start(bot)
                await adapter.wait()
        finally:
            await bot.stop()

    try:
        asyncio.run(session())
    except KeyboardInterrupt:
        print(file=sys.stderr)
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List the plugins that load *and* set up; report the others. Runs each setup and teardown once."""

    # The report below says what failed, one line each; -v adds the log, tracebacks included.
    _logging(args, logging.CRITICAL)
    settings = _settings(args, "plugins")
    bot = _build_bot_or_fail(settings, "plugins")

    async def set_up_and_tear_down() -> None:
        await bot.start()
        await bot.stop()

    asyncio.run(set_up_and_tear_down())
    for plugin in bot.plugins:
        print(f"{plugin.name} ({type(plugin).__module__}.{type(plugin).__qualname__})")
        for handler in plugin.handlers():
            spec = handler.spec
            what = (
                handler.usage
                if spec.kind == "command"
                else f"message /{spec.pattern.pattern if spec.pattern else '.*'}/"
                if spec.kind == "message"
                else f"event {spec.event}"
            )
            print(f"  {what:<28} priority {spec.priority:<5} {handler.description}")
    _report_plugin_errors(bot)
    return 1 if bot.load_errors or bot.teardown_errors else 0


def cmd_run(args: argparse.Namespace) -> int:
    from botkit.model.loader import ModelLoadError
    from botkit.runtime import build_generator, run_adapters

    settings = _settings(args, "run")
    _check_reload(args, "run")
    _logging(args, logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO))
    names = args.adapters or settings.adapters
    if not names:
        raise CommandFailed(
            'botkit run: no adapters named; set adapters = ["telegram", ...] or pass --adapter', 2
        )
    adapters = _adapters(names, settings, "run")
    try:
        model = build_generator(settings)
    except ModelLoadError as exc:
        raise CommandFailed(f"botkit run: {exc}", 1) from None
    bot = _build_bot_or_fail(settings, "run", model=model)

    async def serve() -> None:
        await bot.start()
        _report_plugin_errors(bot)
        async with _watching(bot, args.reload):
            await run_adapters(bot, adapters)

    asyncio.run(serve())
    return 0


def _build_bot_or_fail(settings: Settings, command: str, model: Generator | None = None) -> Bot:
    """:func:`botkit.runtime.build_bot`; a database it cannot open is one line and exit 1."""
    from botkit.db import DatabaseUnavailable
    from botkit.runtime import build_bot

    try:
        return build_bot(settings, model=model)
    except DatabaseUnavailable as exc:
        raise CommandFailed(f"botkit {command}: {exc}", 1) from None


def _adapters(names: Sequence[str], settings: Settings, command: str) -> list[Adapter]:
    """Each named adapter from the ``botkit.adapters`` entry points, configured from ``settings``."""
    from botkit.config import ConfigError
    from botkit.discovery import AdapterUnavailable, adapter_names, load_adapter

    installed = adapter_names()
    unknown = [name for name in names if name not in installed]
    if unknown:
        known = ", ".join(installed) or "none"
        raise CommandFailed(f"botkit {command}: unknown adapter {unknown[0]!r}; installed: {known}", 2)
    try:
        return [load_adapter(name, settings) for name in names]
    except ConfigError as exc:
        raise CommandFailed(f"botkit {command}: {exc}", 2) from None
    except AdapterUnavailable as exc:
        raise CommandFailed(f"botkit {command}: {exc}", 1) from None


def _check_reload(args: argparse.Namespace, command: str) -> None:
    if args.reload and importlib.util.find_spec("watchfiles") is None:
        raise CommandFailed(f"botkit {command} --reload needs watchfiles: pip install 'botkit[reload]'", 1)


def _watching(bot: Bot, reload: bool) -> contextlib.AbstractAsyncContextManager[None]:
    """With ``reload``, watch the plugin files while the body runs; each reload is one line on stderr."""
    if not reload:
        return contextlib.nullcontext()
    from botkit.reload import watching

    return watching(bot, report=lambda line: print(f"botkit: {line}", file=sys.stderr))


def _report_plugin_errors(bot: Bot) -> None:
    for source, reason in bot.load_errors.items():
        print(f"botkit: plugin {source} was not loaded: {reason}", file=sys.stderr)
    for name, reason in bot.teardown_errors.items():
        print(f"botkit: plugin {name} did not stop cleanly: {reason}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
