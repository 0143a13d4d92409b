"""Asking and waiting: ``answer = await ctx.ask("Your order number?", parse=int)`` inside a handler.

Adapters handle one message at a time per conversation (``adapters/intake.py`` lanes await
``Bot.handle``), so a handler that waited for the next message inside ``Bot.handle`` would wait for a
message queued behind itself. The bot therefore runs each handler chain as a task (:class:`Turn` tells it
when the chain has ended *or* parked in :meth:`Waits.ask`) and returns once either happened; the
conversation's next message is handed to the parked ``ask`` (:meth:`Waits.answer`) instead of to the
handlers, and that ``Bot.handle`` call returns when the handler ends or parks again.

The waiting handler's context owns the conversation's state until it ends: the message that answers
takes that same state dict, so what the handler changes after its answer is saved, not overwritten.

A waiting ``ask`` lives in this process only. While it waits, the state holds a marker
(:data:`ASKING`); a bot that finds the marker but no live waiter (it was restarted, or the answer reached
another replica) tells the user it stopped waiting, clears the marker and handles that message no further:
the message was meant as an answer, and neither the chat model nor a command should take it for anything
else. Forms (:mod:`botkit.forms`) keep their progress in the store and survive restarts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from botkit.errors import BotkitError
from botkit.i18n import N_, translate_for
from botkit.message import Incoming, Message, parse_command

T = TypeVar("T")

ASKING = "asking"  # state key: {"question", "user" (the one asked), "by" (Waits.id)} while an ask waits
CANCEL_COMMAND = "cancel"
DEFAULT_ASK_TIMEOUT_S = 300.0

CANCELLED = N_('Cancelled: I am no longer waiting for your answer to "{question}".')
TIMED_OUT = N_('I stopped waiting for your answer to "{question}". Start again whenever you are ready.')
RESTARTED = N_('I was restarted while waiting for your answer to "{question}"; please start again.')
NOTHING_TO_CANCEL = N_("There is nothing to cancel: I am not waiting for an answer.")
NOT_WHOLE_NUMBER = N_("That is not a whole number.")
NOT_NUMBER = N_("That is not a number.")
NOT_VALID = N_("That is not a valid answer.")
ASK_AGAIN = "{why} {question}"


class ConversationEnded(BotkitError):
    """An ``ask`` or a form ended without an answer; the user has been told. The bot treats it as a
    normal end of the handler (no apology), so a handler needs no ``try`` unless it has cleaning up to do.

    Attributes:
        question: what was asked.
    """

    def __init__(self, question: str, why: str) -> None:
        super().__init__(f"{why}: {question}")
        self.question = question


class Cancelled(ConversationEnded):
    """The user sent ``/cancel`` instead of an answer."""

    def __init__(self, question: str) -> None:
        super().__init__(question, "cancelled")


class AnswerTimeout(ConversationEnded):
    """No answer came within the ``timeout``."""

    def __init__(self, question: str) -> None:
        super().__init__(question, "timed out")


class Asker(Protocol):
    """What :meth:`Waits.ask` needs of a handler's context (:class:`botkit.context.Context` is one)."""

    @property
    def key(self) -> str: ...

    @property
    def incoming(self) -> Incoming: ...

    @property
    def bot(self) -> Any: ...

    state: dict[str, Any]
    turn: Turn
    reply_to: Incoming
    replies: list[Any]

    async def reply(self, text: str) -> object: ...


class Turn:
    """One handler chain run as a task: settled when it has ended, or parked in ``ask``."""

    def __init__(self) -> None:
        self._settled = asyncio.Event()
        self.parked = False

    def settle(self, *, parked: bool = False) -> None:
        """The chain ended (or parked in ``ask``): whoever waits on it may go on."""
        self.parked = self.parked or parked
        self._settled.set()

    def resume(self) -> None:
        """An answer woke the parked chain: it is running again."""
        self._settled.clear()

    async def settled(self) -> None:
        """Wait until the chain ends or parks."""
        await self._settled.wait()


@dataclass
class Waiter:
    """A parked ``ask``: its question, the future its answer goes into, and the asking context."""

    question: str
    asker: Asker
    answer: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def is_cancel(text: str) -> bool:
    """Whether ``text`` is the ``/cancel`` command."""
    call = parse_command(text)
    return call is not None and call.name == CANCEL_COMMAND


