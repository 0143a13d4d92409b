"""Several replicas of one bot share de-duplication, conversation lanes and rate windows through a real
Redis: here two adapters' intakes in one process stand for two ``botkit run`` replicas, each with its own
connections (:mod:`botkit.queue.cluster`), as the runtime wires them in queue mode."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping

import pytest
import redis

from botkit.adapters.intake import Intake
from botkit.message import Conversation, Incoming, Message, Reply, StreamingReply, User
from botkit.middleware import RateLimitMiddleware
from botkit.queue.cluster import LOCAL, RedisIntakeState, RedisRateWindow
from botkit.types import Adapter, CommandInfo
from tests.queue.servers import RedisServer, free_port

pytestmark = [pytest.mark.timeout(30)]


class Replica:
    """One replica: a dispatcher carrying the shared state (as ``build_bot`` sets it) and an adapter's
    intake bound to it. Handling a message waits until the test opens its gate."""

    name = "test"

    def __init__(self, url: str, log: list[tuple[str, str]]) -> None:
        self.intake_state = RedisIntakeState(url, timeout_s=0.5)
        self.log = log  # shared by the replicas: ("start"/"end", text), in the order it happened
        self.gates: dict[str, asyncio.Event] = {}
        self.intake = Intake(self)
        self.intake.bind(self)

    @property
    def commands(self) -> Mapping[str, CommandInfo]:
        return {}

    def gate(self, text: str) -> asyncio.Event:
        return self.gates.setdefault(text, asyncio.Event())

    async def handle(self, incoming: Incoming, adapter: Adapter) -> object:
        assert isinstance(incoming, Message)
        self.log.append(("start", incoming.text))
        await self.gate(incoming.text).wait()
        self.log.append(("end", incoming.text))
        return None

    def receive(self, event_id: str, text: str, chat: str) -> None:
        """What a platform adapter's webhook does: is_new, then submit (no await between)."""
        if self.intake.is_new(event_id):
            self.intake.submit(message(text, chat))

    async def start(self, dispatcher: object) -> None:
        """Unused: the intake is bound directly."""

    async def stop(self) -> None:
        await self.intake.close(grace_s=1)
        await self.intake_state.close()

    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        """Unused: the dispatcher answers nothing."""


def message(text: str, chat: str) -> Message:
    return Message(
        platform="test", conversation=Conversation(chat, "test"), author=User("u1", "Ann"), text=text, id=text
    )


@pytest.fixture
async def replicas(
    redis_server: RedisServer,
) -> AsyncIterator[tuple[Replica, Replica, list[tuple[str, str]]]]:
    log: list[tuple[str, str]] = []
    a, b = Replica(redis_server.url, log), Replica(redis_server.url, log)
    try:
        yield a, b, log
    finally:
        for replica in (a, b):
            for gate in replica.gates.values():
                gate.set()
            await replica.stop()


async def started(log: list[tuple[str, str]], *texts: str) -> None:
    async with asyncio.timeout(5):
        while True:
            if all(("start", text) in log for text in texts):
                return
            await asyncio.sleep(0.01)


