"""What the platforms share: the intake (redeliveries, lanes, typing, drain, stop) and the log redactor.

The adapters' own tests run these through each platform; here they are pinned down on their own, with a
dispatcher that records what reached it and events that the test releases one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from collections.abc import AsyncIterator, Mapping

import pytest

from botkit.adapters.intake import Intake
from botkit.adapters.redact import SecretRedactor
from botkit.message import Attachment, Conversation, Incoming, Message, Reply, StreamingReply, User
from botkit.types import Adapter, CommandInfo

pytestmark = [pytest.mark.timeout(10)]


class Gate:
    """A dispatcher whose every ``handle`` waits until the test opens the gate for that message's text."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.changed = asyncio.Event()

    @property
    def commands(self) -> Mapping[str, CommandInfo]:
        return {}

    def gate(self, text: str) -> asyncio.Event:
        return self.gates.setdefault(text, asyncio.Event())

    async def wait_started(self, *texts: str) -> None:
        while not set(texts) <= set(self.started):
            self.changed.clear()
            await self.changed.wait()

    async def handle(self, incoming: Incoming, adapter: Adapter) -> object:
        assert isinstance(incoming, Message)
        self.started.append(incoming.text)
        self.changed.set()
        if incoming.text == "boom":
            raise RuntimeError("a handler's fault")
        await self.gate(incoming.text).wait()
        self.finished.append(incoming.text)
        return None


class Platform:
    """The adapter side of an intake: a name, and a typing indicator that records when it shows."""

    name = "test"

    def __init__(self, gate: Gate) -> None:
        self.typing: list[tuple[str, str]] = []
        self.sent: list[tuple[str, str]] = []
        self.intake = Intake(self, typing=self.typing_while)
        self.intake.bind(gate)

    @contextlib.asynccontextmanager
    async def typing_while(self, incoming: Incoming) -> AsyncIterator[None]:
        self.typing.append(("on", incoming.id))
        try:
            yield
        finally:
            self.typing.append(("off", incoming.id))

    async def start(self, dispatcher: object) -> None:
        """Unused: the intake is bound directly."""

    async def stop(self) -> None:
        """Unused."""

    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        self.sent.append((to.id, reply.text))


def message(
    text: str, chat: str = "c1", *, kinds: tuple[str, ...] = (), addressed: bool = True, id: str = ""
) -> Message:
    return Message(
        platform="test",
        conversation=Conversation(chat, "test"),
        author=User("u1", "Ann"),
        text=text,
        id=id or text,
        attachments=tuple(Attachment(kind) for kind in kinds),
        addressed=addressed,
    )


async def test_one_conversation_is_handled_in_order_and_others_meanwhile() -> None:
    gate = Gate()
    platform = Platform(gate)
    for text, chat in (("first", "c1"), ("second", "c1"), ("elsewhere", "c2")):
        platform.intake.submit(message(text, chat))
    await gate.wait_started("first", "elsewhere")  # another conversation does not wait for c1
    assert "second" not in gate.started  # c1's second message waits for its first
    gate.gate("first").set()
    await gate.wait_started("second")
    gate.gate("second").set()
    gate.gate("elsewhere").set()
    await platform.intake.drain()
    assert gate.started.index("first") < gate.started.index("second")
    assert sorted(gate.finished) == ["elsewhere", "first", "second"]
    assert platform.typing.count(("on", "first")) == platform.typing.count(("off", "first")) == 1
    assert platform.intake._lanes._locks == {}  # lanes exist only while a conversation has work


async def test_redeliveries_are_dropped_by_id() -> None:
    platform = Platform(Gate())
    assert platform.intake.is_new("update:1")
    assert not platform.intake.is_new("update:1")
    assert platform.intake.is_new("update:2")


async def test_a_failing_handler_is_logged_and_the_lane_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    gate = Gate()
    platform = Platform(gate)
    gate.gate("after").set()
    platform.intake.submit(message("boom"))
    platform.intake.submit(message("after"))
    await platform.intake.drain()
    assert gate.finished == ["after"]
    assert "test: handling Message in test:c1 failed" in caplog.text
    assert ("off", "boom") in platform.typing  # the indicator came down although the handler raised


