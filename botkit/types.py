"""The seams of botkit: the few protocols everything else plugs into.

Read this file first. An adapter turns platform events into :class:`~botkit.message.Message` or
:class:`~botkit.message.Event` objects and hands them to the bot; plugins answer through a
:class:`Generator` (the dialogue model, in-process or behind a queue) and keep conversations in a
:class:`Store`. Each protocol has a handful of methods so that a fake needs no inheritance.

This module imports only :mod:`botkit.message`, so everything else can import it without a cycle. That is
why :data:`Middleware` and :data:`Next` are generic in the context they carry: the bot's chain carries a
:class:`botkit.context.Context`, spelled ``Middleware[Context]`` and ``Next[Context]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypedDict, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from botkit.message import Incoming, Reply, StreamingReply

Role = Literal["system", "user", "assistant"]

ContextT = TypeVar("ContextT")

Next: TypeAlias = Callable[[ContextT], Awaitable[None]]
"""The rest of the chain after a middleware: ``await call_next(ctx)`` passes the context on."""

Middleware: TypeAlias = Callable[[ContextT, Next[ContextT]], Awaitable[None]]
"""``async (ctx, call_next) -> None``, run around the handlers; not calling ``call_next`` ends the message."""


class ChatTurn(TypedDict):
    """One turn of a conversation in the common chat format."""

    role: Role
    content: str


@dataclass(frozen=True)
class SamplingParams:
    """How one reply is sampled. Every request in a batch keeps its own.

    The defaults are botkit's built-in ones, written only here: ``[model]`` in the configuration
    (:class:`botkit.config.ModelSettings`) takes its defaults from this class and builds one with
    ``ModelSettings.sampling_params()``, naming in ``from_model`` the fields the user did not set. The backend
    that runs the model (in-process, or the queue's worker) replaces those with what the model's
    ``generation_config.json`` says, where it says anything (:mod:`botkit.model.generation_defaults`).
    ``from_model`` is where the values came from, not how to sample, so it takes no part in equality.
    """

    max_new_tokens: int = 96
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 40
    repetition_penalty: float = 1.15
    stop: tuple[str, ...] = ()
    seed: int | None = None
    from_model: frozenset[str] = field(default=frozenset(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (what a queue request carries); ``from_model`` only when it names a field, so
        that params built in code still read on a worker that predates it."""
        data: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
            "stop": list(self.stop),
            "seed": self.seed,
        }
        if self.from_model:
            data["from_model"] = sorted(self.from_model)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingParams:
        """The inverse of :meth:`to_dict`."""
        values = dict(data)
        values["stop"] = tuple(values.get("stop") or ())
        values["from_model"] = frozenset(values.get("from_model") or ())
        return cls(**values)


MODEL_SAMPLING_FIELDS: tuple[str, ...] = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
)
"""The :class:`SamplingParams` fields a model's ``generation_config.json`` may supply."""


@dataclass(frozen=True)
class Generation:
    """A finished reply: the text and why generation stopped."""

    text: str
    finish_reason: Literal["stop", "length", "error", "timeout"] = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """The dialogue model as plugins see it, wherever it runs (in-process or behind a queue)."""

    @property
    def context_window(self) -> int:
        """Tokens the model can attend to (prompt plus reply)."""

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        """Prompt length in tokens of ``messages`` rendered with the chat template."""

    async def generate(
        self, messages: Sequence[ChatTurn], params: SamplingParams, *, key: str | None = None
    ) -> Generation:
        """Generate one whole reply. ``key`` is an idempotency key (same key, one generation)."""

    def stream(
        self, messages: Sequence[ChatTurn], params: SamplingParams, *, key: str | None = None
    ) -> AsyncIterator[str]:
        """Yield the reply as text deltas while it is produced.

        Raises :class:`~botkit.errors.GenerationFailed` (or a subclass: ``ModelBusy``,
        ``GenerationTimeout`` when the time limit cut the reply off) after any text that did arrive.
        """

    async def close(self) -> None:
        """Release the model or the connection."""


@runtime_checkable
class Store(Protocol):
    """Conversation history and per-conversation state, keyed by ``platform:conversation``."""

    async def history(self, key: str, limit: int | None = None) -> list[ChatTurn]:
        """The last ``limit`` turns (all when None), oldest first."""

    async def append(self, key: str, *turns: ChatTurn) -> None:
        """Add turns at the end of the history."""

    async def clear(self, key: str) -> None:
        """Forget the history and state of one conversation."""

    async def get_state(self, key: str) -> dict[str, Any]:
        """The conversation's state (an empty dict when none was saved)."""

    async def set_state(self, key: str, state: dict[str, Any]) -> None:
        """Replace the conversation's state (it must be JSON-serialisable)."""

    async def close(self) -> None:
        """Flush and release the store."""


class CommandInfo(Protocol):
    """A plugin command as a platform's command menu shows it (Telegram's menu, Discord's slash commands)."""

    @property
    def command(self) -> str:
        """The command's own name; its aliases map to the same info."""

    @property
    def description(self) -> str:
        """One line saying what it does."""

    @property
    def usage(self) -> str:
        """``/name <arg> [opt] [rest...]``."""


@runtime_checkable
class Dispatcher(Protocol):
    """The bot as an adapter sees it: where events go, and which commands to advertise."""

    @property
    def commands(self) -> Mapping[str, CommandInfo]:
        """Command name (and each alias) to its info."""

    async def handle(self, incoming: Incoming, adapter: Adapter) -> object:
        """Handle one message or event from ``adapter``; never raises for a handler's fault."""


@runtime_checkable
class Adapter(Protocol):
    """A platform connection: feeds events to the bot, sends replies back."""

    name: str

    async def start(self, dispatcher: Dispatcher) -> None:
        """Connect and begin delivering events to ``dispatcher.handle``; returns once running."""

    async def stop(self) -> None:
        """Disconnect; pending replies are sent first."""

    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        """Answer ``to`` on its platform. A streaming reply is shown growing (message edits)."""

    async def send_to(
        self, conversation_id: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> str | None:
        """Write to a conversation unprompted (the id is the part of its key after ``platform:``).

        Returns the platform's id of the (first) message sent (Slack's ``ts``, Telegram's ``message_id``,
        Discord's message id), so that a caller can start a thread under it; None where the platform has
        no such id (the console) or nothing was posted.

        Raises:
            ConversationClosed: the platform says the bot may no longer write there.
        """