def fresh(name: str) -> str:
    """Names unique to one test run (the session's Redis is shared with other tests)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_an_update_delivered_to_two_replicas_is_handled_once(
    replicas: tuple[Replica, Replica, list[tuple[str, str]]],
) -> None:
    a, b, log = replicas
    update, chat = fresh("update"), fresh("chat")
    a.receive(update, "hello", chat)
    b.receive(update, "hello", chat)  # the platform's redelivery reached the other replica
    a.gate("hello").set()
    b.gate("hello").set()
    await a.intake.drain(5)
    await b.intake.drain(5)
    assert log == [("start", "hello"), ("end", "hello")]


async def test_a_conversation_is_answered_in_arrival_order_across_replicas(
    replicas: tuple[Replica, Replica, list[tuple[str, str]]],
) -> None:
    a, b, log = replicas
    chat, other = fresh("chat"), fresh("other")
    a.receive(fresh("u"), "first", chat)
    b.receive(fresh("u"), "second", chat)  # arrived later, at another replica
    a.receive(fresh("u"), "third", chat)
    b.receive(fresh("u"), "elsewhere", other)
    await started(log, "first", "elsewhere")  # another conversation does not wait
    await asyncio.sleep(0.2)
    assert ("start", "second") not in log  # the second waits on replica b for the first on replica a
    for text in ("third", "second", "first", "elsewhere"):  # opened backwards: order comes from the lane
        a.gate(text).set()
        b.gate(text).set()
    await a.intake.drain(5)
    await b.intake.drain(5)
    in_chat = [entry for entry in log if entry[1] != "elsewhere"]
    assert in_chat == [(step, text) for text in ("first", "second", "third") for step in ("start", "end")]


async def test_a_dead_replicas_ticket_expires_and_its_redelivered_update_keeps_its_place(
    replicas: tuple[Replica, Replica, list[tuple[str, str]]],
    redis_server: RedisServer,
) -> None:
    a, b, log = replicas
    chat, lost = fresh("chat"), fresh("lost")
    key = message("", chat).conversation.key  # the lane's key, as the intake files it
    ticket = a.intake_state.admit(lost, key)  # replica a took the update in, then died before handling it
    assert ticket is not None
    assert ticket != LOCAL
    b.receive(fresh("u"), "later", chat)
    await asyncio.sleep(0.2)
    assert log == []  # the lane waits for the dead replica's ticket while it looks alive
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.delete(f"botkit:lane:alive:{ticket}")  # what the TTL does 15 s after the replica died
        b.receive(lost, "redelivered", chat)  # the platform retries the update at replica b
    finally:
        client.close()
    for text in ("later", "redelivered"):
        b.gate(text).set()
    await b.intake.drain(5)
    assert log == [("start", "redelivered"), ("end", "redelivered"), ("start", "later"), ("end", "later")]
    b.receive(lost, "redelivered", chat)  # once handled, the update is done on every replica
    await b.intake.drain(5)
    assert log.count(("start", "redelivered")) == 1


async def test_an_update_that_fails_before_its_turn_gives_the_lane_back(
    replicas: tuple[Replica, Replica, list[tuple[str, str]]],
) -> None:
    a, b, log = replicas
    chat = fresh("chat")

    async def refused(incoming: Incoming) -> Incoming:
        raise RuntimeError("the platform refused the button's acknowledgement")

    assert a.intake.is_new(fresh("u"))
    a.intake.submit(message("pressed", chat), prepare=refused)
    b.receive(fresh("u"), "next", chat)
    b.gate("next").set()
    await started(log, "next")  # at once, not after the 15 s a dead replica's ticket holds the lane
    await b.intake.drain(5)
    assert log == [("start", "next"), ("end", "next")]


async def test_with_redis_unreachable_updates_are_still_handled_in_order_per_replica() -> None:
    log: list[tuple[str, str]] = []
    down = Replica(f"redis://127.0.0.1:{free_port()}/0", log)
    try:
        chat = fresh("chat")
        for text in ("one", "two"):
            down.receive(fresh("u"), text, chat)
            down.gate(text).set()
        await down.intake.drain(5)
    finally:
        await down.stop()
    assert log == [("start", "one"), ("end", "one"), ("start", "two"), ("end", "two")]


async def test_the_rate_limit_counts_a_users_messages_on_every_replica(redis_server: RedisServer) -> None:
    windows = [RedisRateWindow(redis_server.url), RedisRateWindow(redis_server.url)]
    limiters = [RateLimitMiddleware(3, 10, window=window) for window in windows]
    who = fresh("test:u1")
    try:
        verdicts = [await limiters[i % 2].window.hit(who, 3, 10) for i in range(5)]
        other = await limiters[0].window.hit(fresh("test:u2"), 3, 10)
    finally:
        for window in windows:
            await window.close()
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert [v.warn for v in verdicts[3:]] == [True, False]  # the user is told once, not per message
    assert 9 < verdicts[3].retry_s <= 10
    assert other.allowed  # another user has a window of their own
