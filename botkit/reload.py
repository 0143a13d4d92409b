"""Hot reload for development: a plugin whose file changes is re-imported and swapped in (teardown, setup).

``botkit chat --reload`` and ``botkit run --reload`` run :func:`watch_plugins` beside the bot. A reload is all
or nothing, as discord.py's ``reload_extension``: the new source is compiled and run into a *fresh* module
object, so a file that fails to import (a syntax error, an exception at import) leaves the old module, and
the old plugin answering, untouched. Only when the new module and its plugin instances exist is the old
plugin torn down and the new one set up; a new version whose ``setup`` fails is torn down, the old one is set
up again and stays, and the failure is reported. Teardown comes before setup (not after) so that a plugin
holding something exclusive (a port, a lock file) has released it when its new version asks for it.

What is watched: the source file of each loaded plugin's module, except botkit's own built-in plugins.
A plugin class is matched to its new version by its qualified name; a class added to the file is not
loaded by a reload (restart for that), and a class removed from it is reported and kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import linecache
import logging
import sys
import tokenize
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from botkit.app import Bot
from botkit.discovery import plugin_classes
from botkit.plugin import Plugin

log = logging.getLogger("botkit.reload")

BUILTIN_PREFIX = "botkit."


@dataclass(frozen=True)
class ReloadResult:
    """What reloading one module did.

    Attributes:
        module: the module's import name.
        path: its source file.
        reloaded: the names of the plugins now running the new code.
        error: why the old version stays (None: the reload worked).
    """

    module: str
    path: Path | None
    reloaded: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the new version now answers."""
        return self.error is None

    def describe(self) -> str:
        """One line for the terminal."""
        where = self.path or self.module
        if self.error is None:
            return f"reloaded {', '.join(self.reloaded)} from {where}"
        return f"reloading {where} failed; the old version goes on answering: {self.error}"


def plugin_files(bot: Bot) -> dict[Path, str]:
    """The source file of each module the bot's plugins come from, mapped to the module's name.

    botkit's built-in plugins are left out: they are the framework, not the bot being written.
    """
    found: dict[Path, str] = {}
    for plugin in bot.plugins:
        name = type(plugin).__module__
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if file is None or name.startswith(BUILTIN_PREFIX) or not file.endswith(".py"):
            continue
        found[Path(file).resolve()] = name
    return found


async def reload_module(bot: Bot, name: str) -> ReloadResult:
    """Re-import module ``name`` from its source and swap its plugins in ``bot`` for their new versions.

    Never raises for the plugin's fault: a failure is in the result's ``error`` (and the log), and the old
    plugins stay loaded and answering.
    """
    old_plugins = [p for p in bot.plugins if type(p).__module__ == name]
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None)
    path = Path(origin) if origin else None
    if not old_plugins or module is None or path is None:
        return _failed(name, path, "no loaded plugin comes from this module")
    try:
        fresh = _import_fresh(module, path)
        classes = {cls.__qualname__: cls for cls in plugin_classes(fresh, name)}
    except Exception as exc:
        return _failed(name, path, _explain(exc, path))
    pairs: list[tuple[Plugin, Plugin]] = []
    for old in old_plugins:
        cls = classes.get(type(old).__qualname__)
        if cls is None:
            return _failed(name, path, f"the file no longer defines {type(old).__qualname__}")
        try:
            pairs.append((old, cls()))
        except Exception as exc:
            return _failed(name, path, f"creating {cls.__qualname__} failed: {_explain(exc, path)}")
    swapped: list[tuple[Plugin, Plugin]] = []
    for old, new in pairs:
        await _teardown(old)
        try:
            await new.setup(bot)
        except Exception as exc:
            await _teardown(new)
            for back_old, back_new in [(old, new), *reversed(swapped)]:
                if back_new in bot.plugins:
                    await _teardown(back_new)
                    bot.replace_plugin(back_new, back_old)
                await _setup_again(back_old, bot)
            return _failed(name, path, f"setup of {new.name} failed: {_explain(exc, path)}")
        bot.replace_plugin(old, new)
        swapped.append((old, new))
    sys.modules[name] = fresh  # what imports the module from now on gets the code that runs
    result = ReloadResult(name, path, [new.name for _, new in swapped])
    log.info("%s", result.describe())
    return result


