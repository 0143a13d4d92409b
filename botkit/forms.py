"""Forms: several questions in a row, declared as a pydantic model whose fields are the slots.

::

    class Order(Form):
        number: int = Field(description="Your order number?")
        quantity: int = Field(gt=0, description="How many?")

        async def submit(self, ctx: Context) -> None:
            await ctx.reply(f"{self.quantity} more of order {self.number}.")

    class Shop(Plugin):
        @on_command("order")
        async def order(self, ctx: Context) -> None:
            await ctx.form(self.Order)     # or a form defined beside the plugin, listed in ``forms = (...)``

Why this shape (Rasa's slots) rather than python-telegram-bot's states: a support desk's forms are lists of
facts to collect, and a pydantic model already says each fact's type, constraints and validation message,
so the form needs no parsing code and ``submit`` gets typed, validated values. PTB's state machine pays off
for branching dialogues; a handler with :meth:`botkit.context.Context.ask` covers those.

The form's progress (its name, the values so far, the field being asked, the deadline) lives in the
conversation's state in the store, never in a running task: a bot restarted over the same store, or
another replica sharing it, continues the form. It finds the form class by name among the loaded plugins'
forms (:func:`forms_of`): a form is any :class:`Form` subclass that is an attribute of a plugin class
(nested, or listed in a ``forms`` tuple).

While a form is in progress, the conversation's messages are its answers: no handler and not the chat
model sees them; ``/cancel`` ends it; an unanswered question ends it after ``timeout_s`` (per form class).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from botkit.context import Context
from botkit.conversation import ASK_AGAIN, CANCELLED, TIMED_OUT, is_cancel
from botkit.i18n import N_, translate_for
from botkit.message import Message
from botkit.plugin import Plugin

log = logging.getLogger("botkit.forms")

FORM = "form"  # state key: {"name", "values", "user", "field", "question", "deadline"} while filled in
DEFAULT_FORM_TIMEOUT_S = 600.0

FORM_GONE = N_('The form that asked "{question}" is no longer available; please start again.')


class Form(BaseModel):
    """A form: its fields are asked in order, each field's ``description`` is its question.

    Class attributes:
        form_name: the name its progress is stored under (default: the class name, lower-cased, without a
            ``Form`` suffix); unique among the loaded plugins' forms.
        timeout_s: how long each question waits for its answer (None: until ``/cancel``).
    """

    form_name: ClassVar[str] = ""
    timeout_s: ClassVar[float | None] = DEFAULT_FORM_TIMEOUT_S

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if not cls.__dict__.get("form_name"):
            cls.form_name = cls.__name__.removesuffix("Form").lower() or cls.__name__.lower()

    async def submit(self, ctx: Context) -> None:
        """Called with the validated values once every field is answered; reply or act here."""
        raise NotImplementedError(f"{type(self).__name__} must define submit(self, ctx)")

    @classmethod
    def question(cls, field: str) -> str:
        """What the user is asked for ``field``: its ``description``, else its name as a question."""
        described = cls.model_fields[field].description
        return described or f"{field.replace('_', ' ').capitalize()}?"

    @classmethod
    def parse(cls, field: str, text: str) -> Any:
        """``text`` as ``field``'s value, in JSON form for the store.

        Raises:
            ValidationError: pydantic's, with the message the user is shown.
        """
        info = cls.model_fields[field]
        annotated: Any = Annotated[info.annotation, info]  # the type with the field's constraints
        checker: TypeAdapter[Any] = TypeAdapter(annotated)
        return checker.dump_python(checker.validate_python(text.strip()), mode="json")

    @classmethod
    async def start(cls, ctx: Context) -> None:
        """Ask the first question, keep the form's progress in ``ctx.state``; ``ctx.form(...)`` calls this.

        Raises:
            LookupError: no loaded plugin declares this form, so its answers could not find it.
        """
        if forms_of(ctx.bot.plugins).get(cls.form_name) is not cls:
            raise LookupError(
                f"form {cls.form_name!r} is not declared by a loaded plugin: nest it in the plugin class "
                "or list it in the plugin's `forms = (...)`"
            )
        ctx.state[FORM] = {"name": cls.form_name, "values": {}, "user": ctx.incoming.author.id}
        await _ask_next(ctx, cls, ctx.state[FORM])


def forms_of(plugins: Sequence[Plugin]) -> dict[str, type[Form]]:
    """The forms the plugins declare, by ``form_name`` (the first plugin to declare a name wins)."""
    found: dict[str, type[Form]] = {}
    for plugin in plugins:
        for klass in type(plugin).__mro__:
            for value in vars(klass).values():
                for candidate in value if isinstance(value, tuple | list) else (value,):
                    if isinstance(candidate, type) and issubclass(candidate, Form) and candidate is not Form:
                        found.setdefault(candidate.form_name, candidate)
    return found


async def _ask_next(ctx: Context, form: type[Form], progress: dict[str, Any], why: str = "") -> bool:
    """Ask the first unanswered field (after ``why``, the reason the last answer was refused).

    Returns False when every field is answered.
    """
    missing = [name for name in form.model_fields if name not in progress["values"]]
    if not missing:
        return False
    question = form.question(missing[0])
    timeout = form.timeout_s
    progress.update(
        field=missing[0], question=question, deadline=None if timeout is None else time.time() + timeout
    )
    await ctx.reply(ASK_AGAIN.format(why=why, question=question) if why else question)
    return True


class FormRunner:
    """Takes each answer to a form in progress, and ends forms whose question went unanswered too long.

    Args:
        clock: wall-clock seconds (deadlines are stored as such, to outlive the process); tests pass
            their own to move time.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._timers: dict[str, asyncio.Task[None]] = {}

    async def answer(self, ctx: Context) -> bool:
        """Handle ``ctx``'s message as the answer to its conversation's form, if one is in progress.

        Returns False when no form is, or the message is another user's (it goes to the handlers).
        """
        progress = ctx.state.get(FORM)
        if not isinstance(progress, dict) or not isinstance(ctx.incoming, Message):
            return False
        if progress.get("user", ctx.incoming.author.id) != ctx.incoming.author.id:
            return False  # in a group, only the one filling the form answers it
        question = str(progress.get("question", ""))
        form = forms_of(ctx.bot.plugins).get(str(progress.get("name")))
        deadline = progress.get("deadline")
        if form is None:
            del ctx.state[FORM]
            await ctx.reply(translate_for(ctx, FORM_GONE, question=question))
        elif isinstance(deadline, int | float) and self.clock() > deadline:
            del ctx.state[FORM]
            await ctx.reply(translate_for(ctx, TIMED_OUT, question=question))
        elif is_cancel(ctx.incoming.text):
            del ctx.state[FORM]
            await ctx.reply(translate_for(ctx, CANCELLED, question=question))
        else:
            await self._fill(ctx, form, progress)
        return True

    async def _fill(self, ctx: Context, form: type[Form], progress: dict[str, Any]) -> None:
        field = str(progress["field"])
        try:
            progress["values"][field] = form.parse(field, ctx.text)
        except ValidationError as exc:
            await _ask_next(ctx, form, progress, why=_first_error(exc))
            return
        if await _ask_next(ctx, form, progress):
            return
        try:
            filled = form.model_validate(progress["values"])
        except ValidationError as exc:  # a check across fields: ask again for the field it names
            named = [str(e["loc"][0]) for e in exc.errors() if e["loc"] and e["loc"][0] in form.model_fields]
            for name in named[:1] or list(form.model_fields)[:1]:
                del progress["values"][name]
            await _ask_next(ctx, form, progress, why=_first_error(exc))
            return
        del ctx.state[FORM]
        await filled.submit(ctx)

    def arm(self, ctx: Context) -> None:
        """After ``ctx`` was handled and saved: time out its form's open question (replaces older timers)."""
        timer = self._timers.pop(ctx.key, None)
        if timer is not None:
            timer.cancel()
        progress = ctx.state.get(FORM)
        if not isinstance(progress, dict) or not isinstance(progress.get("deadline"), int | float):
            return
        task = asyncio.get_running_loop().create_task(self._expire(ctx, dict(progress)))
        self._timers[ctx.key] = task
        task.add_done_callback(lambda done: self._forget(ctx.key, done))

    def _forget(self, key: str, done: asyncio.Task[None]) -> None:
        if self._timers.get(key) is done:
            del self._timers[key]

    async def _expire(self, ctx: Context, asked: dict[str, Any]) -> None:
        await asyncio.sleep(max(0.0, float(asked["deadline"]) - self.clock()))
        try:
            state = await ctx.store.get_state(ctx.key)
            progress = state.get(FORM)
            still = isinstance(progress, dict) and all(
                progress.get(k) == asked[k] for k in ("name", "field", "deadline")
            )
            if not still:  # answered (perhaps on another replica) or cancelled meanwhile
                return
            del state[FORM]
            await ctx.store.set_state(ctx.key, state)
            await ctx.reply(translate_for(ctx, TIMED_OUT, question=str(asked.get("question", ""))))
        except Exception:
            log.exception("could not end the timed-out form in %s", ctx.key)

    async def close(self) -> None:
        """Stop the timers (the bot is stopping; a later answer still finds the deadline in the store)."""
        timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
        self._timers.clear()


def _first_error(exc: ValidationError) -> str:
    message = str(exc.errors()[0]["msg"]) if exc.errors() else str(exc)
    return message if message.endswith(".") else message + "."