async def test_prepare_runs_before_the_lane_and_cleanup_after() -> None:
    gate = Gate()
    platform = Platform(gate)
    steps: list[str] = []
    dropped = asyncio.Event()

    async def prepare(incoming: Incoming) -> Incoming | None:
        steps.append(f"prepare {incoming.id}")
        return None if incoming.id == "dropped" else incoming

    async def cleanup(incoming: Incoming) -> None:
        steps.append(f"cleanup {incoming.id}")
        if incoming.id == "dropped":
            dropped.set()

    platform.intake.submit(message("busy"))
    await gate.wait_started("busy")
    platform.intake.submit(message("pressed"), prepare=prepare, cleanup=cleanup)
    platform.intake.submit(message("dropped"), prepare=prepare, cleanup=cleanup)
    await asyncio.wait_for(dropped.wait(), 5)  # both prepared while the lane is still busy
    assert steps == ["prepare pressed", "prepare dropped", "cleanup dropped"]
    gate.gate("busy").set()
    gate.gate("pressed").set()
    await platform.intake.drain()
    assert steps[-1] == "cleanup pressed"
    assert gate.finished == ["busy", "pressed"]


async def test_close_lets_replies_finish_then_cancels_the_rest() -> None:
    gate = Gate()
    platform = Platform(gate)
    platform.intake.submit(message("stuck"))
    await gate.wait_started("stuck")
    await platform.intake.close(grace_s=0.05)  # "stuck" never opens: cancelled after the grace
    assert platform.intake.pending == 0
    assert gate.finished == []
    assert ("off", "stuck") in platform.typing


async def test_attachments_reach_the_plugins_on_every_platform() -> None:
    gate = Gate()
    platform = Platform(gate)
    for opened in ("", "what is this?"):
        gate.gate(opened).set()
    platform.intake.submit(message("", kinds=("image",), id="photo"))  # a plugin may read it
    platform.intake.submit(message("", kinds=("image", "sticker"), addressed=False, id="chatter"))
    platform.intake.submit(message("what is this?", kinds=("image",), id="captioned"))
    await platform.intake.drain()
    # the intake answers nothing itself: refusing what the model cannot read is the chat plugin's part
    assert platform.sent == []
    assert sorted(gate.finished) == ["", "", "what is this?"]
    assert ("on", "photo") in platform.typing


# -- the redactor ---------------------------------------------------------------------------------------
@pytest.fixture
def redactor() -> SecretRedactor:
    return SecretRedactor()


def test_secrets_are_redacted_until_every_holder_lets_go(redactor: SecretRedactor) -> None:
    redactor.add("s3cret-a", "s3cret-b")
    redactor.add("s3cret-a")  # a second adapter with the same token
    assert redactor.clean("a=s3cret-a b=s3cret-b") == "a=[redacted] b=[redacted]"
    redactor.discard("s3cret-a", "s3cret-b")
    assert redactor.holds("s3cret-a")
    assert not redactor.holds("s3cret-b")
    redactor.discard("s3cret-a")
    assert not redactor.holds("s3cret-a")
    assert redactor.clean("a=s3cret-a") == "a=s3cret-a"


def test_patterns_keep_their_first_group(redactor: SecretRedactor) -> None:
    redactor.add_pattern(re.compile(r"(/webhooks/\d+/)[^/\s]+"))
    assert redactor.clean("POST /webhooks/42/tok-en.x/messages") == "POST /webhooks/42/[redacted]/messages"


def test_records_and_tracebacks_are_rewritten(redactor: SecretRedactor) -> None:
    redactor.add("hunter2")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "password %s", ("hunter2",), None)
    redactor.redact(record)
    assert record.getMessage() == "password [redacted]"
    try:
        raise ValueError("token=hunter2")
    except ValueError:
        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    redactor.redact(failed)
    assert failed.exc_text is not None
    assert "token=[redacted]" in failed.exc_text
    assert "hunter2" not in failed.exc_text