def _import_fresh(old: ModuleType, path: Path) -> ModuleType:
    """Run ``path``'s current source into a new module object; ``sys.modules`` keeps ``old`` if it fails.

    The source is compiled here rather than through the import system's cached bytecode, whose staleness
    check uses whole-second mtimes: an edit within the second of the last import would be missed.
    """
    spec = old.__spec__
    if spec is None:
        raise ImportError(f"{old.__name__} has no import spec; it cannot be reloaded")
    importlib.invalidate_caches()
    with tokenize.open(path) as source_file:  # honours a coding declaration, as import does
        source = source_file.read()
    code = compile(source, str(path), "exec", dont_inherit=True)
    fresh = importlib.util.module_from_spec(spec)
    linecache.checkcache(str(path))  # tracebacks from the new code show the new lines
    # While it runs the module is in sys.modules, as during any import (dataclasses and self-imports look).
    sys.modules[old.__name__] = fresh
    try:
        exec(code, fresh.__dict__)
    finally:
        sys.modules[old.__name__] = old
    return fresh


def _explain(exc: BaseException, path: Path) -> str:
    """The error and where in the plugin's file it happened."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({path.name}, line {exc.lineno})"
    line = next(
        (
            frame.lineno
            for frame in reversed(traceback.extract_tb(exc.__traceback__))
            if frame.filename == str(path)
        ),
        None,
    )
    where = f" ({path.name}, line {line})" if line is not None else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _failed(name: str, path: Path | None, error: str) -> ReloadResult:
    result = ReloadResult(name, path, error=error)
    log.error("%s", result.describe())
    return result


async def _teardown(plugin: Plugin) -> None:
    try:
        await plugin.teardown()
    except Exception:
        log.exception("plugin %r failed in teardown during a reload", plugin.name)


async def _setup_again(plugin: Plugin, bot: Bot) -> None:
    try:
        await plugin.setup(bot)
    except Exception:
        log.exception("the old version of plugin %r failed to set up again; it stays loaded", plugin.name)


async def watch_plugins(
    bot: Bot,
    *,
    on_reload: Callable[[ReloadResult], object] = lambda result: None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    debounce_ms: int = 300,
) -> None:
    """Reload each plugin module whose file changes, until ``stop`` is set (or the task is cancelled).

    Args:
        bot: the running bot.
        on_reload: called with each reload's result (the command line prints it).
        stop: set it to end watching.
        ready: set once the watcher is running (a change before that is not seen).
        debounce_ms: changes within this window are taken together (an editor's save is several events).

    Raises:
        ModuleNotFoundError: watchfiles is not installed (``pip install 'botkit[reload]'``).
    """
    from watchfiles import awatch  # an optional dependency: development only

    files = plugin_files(bot)
    folders = sorted({path.parent for path in files})
    if not folders:
        log.warning("--reload: no plugin file to watch (botkit's built-in plugins are not watched)")
        if ready is not None:
            ready.set()
        return
    # rust_timeout + yield_on_timeout: an empty batch every 200 ms tells us the watcher is up.
    async for changes in awatch(
        *folders,
        debounce=debounce_ms,
        step=20,
        stop_event=stop,
        rust_timeout=200,
        yield_on_timeout=True,
        recursive=False,
    ):
        if ready is not None:
            ready.set()
        for name in _changed_modules(bot, [path for _, path in changes]):
            on_reload(await reload_module(bot, name))


def _changed_modules(bot: Bot, paths: list[str]) -> list[str]:
    files = plugin_files(bot)  # asked again each time: a reload may have changed what is loaded
    return sorted({files[Path(p).resolve()] for p in paths if Path(p).resolve() in files})


@contextlib.asynccontextmanager
async def watching(bot: Bot, *, report: Callable[[str], object]) -> AsyncIterator[None]:
    """Watch ``bot``'s plugin files while the body runs (what ``--reload`` does).

    ``report`` gets one line once the watcher runs (the files watched), one per reload, and one if the
    watcher itself fails.
    """
    stop, ready = asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(
        watch_plugins(bot, stop=stop, ready=ready, on_reload=lambda result: report(result.describe()))
    )
    watcher.add_done_callback(lambda task: _report_end(task, report))
    started = asyncio.create_task(ready.wait())
    await asyncio.wait([started, watcher], return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    files = ", ".join(map(str, plugin_files(bot))) or "none (botkit's built-in plugins are not watched)"
    report(f"--reload watches these plugin files: {files}")
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait([watcher])  # a failure was reported when it happened


def _report_end(watcher: asyncio.Task[None], report: Callable[[str], object]) -> None:
    error = None if watcher.cancelled() else watcher.exception()
    if error is not None:
        report(f"--reload stopped watching: {type(error).__name__}: {error}")