def why_invalid(parse: Callable[[str], object], exc: Exception) -> str:
    """The sentence that tells the user why ``parse`` refused their answer (untranslated).

    ``int`` and ``float`` get plain words instead of Python's message; a parser of your own speaks through
    the message of the ``ValueError`` it raises.
    """
    if parse is int:
        return NOT_WHOLE_NUMBER
    if parse is float:
        return NOT_NUMBER
    if isinstance(exc, ValueError) and str(exc):
        return str(exc)
    return NOT_VALID


class Waits:
    """The parked ``ask`` of each conversation in this process, and the handler tasks the bot runs."""

    def __init__(self) -> None:
        self._waiters: dict[str, Waiter] = {}
        self.id = uuid.uuid4().hex  # marks this process's asks in the store, to tell them from a restart's
        self._tasks: set[asyncio.Task[None]] = set()

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep ``task`` (a handler chain) until it ends, so that :meth:`close` can cancel it."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def waiting(self, key: str) -> Waiter | None:
        """The live waiter of conversation ``key``, if one is parked."""
        waiter = self._waiters.get(key)
        return waiter if waiter is not None and not waiter.answer.done() else None

    async def ask(
        self,
        asker: Asker,
        question: str,
        *,
        timeout: float | None,  # noqa: ASYNC109  (how long the user has to answer, each time it is asked)
        parse: Callable[[str], T],
    ) -> T:
        """Send ``question``, park until the conversation's next message, return it parsed.

        Raises:
            Cancelled: the user sent ``/cancel``.
            AnswerTimeout: no answer within ``timeout`` seconds (None: wait until cancelled).
        """
        asker.state[ASKING] = {"question": question, "user": asker.incoming.author.id, "by": self.id}
        prompt = question
        while True:
            await asker.reply(prompt)
            waiter = Waiter(question, asker)
            self._waiters[asker.key] = waiter
            asker.turn.settle(parked=True)
            try:
                text = await asyncio.wait_for(waiter.answer, timeout)
            except TimeoutError:
                self._end(asker, waiter)
                await asker.reply(translate_for(asker, TIMED_OUT, question=question))
                raise AnswerTimeout(question) from None
            finally:
                if self._waiters.get(asker.key) is waiter:
                    del self._waiters[asker.key]
            if is_cancel(text):
                self._end(asker, waiter)
                await asker.reply(translate_for(asker, CANCELLED, question=question))
                raise Cancelled(question)
            try:
                value = parse(text)
            except (ValueError, TypeError) as exc:
                why = translate_for(asker, why_invalid(parse, exc))
                prompt = ASK_AGAIN.format(why=why, question=question)
                continue
            asker.state.pop(ASKING, None)
            return value

    def _end(self, asker: Asker, waiter: Waiter) -> None:
        asker.state.pop(ASKING, None)
        if not waiter.answer.done():
            waiter.answer.cancel()

    async def answer(self, ctx: Asker) -> bool:
        """Hand ``ctx``'s message to the conversation's parked ``ask``, if one waits for its author.

        False when none does (the message goes to the handlers).

        Returns once the asking handler has ended or parked again; ``ctx.state`` is then the asking
        context's state, which ``Bot.handle`` saves, and ``ctx.replies`` holds what it sent meanwhile.
        """
        waiter = self.waiting(ctx.key)
        if waiter is None or not isinstance(ctx.incoming, Message):
            return False
        if ctx.incoming.author.id != waiter.asker.incoming.author.id:
            return False  # in a group, only the one asked answers; the others talk on as usual
        asker = waiter.asker
        ctx.state = asker.state
        asker.reply_to = ctx.incoming  # what follows answers this message, and is counted as its replies
        asker.replies = ctx.replies
        asker.turn.resume()
        waiter.answer.set_result(ctx.incoming.text)
        await waiter.asker.turn.settled()
        return True

    async def interrupted(self, ctx: Asker) -> bool:
        """Tell the user an ``ask`` was lost to a restart, when the state says one waited; True if so."""
        asking = ctx.state.get(ASKING)
        if not isinstance(asking, dict) or self.waiting(ctx.key) is not None:
            return False
        if asking.get("user", ctx.incoming.author.id) != ctx.incoming.author.id:
            return False  # someone else in the group: not the answer that was waited for
        if asking.get("by") == self.id:
            # This process's own ask, already over: a message handled while it timed out saved the
            # state it had loaded before. Nothing was lost, so nothing is said.
            del ctx.state[ASKING]
            return False
        del ctx.state[ASKING]
        await ctx.reply(translate_for(ctx, RESTARTED, question=str(asking.get("question", ""))))
        return True

    async def close(self) -> None:
        """Cancel every handler still running or parked (the bot is stopping) and wait for them."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._waiters.clear()
