"""The context a handler receives: the incoming message or event and everything it may answer with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol, TypeVar

from botkit.conversation import DEFAULT_ASK_TIMEOUT_S, Turn, Waits
from botkit.jobs.context import JobFunction
from botkit.jobs.schedule import parse_duration
from botkit.message import (
    Attachment,
    Button,
    CommandCall,
    Event,
    Incoming,
    Message,
    Reply,
    StreamingReply,
    parse_command,
)
from botkit.plugin import BotView
from botkit.types import Adapter, ChatTurn, Generator, Store

T = TypeVar("T")

# The attachment limit of a bot built in code without settings (the config's default).
DEFAULT_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


class NoModelError(RuntimeError):
    """A handler asked for the model but the bot has none configured."""


class StartsOnContext(Protocol):
    """A form class as :meth:`Context.form` takes it (:class:`botkit.forms.Form` subclasses are)."""

    @classmethod
    async def start(cls, ctx: Context) -> None:
        """Ask the form's first question and keep its progress in ``ctx.state``."""


class Context:
    """One incoming message or event on its way through middleware and handlers.

    Attributes:
        incoming: the message or event.
        bot: the bot handling it.
        adapter: the adapter it came from (replies go back through it).
        state: the conversation's state dict, loaded before dispatch and saved after it.
        command: the parsed command, when the text is one.
        matched: what the running handler's match test returned (a regex match, a command...).
        replies: every reply sent while handling this context (handy in tests and middleware); after an
            answer to :meth:`ask`, the answering message's context collects them.
        reply_to: the message replies answer: ``incoming``, then the latest answer to :meth:`ask` (in a
            group, the platform quotes the answer rather than the command that asked).
        turn: settles when the handler chain ends or parks in :meth:`ask` (``Bot.handle`` waits on it).
    """

    def __init__(
        self,
        bot: BotView,
        adapter: Adapter,
        incoming: Incoming,
        state: dict[str, Any],
        *,
        waits: Waits | None = None,
    ) -> None:
        self.bot = bot
        self.adapter = adapter
        self.incoming = incoming
        self.reply_to: Incoming = incoming
        self.state = state
        self.command: CommandCall | None = (
            parse_command(incoming.text) if isinstance(incoming, Message) else None
        )
        self.matched: object = None
        self.replies: list[Reply | StreamingReply] = []
        self._stopped = False
        self._waits = waits
        self.turn = Turn()

    @property
    def message(self) -> Message | None:
        """The incoming message, or None for an event."""
        return self.incoming if isinstance(self.incoming, Message) else None

    @property
    def event(self) -> Event | None:
        """The incoming event, or None for a message."""
        return self.incoming if isinstance(self.incoming, Event) else None

    @property
    def text(self) -> str:
        """The message text ('' for events)."""
        return self.incoming.text if isinstance(self.incoming, Message) else ""

    @property
    def args(self) -> tuple[str, ...]:
        """The command's arguments, split like a shell would."""
        return self.command.args if self.command else ()

    @property
    def key(self) -> str:
        """The conversation's store key."""
        return self.incoming.conversation.key

    @property
    def store(self) -> Store:
        """The bot's conversation store."""
        return self.bot.store

    @property
    def model(self) -> Generator:
        """The dialogue model; raises :class:`NoModelError` when none is configured."""
        if self.bot.model is None:
            raise NoModelError("no dialogue model is configured")
        return self.bot.model

    async def history(self, limit: int | None = None) -> list[ChatTurn]:
        """The conversation's history, oldest first."""
        return await self.bot.store.history(self.key, limit)

    def stop(self) -> None:
        """Stop propagation: no later handler sees this message."""
        self._stopped = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    async def reply(
        self, text: str, *, buttons: Sequence[Sequence[Button]] = (), files: Sequence[Attachment] = ()
    ) -> Reply:
        """Send a whole reply to the conversation the message came from, with images or files if given.

        Build a file from disk with :meth:`Attachment.from_path`.
        """
        reply = Reply(text, buttons, files)
        self.replies.append(reply)
        await self.adapter.send(self.reply_to, reply)
        return reply

    async def stream(self, deltas: AsyncIterator[str], *, buttons: Sequence[Sequence[Button]] = ()) -> str:
        """Send a reply that grows as ``deltas`` arrive; returns the final text."""
        reply = StreamingReply(deltas, buttons)
        self.replies.append(reply)
        await self.adapter.send(self.reply_to, reply)
        if not reply.done:  # an adapter that ignored the stream must not leave it half read
            async for _ in reply:
                pass
        return reply.text

    async def download(self, attachment: Attachment) -> bytes:
        """An incoming attachment's bytes, at most ``limits.max_attachment_bytes`` of them.

        Raises:
            AttachmentTooLarge: it is larger than the limit (nothing past the limit is downloaded).
        """
        settings = self.bot.settings
        limit = settings.limits.max_attachment_bytes if settings is not None else DEFAULT_MAX_ATTACHMENT_BYTES
        return await attachment.read(limit)

    async def later(self, delay: str | float, fn: JobFunction, *args: Any) -> str:
        """Run ``fn(job, *args)`` once, ``delay`` from now (``"10m"`` or seconds); returns the job's id.

        ``fn`` is a plugin method or a module-level function taking a :class:`~botkit.jobs.JobContext`
        first; ``job.reply(...)`` writes to this conversation. ``args`` must be JSON values.
        """
        thread = self.incoming.thread_id
        return await self.bot.jobs.later(parse_duration(delay), fn, args, key=self.key, thread_id=thread)

    async def background(self, fn: JobFunction, *args: Any) -> str:
        """Run slow work ``fn(job, *args)`` off the chat path; what it returns (a ``str`` or ``Reply``) is
        sent to this conversation when done, and a failure as a short message. Returns the job's id.
        """
        thread = self.incoming.thread_id
        return await self.bot.jobs.background(fn, args, key=self.key, thread_id=thread)

    async def ask(
        self,
        question: str,
        *,
        timeout: float | None = DEFAULT_ASK_TIMEOUT_S,  # noqa: ASYNC109  (how long the user has, per answer)
        parse: Callable[[str], T] = str,  # type: ignore[assignment]  # str is the parser when none is given
    ) -> T:
        """Ask ``question`` and wait for the conversation's next message: the answer, run through ``parse``.

        ``parse`` is a type or a callable (``int``, ``float``, your own); when it raises ``ValueError`` the
        user is told why and asked again. The answer reaches no other handler and not the chat model.

        Raises:
            Cancelled: the user sent ``/cancel`` (they have been told; the bot ends the handler quietly).
            AnswerTimeout: no answer within ``timeout`` seconds (they have been told, as for ``Cancelled``).
            RuntimeError: the context is not being handled by a bot (built by hand).
        """
        if self._waits is None:
            raise RuntimeError("ctx.ask works only while a Bot handles the message")
        return await self._waits.ask(self, question, timeout=timeout, parse=parse)

    async def form(self, form: type[StartsOnContext]) -> None:
        """Start ``form`` (a :class:`botkit.forms.Form`): its first question is sent, the answers come as
        the conversation's next messages, and its ``submit`` runs when every field is filled.

        Returns at once: the form's progress lives in the conversation's state, not in this handler.
        """
        await form.start(self)
