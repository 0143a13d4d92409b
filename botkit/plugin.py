"""Plugins: classes whose decorated methods handle commands, message patterns and events.

A handler's *match* test (``HandlerSpec.match``) is kept apart from *running* it (``Handler.run``), so
the dispatcher can ask "who wants this?" without side effects::

    class Support(Plugin):
        @on_command("ask")
        async def ask(self, ctx: Context, *question: str) -> None:
            \"\"\"Ask the support model a question.\"\"\"
            await ctx.reply(" ".join(question))
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

from botkit.jobs.context import JobRunner
from botkit.jobs.schedule import JobSpec, ScheduledJob
from botkit.message import CommandCall, Event, Incoming, Message, Reply, StreamingReply, parse_command
from botkit.types import Generator, Store

if TYPE_CHECKING:
    from botkit.config import Settings

HandlerKind = Literal["command", "message", "event"]
F = TypeVar("F", bound=Callable[..., Awaitable[None]])

DEFAULT_PRIORITY = 50
FALLBACK_PRIORITY = 1000


class BotView(Protocol):
    """The bot as plugins see it: ``Plugin.setup(bot)`` and ``ctx.bot``. :class:`botkit.app.Bot` is one.

    A protocol, not the class, so that plugins, the context and the bot do not import one another.
    """

    @property
    def plugins(self) -> Sequence[Plugin]:
        """The loaded plugins, in load order."""

    @property
    def commands(self) -> Mapping[str, Handler]:
        """Command name (and each alias) to its handler."""

    @property
    def store(self) -> Store:
        """The conversation store."""

    @property
    def model(self) -> Generator | None:
        """The dialogue model (None: commands only)."""

    @property
    def settings(self) -> Settings | None:
        """The loaded configuration (None for a bot built in code without one)."""

    @property
    def jobs(self) -> JobRunner:
        """What runs ``ctx.later`` and ``ctx.background`` (in-process, or on Celery)."""

    async def send_to(
        self, key: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> str | None:
        """Write to the conversation with store key ``key`` unprompted; the platform's id of the (first)
        message sent, or None (see ``Bot.send_to``)."""


class UsageError(Exception):
    """A command was called with arguments that do not fit its signature."""


@dataclass(frozen=True)
class HandlerSpec:
    """What a decorator records on a method: when it applies and how it ranks."""

    kind: HandlerKind
    priority: int = DEFAULT_PRIORITY
    block: bool = True
    command: str | None = None
    aliases: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    event: str | None = None
    admin_only: bool = False
    addressed_only: bool = True

    def match(self, incoming: Incoming) -> bool | CommandCall | re.Match[str]:
        """Whether this handler wants ``incoming``; the returned object (truthy) is handed to the run."""
        if self.kind == "event":
            return isinstance(incoming, Event) and incoming.kind == self.event
        if not isinstance(incoming, Message):
            return False
        if self.kind == "command":
            call = parse_command(incoming.text)
            if call is not None and call.name in (self.command, *self.aliases):
                return call
            return False
        if self.addressed_only and not incoming.addressed:
            return False
        if self.pattern is None:
            return True
        return self.pattern.search(incoming.text) or False


@dataclass(frozen=True)
class Handler:
    """A handler bound to its plugin instance."""

    plugin: Plugin
    name: str
    spec: HandlerSpec
    func: Callable[..., Awaitable[None]]

    @property
    def command(self) -> str:
        """The command this handler answers ("" for message and event handlers)."""
        return self.spec.command or ""

    @property
    def description(self) -> str:
        """First line of the handler's docstring: what ``/help`` shows."""
        doc = inspect.getdoc(self.func) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    @property
    def usage(self) -> str:
        """``/name <arg> [opt] [rest...]`` built from the handler's signature."""
        parts = [f"/{self.spec.command}"]
        for param in list(inspect.signature(self.func).parameters.values())[1:]:
            if param.kind is param.VAR_POSITIONAL:
                parts.append(f"[{param.name}...]")
            elif param.default is param.empty:
                parts.append(f"<{param.name}>")
            else:
                parts.append(f"[{param.name}]")
        return " ".join(parts)

    async def run(self, ctx: object, matched: object) -> None:
        """Call the handler; for a command, convert its arguments by the signature's annotations.

        ``ctx`` is the :class:`~botkit.context.Context`, passed through untouched (typed ``object`` so that
        this module need not import the context, which imports it).
        """
        if isinstance(matched, CommandCall):
            args = self._convert(matched.args)
            await self.func(ctx, *args)
        else:
            await self.func(ctx)

    def _convert(self, raw: tuple[str, ...]) -> list[Any]:
        params = list(inspect.signature(self.func).parameters.values())[1:]  # skip ctx
        hints = _type_hints(self.func)
        out: list[Any] = []
        rest = list(raw)
        for param in params:
            convert = hints.get(param.name, str)
            if param.kind is param.VAR_POSITIONAL:
                out.extend(_convert_one(convert, value, param.name) for value in rest)
                rest = []
                break
            if not rest:
                if param.default is param.empty:
                    raise UsageError(f"missing <{param.name}>")
                break
            out.append(_convert_one(convert, rest.pop(0), param.name))
        if rest:
            raise UsageError(f"unexpected extra argument {rest[0]!r}")
        return out


