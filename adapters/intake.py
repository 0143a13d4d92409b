"""The one way every platform adapter takes events in: drop redeliveries, one lane per conversation, a typing
indicator while the bot works, ``dispatcher.handle``, every task tracked, and a drain on stop.

A platform adapter parses its payloads and calls :meth:`Intake.submit`; how it shows "typing" is the hook
it passes in. Everything else here is the same on Telegram, Discord and Slack, including the lane key
(``conversation.key``, the key the store files the conversation's history under). Every message goes on to
the plugins as it is, attachments included, since plugins can read them (``ctx.download``); what the model
cannot read, the chat plugin refuses politely (:mod:`botkit.plugins.chat`), the same on every platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from botkit.message import Incoming

if TYPE_CHECKING:
    from botkit.types import Adapter, Dispatcher

log = logging.getLogger("botkit.adapters")

#: Runs before the lane: returns what to hand on (maybe changed), or None when nothing more is to be done.
Prepare = Callable[[Incoming], Awaitable[Incoming | None]]
#: Runs after the dispatcher (also when it failed), e.g. to take down an interaction's "thinking...".
Cleanup = Callable[[Incoming], Awaitable[None]]
#: The platform's typing indicator, shown while the dispatcher handles ``incoming``.
Typing = Callable[[Incoming], AbstractAsyncContextManager[None]]
#: An adapter's optional ``readmit(raw, ticket)`` hook: parse a journalled payload again (another
#: replica took it in and died) and :meth:`Intake.resubmit` it under ``ticket``; False for nothing to do.
Readmit = Callable[[Any, str], bool]

STOP_GRACE_S = 10.0  # how long stopping waits for replies in flight before cancelling them


class RecentIds:
    """Remembers the last ``size`` event ids, to drop redelivered events (bounded memory)."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def seen(self, event_id: str) -> bool:
        """True if ``event_id`` was seen before; otherwise remember it and return False."""
        if event_id in self._seen:
            self._seen.move_to_end(event_id)
            return True
        self._seen[event_id] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return False


class ConversationLanes:
    """Per-conversation locks that exist only while a conversation has work (bounded memory).

    Events of one conversation are handled one at a time, in arrival order, so each reply sees the
    history the one before it wrote; different conversations run concurrently.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def lane(self, key: str) -> AsyncIterator[None]:
        """Hold the lane of conversation ``key`` for the duration of the ``async with`` block."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@runtime_checkable
class IntakeState(Protocol):
    """Where de-duplication and the conversation lanes live: this process, or Redis shared by replicas.

    ``admit`` is synchronous on purpose: the adapter calls it before its webhook answers, so the order
    in which updates reached *any* replica is the order of their tickets (a platform sends the next
    update only after the previous one was acknowledged).
    """

    def admit(self, event_id: str | None, key: str, *, adapter: str = "", raw: object = None) -> str | None:
        """A ticket for the event in conversation ``key``, or None when it was taken in before. ``raw``
        (the platform's payload) may be journalled, so that another replica can take it over."""

    def journal(self, adapter: str, readmit: Readmit) -> None:
        """Hand this process's ``adapter`` the journalled payloads whose replica died (``readmit``)."""

    def lane(self, key: str, ticket: str) -> AbstractAsyncContextManager[None]:
        """Wait for ``ticket``'s turn in conversation ``key``; hold the lane for the ``async with`` block."""

    async def drop(self, key: str, ticket: str) -> None:
        """Give ``ticket`` up without waiting for its turn (nothing to handle, or preparing it failed)."""


class LocalIntakeState:
    """The in-process state (one replica): :meth:`Intake.is_new` de-duplicates, lanes are asyncio locks."""

    def __init__(self, lanes: ConversationLanes | None = None) -> None:
        self._lanes = lanes or ConversationLanes()

    def admit(self, event_id: str | None, key: str, *, adapter: str = "", raw: object = None) -> str | None:
        """Always a ticket: redeliveries were dropped by :meth:`Intake.is_new` already."""
        return ""

    def journal(self, adapter: str, readmit: Readmit) -> None:
        """Nothing is journalled in one process: if it dies, what it had taken in dies with it."""

    def lane(self, key: str, ticket: str) -> AbstractAsyncContextManager[None]:
        """The conversation's asyncio lock (arrival order = the order handlers ask for it)."""
        return self._lanes.lane(key)

    async def drop(self, key: str, ticket: str) -> None:
        """Nothing to give up: a local event takes its place in the lane only when it asks for it."""


async def keep_showing(show: Callable[[], Awaitable[None]], every_s: float, *, after_s: float = 0.0) -> None:
    """Call ``show`` after ``after_s`` seconds, then every ``every_s`` seconds until cancelled.

    Platforms' typing indicators expire by themselves (Telegram's after 5 s, Discord's after 10 s), so
    one that should last while the bot works is renewed; ``show`` must not raise for a failed renewal.
    """
    await asyncio.sleep(after_s)
    while True:
        await show()
        await asyncio.sleep(every_s)


@contextlib.asynccontextmanager
async def no_typing(incoming: Incoming) -> AsyncIterator[None]:
    """A typing indicator that shows nothing (the default)."""
    yield


async def _unchanged(incoming: Incoming) -> Incoming | None:
    return incoming


