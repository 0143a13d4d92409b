"""The bot: builds a context for each incoming message, runs middleware, walks handlers by priority.

Dispatch order: handlers are grouped by ``priority`` (lower runs first). In each group only the first
handler whose match test accepts the message runs (commands are tried before patterns); if it
``block``s (the default) or calls ``ctx.stop()``, no later group runs. Every exception from a handler
ends here, in :meth:`Bot._on_error`: the user gets a short apology, the log gets the traceback with the
conversation id, and the bot goes on.

A conversation waiting for an answer (a handler parked in ``ctx.ask``, or a form in progress; see
:mod:`botkit.conversation` and :mod:`botkit.forms`) gets its next message as that answer: it reaches
neither the handlers nor the chat model. Middleware still runs around it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from itertools import groupby
from typing import TYPE_CHECKING

from botkit.context import Context, NoModelError
from botkit.conversation import CANCEL_COMMAND, NOTHING_TO_CANCEL, ConversationEnded, Waits
from botkit.errors import ConversationClosed
from botkit.forms import FormRunner
from botkit.i18n import N_, translate_for
from botkit.jobs import JobRunner, LocalJobs
from botkit.message import Incoming, Reply, StreamingReply
from botkit.plugin import Handler, Plugin, UsageError
from botkit.stores.memory import MemoryStore
from botkit.types import Adapter, Generator, Middleware, Next, Store

if TYPE_CHECKING:
    from botkit.config import Settings

log = logging.getLogger("botkit")

APOLOGY = N_("Sorry, something went wrong while handling that. Please try again.")
NO_MODEL = N_("No dialogue model is configured for this bot, so I can only answer commands. Try /help.")
USAGE = N_("Usage: {usage} ({problem})")


class Bot:
    """Plugins, middleware, a store and a model, wired together.

    The bot is what adapters are given (it satisfies :class:`botkit.types.Dispatcher`) and what plugins see
    (:class:`botkit.plugin.BotView`).

    Args:
        plugins: plugin instances, in load order.
        middleware: outermost first; each is ``async (ctx, call_next) -> None``.
        store: conversation store (in-memory when omitted).
        model: the dialogue model (None: commands only).
        settings: the loaded configuration, for plugins that read it.

    Attributes:
        load_errors: plugin source or name -> why it was not loaded (import, construction or ``setup``).
        teardown_errors: plugin name -> why its ``teardown`` failed (the bot still stopped).
    """

    def __init__(
        self,
        plugins: Sequence[Plugin] = (),
        *,
        middleware: Sequence[Middleware[Context]] = (),
        store: Store | None = None,
        model: Generator | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.plugins: list[Plugin] = list(plugins)
        self.middleware: list[Middleware[Context]] = list(middleware)
        self.store: Store = store if store is not None else MemoryStore()
        self.model = model
        self.settings = settings
        self.load_errors: dict[str, str] = {}
        self.teardown_errors: dict[str, str] = {}
        self.adapters: dict[str, Adapter] = {}
        # What the adapters' intake shares between replicas (de-duplication, conversation lanes): the
        # runtime puts a Redis one here in queue mode; None keeps each adapter's own, in memory.
        self.intake_state: object | None = None
        # Closed last by stop(), after the store: what the wiring opened for this bot (Redis clients).
        self.on_stop: list[Callable[[], Awaitable[None]]] = []
        # In-process jobs by default; the runtime puts Celery's runner here for queue.backend = "celery".
        self.jobs: JobRunner = LocalJobs(self)
        self._handlers: list[Handler] = []
        self._started = False
        self._waits = Waits()
        self.form_runner = FormRunner()
        self._reindex()

    def attach(self, adapter: Adapter) -> None:
        """Let :meth:`send_to` reach conversations on ``adapter``'s platform (``botkit run`` does this)."""
        self.adapters[adapter.name] = adapter

    async def send_to(
        self, key: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> str | None:
        """Write to a conversation unprompted: ``key`` is its store key (``"telegram:12345"``).

        Returns the platform's id of the (first) message sent (Slack ``ts``, Telegram ``message_id``,
        Discord message id; None on the console), e.g. to start a thread under it.

        Raises:
            LookupError: no attached adapter serves the key's platform.
            ConversationClosed: the platform refused (the bot was blocked, removed or the channel
                archived); the conversation's state records it under ``"closed"`` so plugins can stop
                writing there.
        """
        platform, _, conversation_id = key.partition(":")
        adapter = self.adapters.get(platform)
        if adapter is None or not conversation_id:
            known = ", ".join(sorted(self.adapters)) or "none"
            raise LookupError(f"no adapter for conversation {key!r} (attached: {known})")
        try:
            return await adapter.send_to(conversation_id, reply, thread_id=thread_id)
        except ConversationClosed as exc:
            state = await self.store.get_state(key)
            state["closed"] = {"reason": exc.reason}
            await self.store.set_state(key, state)
            raise

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Run each plugin's ``setup`` in load order; a plugin whose setup fails is rolled back and dropped.

        Rolled back as discord.py's extension loader does: the failing plugin's ``teardown`` runs, so that
        what its setup opened before raising is released, and the failure is kept in :attr:`load_errors`.
        If starting is interrupted (cancelled, Ctrl-C), the interrupted plugin and every plugin set up
        before it are torn down, in reverse order, before the interruption goes on: nothing stays open.
        """
        if self._started:
            return
        kept: list[Plugin] = []
        for plugin in self.plugins:
            try:
                await plugin.setup(self)
            except Exception as exc:
                self.load_errors[plugin.name] = f"setup failed: {type(exc).__name__}: {exc}"
                log.exception("plugin %r failed in setup and was not loaded", plugin.name)
                await self._teardown(plugin)
            except BaseException:
                for opened in reversed([*kept, plugin]):
                    await self._teardown(opened)
                raise
            else:
                kept.append(plugin)
        self.plugins = kept
        self._reindex()
        await self.jobs.start([job for plugin in self.plugins for job in plugin.jobs()])
        self._started = True

    async def stop(self) -> None:
        """Run each plugin's ``teardown`` in reverse load order, then close the model and the store.

        A failing teardown is logged and kept in :attr:`teardown_errors`; the others still run.
        """
        await self.jobs.stop()  # first: no job may run into a plugin that is being torn down
        await self._waits.close()  # a parked ask's marker stays in the store: the next message explains
        await self.form_runner.close()
        for plugin in reversed(self.plugins):
            await self._teardown(plugin)
        if self.model is not None:
            await self.model.close()
        await self.store.close()
        for close in self.on_stop:
            await close()
        self._started = False

    async def _teardown(self, plugin: Plugin) -> None:
        try:
            await plugin.teardown()
        except Exception as exc:
            self.teardown_errors[plugin.name] = f"teardown failed: {type(exc).__name__}: {exc}"
            log.exception("plugin %r failed in teardown", plugin.name)

    def replace_plugin(self, old: Plugin, new: Plugin) -> None:
        """Put ``new`` in ``old``'s place in the load order; messages go to its handlers from now on.

        Only the swap: :func:`botkit.reload.reload_module` runs ``old``'s teardown and ``new``'s setup
        around it (hot reload).
        """
        self.plugins[self.plugins.index(old)] = new
        self._reindex()

    def _reindex(self) -> None:
        handlers = [h for plugin in self.plugins for h in plugin.handlers()]
        # Within a priority, commands are tried before patterns (a catch-all must not shadow /help);
        # sorted() is stable, so otherwise plugin load order decides.
        self._handlers = sorted(handlers, key=lambda h: (h.spec.priority, h.spec.kind != "command"))

    @property
    def handlers(self) -> list[Handler]:
        """All handlers in dispatch order."""
        return list(self._handlers)

    @property
    def commands(self) -> dict[str, Handler]:
        """Command name (and aliases) to handler."""
        found: dict[str, Handler] = {}
        for handler in self._handlers:
            if handler.spec.kind == "command" and handler.spec.command:
                for name in (handler.spec.command, *handler.spec.aliases):
                    found.setdefault(name, handler)
        return found

    # -- dispatch ---------------------------------------------------------------------------------
    async def handle(self, incoming: Incoming, adapter: Adapter) -> Context:
        """Handle one message or event from ``adapter``; never raises for a handler's fault.

        Returns when the handlers are done *or* one waits in ``ctx.ask`` for the conversation's next
        message (which the adapter delivers only after this returns); that handler goes on in a task.
        """
        if not self._started:
            await self.start()
        state = await self.store.get_state(incoming.conversation.key)
        ctx = Context(self, adapter, incoming, state, waits=self._waits)
        chain: Next[Context] = self._route
        for middleware in reversed(self.middleware):
            chain = _wrap(middleware, chain)
        task = asyncio.get_running_loop().create_task(self._run(ctx, chain))
        self._waits.track(task)
        try:
            await ctx.turn.settled()
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.done():  # parked in ask: save what it asked; the task saves again when it ends
            await self._save(ctx)
        return ctx

    async def _run(self, ctx: Context, chain: Next[Context]) -> None:
        try:
            try:
                await chain(ctx)
            except ConversationEnded:
                pass  # a cancelled or timed-out ask: the user was told, nothing went wrong
            except Exception as exc:
                await self._on_error(ctx, exc)
            await self._save(ctx)
            self.form_runner.arm(ctx)
        finally:
            ctx.turn.settle()  # also when cancelled (the bot stops): handle() must not wait forever

    async def _save(self, ctx: Context) -> None:
        try:
            await self.store.set_state(ctx.key, ctx.state)
        except Exception:
            log.exception("could not save state of conversation %s", ctx.key)

    async def _route(self, ctx: Context) -> None:
        """The end of the middleware chain: a waiting ask or form takes the message, else the handlers."""
        if await self._waits.answer(ctx) or await self.form_runner.answer(ctx):
            return
        if await self._waits.interrupted(ctx):
            return  # it was meant as an answer: the user starts again rather than have it misread
        command = ctx.command.name if ctx.command is not None else None
        if command == CANCEL_COMMAND and CANCEL_COMMAND not in self.commands:
            await ctx.reply(translate_for(ctx, NOTHING_TO_CANCEL))
            return
        await self._dispatch(ctx)

    async def _dispatch(self, ctx: Context) -> None:
        for _priority, group in groupby(self._handlers, key=lambda h: h.spec.priority):
            for handler in group:
                matched = handler.spec.match(ctx.incoming)
                if not matched:
                    continue
                ctx.matched = matched
                try:
                    await handler.run(ctx, matched)
                except UsageError as exc:
                    await ctx.reply(translate_for(ctx, USAGE, usage=handler.usage, problem=exc))
                    return
                except NoModelError:
                    await ctx.reply(translate_for(ctx, NO_MODEL))
                    return
                if handler.spec.block or ctx.stopped:
                    return
                break  # one handler per priority group

    async def _on_error(self, ctx: Context, exc: Exception) -> None:
        error_id = uuid.uuid4().hex[:8]
        log.error(
            "handler error %s in conversation %s (%s)",
            error_id,
            ctx.key,
            type(exc).__name__,
            exc_info=exc,
        )
        try:
            apology = f"{translate_for(ctx, APOLOGY)} (error {error_id})"  # the id as it is: users quote it
            await ctx.adapter.send(ctx.incoming, Reply(apology))
        except Exception:
            log.exception("could not send the apology for error %s to %s", error_id, ctx.key)


def _wrap(middleware: Middleware[Context], call_next: Next[Context]) -> Next[Context]:
    async def run(ctx: Context) -> None:
        await middleware(ctx, call_next)

    return run