def _type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        import typing

        return typing.get_type_hints(func)
    except Exception:  # unresolvable annotations: treat every argument as text
        return {}


def _convert_one(convert: Any, value: str, name: str) -> Any:
    if convert in (str, inspect.Parameter.empty) or not callable(convert):
        return value
    try:
        return convert(value)
    except (TypeError, ValueError) as exc:
        kind = getattr(convert, "__name__", "value")
        raise UsageError(f"<{name}> must be {kind}, got {value!r}") from exc


def _mark(spec: HandlerSpec) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        checked: Any = func  # checking ``func`` itself would narrow away its type F
        if not inspect.iscoroutinefunction(checked):
            raise TypeError(f"handler {func.__qualname__} must be an async function")
        setattr(func, "__botkit_handler__", spec)  # noqa: B010  (dunder attr on a function)
        return func

    return decorate


def on_command(
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    priority: int = DEFAULT_PRIORITY,
    block: bool = True,
    admin_only: bool = False,
) -> Callable[[F], F]:
    """Handle ``/name ...``. Extra parameters of the method receive the parsed arguments."""
    return _mark(
        HandlerSpec(
            "command",
            priority,
            block,
            command=name.lower(),
            aliases=tuple(a.lower() for a in aliases),
            admin_only=admin_only,
        )
    )


def on_message(
    pattern: str | re.Pattern[str] | None = None,
    *,
    priority: int = DEFAULT_PRIORITY,
    block: bool = True,
    flags: int = 0,
    addressed_only: bool = True,
) -> Callable[[F], F]:
    """Handle messages whose text matches ``pattern`` (``re.search``); every message when None.

    ``addressed_only`` (default) ignores group chatter that does not mention or reply to the bot.
    """
    compiled = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
    return _mark(HandlerSpec("message", priority, block, pattern=compiled, addressed_only=addressed_only))


def on_event(kind: str, *, priority: int = DEFAULT_PRIORITY, block: bool = True) -> Callable[[F], F]:
    """Handle events of ``kind`` ("button", "join", "leave", ...)."""
    return _mark(HandlerSpec("event", priority, block, event=kind))


class Plugin:
    """Base class for plugins. Subclasses define handlers with ``on_command``/``on_message``/``on_event``.

    ``name`` defaults to the lower-cased class name without a ``Plugin`` suffix.
    """

    name: ClassVar[str] = ""
    handler_specs: ClassVar[dict[str, HandlerSpec]] = {}
    job_specs: ClassVar[dict[str, JobSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__.removesuffix("Plugin").lower() or cls.__name__.lower()
        specs: dict[str, HandlerSpec] = {}
        jobs: dict[str, JobSpec] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                spec = getattr(value, "__botkit_handler__", None)
                if isinstance(spec, HandlerSpec):
                    specs[attr] = spec
                job = getattr(value, "__botkit_job__", None)
                if isinstance(job, JobSpec):
                    jobs[attr] = job
        cls.handler_specs = specs
        cls.job_specs = jobs

    async def setup(self, bot: BotView) -> None:
        """Called once when the bot starts; raise to refuse loading (the plugin is then dropped).

        When ``setup`` raises, :meth:`teardown` is still called (as discord.py's extension loader does), so
        that what it opened before failing is released: write ``teardown`` to cope with a half-done setup.
        """

    async def teardown(self) -> None:
        """Called once when the bot stops, and after a ``setup`` that raised (see :meth:`setup`)."""

    def handlers(self) -> list[Handler]:
        """This instance's handlers, bound."""
        return [Handler(self, attr, spec, getattr(self, attr)) for attr, spec in self.handler_specs.items()]

    def jobs(self) -> list[ScheduledJob]:
        """This instance's ``@every``/``@at`` jobs, bound; each is named ``"plugin.method"``."""
        return [
            ScheduledJob(f"{self.name}.{attr}", spec, getattr(self, attr))
            for attr, spec in self.job_specs.items()
        ]