class Intake:
    """Takes a platform's parsed events to the dispatcher, one conversation at a time.

    Args:
        adapter: the adapter that answers (handed to ``dispatcher.handle``).
        typing: the platform's typing indicator around ``dispatcher.handle``.
    """

    def __init__(self, adapter: Adapter, *, typing: Typing = no_typing) -> None:
        self._adapter = adapter
        self._typing = typing
        self._dispatcher: Dispatcher | None = None
        self._recent = RecentIds()
        self._lanes = ConversationLanes()  # used unless the dispatcher brings a shared state
        self._state: IntakeState = LocalIntakeState(self._lanes)
        self._event_id: str | None = None  # the id is_new just passed, for the submit that follows it
        self._tasks: set[asyncio.Task[None]] = set()
        self._journalled = False  # the adapter has a readmit hook: payloads are worth journalling

    def bind(self, dispatcher: Dispatcher) -> None:
        """Deliver from now on to ``dispatcher`` (the adapter's ``start`` calls this).

        A dispatcher that carries an ``intake_state`` (the runtime sets one shared through Redis when
        several replicas serve one bot) has de-duplication and lanes kept there instead of here.
        """
        self._dispatcher = dispatcher
        shared = getattr(dispatcher, "intake_state", None)
        if isinstance(shared, IntakeState):
            self._state = shared
        readmit = getattr(self._adapter, "readmit", None)
        self._journalled = callable(readmit)
        if callable(readmit):  # the adapter can take over updates other replicas acknowledged and died on
            self._state.journal(self._adapter.name, readmit)

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher events go to.

        Raises:
            RuntimeError: the adapter was not started.
        """
        if self._dispatcher is None:
            raise RuntimeError(f"the {self._adapter.name} adapter is not started")
        return self._dispatcher

    @property
    def pending(self) -> int:
        """Events taken in and not yet handled."""
        return len(self._tasks)

    def is_new(self, event_id: str) -> bool:
        """False when ``event_id`` was taken in before (a redelivery); each platform chooses its ids."""
        if self._recent.seen(event_id):
            log.debug("%s: event %s delivered again; ignored", self._adapter.name, event_id)
            return False
        # Adapters call submit right after (no await between): it hands the id to the shared state.
        self._event_id = event_id
        with contextlib.suppress(RuntimeError):  # no loop: a synchronous caller, the next submit clears it
            asyncio.get_running_loop().call_soon(self._forget_event_id, event_id)
        return True

    def _forget_event_id(self, event_id: str) -> None:
        if self._event_id == event_id:
            self._event_id = None

    def submit(
        self,
        incoming: Incoming,
        *,
        prepare: Prepare = _unchanged,
        cleanup: Cleanup | None = None,
        event_id: str | None = None,
        raw: object = None,
    ) -> asyncio.Task[None]:
        """Handle ``incoming`` in the background; the task is tracked until it ends.

        The event takes its ticket in the conversation's lane now, before the caller acknowledges it
        (``event_id`` defaults to the one :meth:`is_new` was just asked about); one that another replica
        took in already is dropped here. ``prepare`` runs at once, before waiting for the lane (a
        button press is acknowledged while the conversation is still busy); ``cleanup`` runs last.
        ``raw``, the platform's payload as JSON, is journalled while the event is handled (with replicas
        sharing the intake) for an adapter with a ``readmit`` hook, should this replica die meanwhile.
        """
        loop = asyncio.get_running_loop()
        event_id, self._event_id = event_id or self._event_id, None
        journal = raw if self._journalled else None
        ticket = self._state.admit(
            event_id, incoming.conversation.key, adapter=self._adapter.name, raw=journal
        )
        if ticket is None:
            log.debug("%s: event %s taken in by another replica; ignored", self._adapter.name, event_id)
            return loop.create_task(asyncio.sleep(0))
        return self.resubmit(incoming, ticket, prepare=prepare, cleanup=cleanup)

    def resubmit(
        self,
        incoming: Incoming,
        ticket: str,
        *,
        prepare: Prepare = _unchanged,
        cleanup: Cleanup | None = None,
    ) -> asyncio.Task[None]:
        """Handle ``incoming`` under a ticket it already holds (an adapter's ``readmit`` calls this for an
        update whose first replica died), so it keeps its place in the conversation's order."""
        task = asyncio.get_running_loop().create_task(self._run(incoming, ticket, prepare, cleanup))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, incoming: Incoming, ticket: str, prepare: Prepare, cleanup: Cleanup | None) -> None:
        # The ticket was taken for incoming's key: prepare may change the message, not the conversation.
        key, in_lane = incoming.conversation.key, False
        try:
            ready = await prepare(incoming)
            if ready is None:
                return
            in_lane = True  # from here the lane gives the ticket back, whatever happens
            async with self._state.lane(key, ticket):
                async with self._typing(ready):
                    await self.dispatcher.handle(ready, self._adapter)
        except Exception:  # one bad event must not end the adapter
            log.exception("%s: handling %s in %s failed", self._adapter.name, type(incoming).__name__, key)
        finally:
            if not in_lane:  # nothing to handle, prepare failed, or stopped meanwhile: the next one goes on
                try:
                    await self._state.drop(key, ticket)
                except Exception:
                    log.exception("%s: giving up the lane of %s failed", self._adapter.name, key)
            if cleanup is not None:
                try:
                    await cleanup(incoming)
                except Exception:
                    log.exception("%s: cleaning up after %s failed", self._adapter.name, incoming.id)

    async def drain(self, within: float | None = None) -> None:
        """Wait until every event taken in so far (and any taken in meanwhile) is handled, or ``within`` s."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return
            await asyncio.wait(set(self._tasks), timeout=left)

    async def close(self, grace_s: float = STOP_GRACE_S) -> None:
        """Let events in flight finish (``grace_s`` at most), then cancel the rest and wait for them."""
        await self.drain(grace_s)
        late = set(self._tasks)
        if late:
            log.warning("%s: %d replies still running at stop; cancelled", self._adapter.name, len(late))
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
