"""The ``botkit`` command: init, chat, plugins, run — plus ``worker`` and ``train`` from their packages.

Heavy imports (torch, transformers, platform clients) happen inside the sub-commands, so
``botkit --version`` and ``botkit --help`` stay instant.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from botkit import __version__

# Sub-commands that live with their own packages; each module has register(subparsers).
EXTERNAL_COMMANDS = (("botkit.queue.cli", "worker", "queue"), ("botkit.training.cli", "train", "train"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``botkit`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Sub-commands registered by other packages may name their handler ``func`` (argparse's idiom).
    handler = getattr(args, "handler", None) or getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="botkit", description="Chat bots backed by your own dialogue model."
    )
    parser.add_argument("--version", action="version", version=f"botkit {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    init = sub.add_parser("init", help="write a starter botkit.toml and an example plugin")
    init.add_argument("directory", type=Path)
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.set_defaults(handler=cmd_init)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal (or through a pipe)")
    chat.add_argument("--model", type=Path, help="local model directory (default: the shipped model)")
    _common(chat)
    chat.set_defaults(handler=cmd_chat)

    plugins = sub.add_parser("plugins", help="list the loaded plugins and their commands")
    _common(plugins)
    plugins.set_defaults(handler=cmd_plugins)

    run = sub.add_parser("run", help="start the adapters named in the config")
    run.add_argument("--adapter", action="append", dest="adapters", help="adapter to start (repeatable)")
    run.add_argument("--model", type=Path, help="local model directory (queue backend local)")
    _common(run)
    run.set_defaults(handler=cmd_run)

    for module_name, command, extra in EXTERNAL_COMMANDS:
        try:
            importlib.import_module(module_name).register(sub)
        except ImportError as exc:
            missing = sub.add_parser(command, help=f"(needs: pip install 'botkit[{extra}]')")
            missing.set_defaults(handler=_unavailable(command, extra, exc), _argv_rest=True)
            missing.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (default: $BOTKIT_CONFIG or ./botkit.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")


def _unavailable(command: str, extra: str, exc: ImportError) -> object:
    def handler(_args: argparse.Namespace) -> int:
        print(
            f"botkit {command}: unavailable ({exc}); install it with pip install 'botkit[{extra}]'",
            file=sys.stderr,
        )
        return 2

    return handler


def _settings(args: argparse.Namespace) -> object:
    from botkit.config import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        raise SystemExit(f"botkit: {exc}") from None
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
    from botkit.scaffold import write_starter

    try:
        written = write_starter(args.directory, force=args.force)
    except FileExistsError as exc:
        print(f"botkit init: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"next: cd {args.directory} && botkit chat")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from botkit.adapters.console import ConsoleAdapter
    from botkit.config import Settings
    from botkit.model.factory import build_generator
    from botkit.model.loader import ModelLoadError
    from botkit.runtime import build_bot

    _logging(args, logging.WARNING)
    settings = _settings(args)
    assert isinstance(settings, Settings)
    # One local user at a keyboard or a pipe: a rate limit would only cut scripted input short.
    settings.rate_limit.enabled = False
    try:
        model = build_generator(settings)
    except ModelLoadError as exc:
        print(f"botkit chat: {exc}", file=sys.stderr)
        return 1
    bot = build_bot(settings, model=model)
    _report_load_errors(bot.load_errors)
    adapter = ConsoleAdapter()

    async def session() -> None:
        await bot.start()
        try:
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
    from botkit.config import Settings
    from botkit.runtime import build_bot

    _logging(args, logging.ERROR)
    settings = _settings(args)
    assert isinstance(settings, Settings)
    bot = build_bot(settings)
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
    _report_load_errors(bot.load_errors)
    return 1 if bot.load_errors else 0


def cmd_run(args: argparse.Namespace) -> int:
    from botkit.adapters.registry import AdapterUnavailable, create
    from botkit.config import Settings
    from botkit.model.factory import build_generator
    from botkit.model.loader import ModelLoadError
    from botkit.runtime import build_bot, run_adapters

    settings = _settings(args)
    assert isinstance(settings, Settings)
    _logging(args, logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO))
    names = args.adapters or settings.adapters
    if not names:
        print(
            'botkit run: no adapters named; set adapters = ["telegram", ...] or pass --adapter',
            file=sys.stderr,
        )
        return 2
    try:
        adapters = [create(name, settings) for name in names]
        model = build_generator(settings)
    except (AdapterUnavailable, ModelLoadError, ValueError) as exc:
        print(f"botkit run: {exc}", file=sys.stderr)
        return 1
    bot = build_bot(settings, model=model)
    _report_load_errors(bot.load_errors)
    asyncio.run(run_adapters(bot, adapters))
    return 0


def _report_load_errors(errors: dict[str, str]) -> None:
    for source, reason in errors.items():
        print(f"botkit: plugin {source} was not loaded: {reason}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
