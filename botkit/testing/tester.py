"""``BotTester``: send messages as a user, assert on the bot's replies."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from types import TracebackType

from botkit.app import Bot
from botkit.context import Context
from botkit.message import Attachment, Conversation, Event, Message, User
from botkit.testing.fakes import FakeAdapter, Sent


class BotTester:
    """Drives a :class:`~botkit.app.Bot` through a :class:`FakeAdapter`.

    Args:
        bot: the bot under test (started on entry, stopped on exit).
        user: the default sender.
        conversation: the default conversation.
    """

    def __init__(
        self,
        bot: Bot,
        *,
        user: User | None = None,
        conversation: Conversation | None = None,
    ) -> None:
        self.bot = bot
        self.adapter = FakeAdapter()
        self.user = user or User("u1", "Test User")
        self.conversation = conversation or Conversation("c1", self.adapter.name, "private")
        self._seen = 0
        self._counter = 0

    async def __aenter__(self) -> BotTester:
        self.bot.attach(self.adapter)  # as ``botkit run`` does, so ``bot.send_to("test:...")`` reaches it
        await self.bot.start()
        await self.adapter.start(self.bot)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.adapter.stop()
        await self.bot.stop()

    async def send(
        self,
        text: str,
        *,
        user: User | None = None,
        conversation: Conversation | None = None,
        addressed: bool = True,
        attachments: Sequence[Attachment] = (),
    ) -> Context:
        """Deliver a text message and wait until every reply to it has been sent.

        ``attachments`` come with it as a platform's would; build one with bytes in ``data`` (or with
        :meth:`Attachment.from_path`) and a plugin reads it with ``ctx.download``.
        """
        self._counter += 1
        message = Message(
            platform=self.adapter.name,
            conversation=conversation or self.conversation,
            author=user or self.user,
            text=text,
            id=str(self._counter),
            attachments=tuple(attachments),
            addressed=addressed,
        )
        return await self.bot.handle(message, self.adapter)

    async def press(self, data: str, *, user: User | None = None, kind: str = "button") -> Context:
        """Deliver an event (a button press by default) and wait for its replies."""
        self._counter += 1
        event = Event(
            platform=self.adapter.name,
            kind=kind,
            conversation=self.conversation,
            author=user or self.user,
            data=data,
            id=str(self._counter),
        )
        return await self.bot.handle(event, self.adapter)

    @property
    def replies(self) -> list[Sent]:
        """Every reply sent so far."""
        return self.adapter.sent

    def new_replies(self) -> list[Sent]:
        """Replies sent since the last call of this method (or of an ``assert_*``)."""
        fresh = self.adapter.sent[self._seen :]
        self._seen = len(self.adapter.sent)
        return fresh

    def assert_reply(
        self, expected: str | re.Pattern[str] | None = None, *, contains: str | None = None
    ) -> Sent:
        """Assert that exactly one new reply was sent and that it matches; return it.

        Args:
            expected: the whole text, or a regex that must ``search`` it.
            contains: a substring the text must contain.
        """
        fresh = self.new_replies()
        texts = [s.text for s in fresh]
        assert len(fresh) == 1, f"expected one reply, got {len(fresh)}: {texts!r}"
        text = fresh[0].text
        if isinstance(expected, re.Pattern):
            assert expected.search(text), f"reply {text!r} does not match {expected.pattern!r}"
        elif expected is not None:
            assert text == expected, f"reply {text!r} != expected {expected!r}"
        if contains is not None:
            assert contains in text, f"reply {text!r} does not contain {contains!r}"
        return fresh[0]

    def assert_no_reply(self) -> None:
        """Assert that nothing was sent since the last check."""
        fresh = self.new_replies()
        assert not fresh, f"expected no reply, got {[s.text for s in fresh]!r}"

    async def next_reply(self, *, within: float = 5.0) -> Sent:
        """Wait (``within`` seconds at most) for a reply that no message of this test caused, such as the
        notice of a timed-out question, and return it (as :meth:`assert_reply` does, it counts as seen).

        Raises:
            AssertionError: nothing was sent in time.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.adapter.sent) <= self._seen:
            assert loop.time() < deadline, f"no reply within {within} s"
            await asyncio.sleep(0.01)
        return self.assert_reply()
