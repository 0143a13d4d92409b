"""The intake journal (:mod:`botkit.queue.journal`): an update a replica acknowledged and then died on is
taken over by another replica, with no redelivery by the platform.

First the scripts against a real Redis, each replica a :class:`RedisIntakeState` of its own (claim race,
a live ticket left alone, nothing left behind, expiry, another adapter's entry); then real ``botkit run``
replicas (the fixtures of :mod:`tests.queue.test_replicas_processes`), one SIGKILLed after it answered
the webhook 200 and before it replied.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import aiohttp
import pytest
from redis import Redis

from botkit.adapters.intake import Intake
from botkit.message import Conversation, Incoming, Message, Reply, StreamingReply, User
from botkit.queue.cluster import RedisIntakeState, TicketTaken
from botkit.queue.journal import PENDING
from botkit.types import Adapter, CommandInfo
from tests.queue import test_replicas_processes as processes
from tests.queue.servers import RedisServer

# The fixtures the process test shares with the replica tests (three replicas, a worker, the fakes).
cluster = processes.cluster
redis = processes.redis

ALIVE = "botkit:lane:alive:"


def fresh(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex[:8]}"


def update(text: str, chat: str) -> dict[str, Any]:
    """A stand-in platform payload: what an adapter's parser would read the message from."""
    return {"text": text, "chat": chat}


def message(text: str, chat: str) -> Message:
    return Message(
        platform="test", conversation=Conversation(chat, "test"), author=User("u1", "Ann"), text=text, id=text
    )


@pytest.fixture
async def states(redis_server: RedisServer) -> AsyncIterator[list[RedisIntakeState]]:
    """Three replicas' shared-intake states (each with its own id and connections)."""
    made = [RedisIntakeState(redis_server.url, timeout_s=0.5) for _ in range(3)]
    try:
        yield made
    finally:
        for state in made:
            await state.close()


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[Redis]:
    connection = Redis.from_url(redis_server.url, decode_responses=True)
    yield connection
    connection.close()


async def die(state: RedisIntakeState, client: Redis, ticket: str) -> None:
    """``state``'s replica is SIGKILLed: nothing refreshes its tickets, and ALIVE_TTL_S later its alive
    key is gone and its last sign of life old (set so here rather than waited for)."""
    await state.adopter.close()
    state._held.clear()
    client.delete(ALIVE + ticket)
    client.zadd(PENDING, {ticket: int(client.time()[0]) * 1000 - 10_000}, xx=True)


def recorder(into: list[tuple[Any, str]]) -> Any:
    def readmit(raw: Any, ticket: str) -> bool:
        into.append((raw, ticket))
        return True

    return readmit


async def test_two_adopters_race_for_a_dead_replicas_update_and_one_wins(
    states: list[RedisIntakeState], client: Redis
) -> None:
    dead, b, c = states
    adapter, chat, taken = fresh("telegram"), fresh("chat"), []
    ticket = dead.admit(fresh("u"), f"test:{chat}", adapter=adapter, raw=update("hello", chat))
    assert ticket is not None
    await die(dead, client, ticket)
    b.journal(adapter, recorder(taken))
    c.journal(adapter, recorder(taken))

    won = await asyncio.gather(b.adopter.adopt(after_s=0), c.adopter.adopt(after_s=0))

    assert sorted(won, key=len) == [[], [ticket]]
    assert taken == [(update("hello", chat), ticket)]
    winner = b if won[0] else c
    assert client.get(ALIVE + ticket) == winner.owner  # the winner keeps it alive from now on


async def test_a_live_replicas_ticket_is_never_adopted(states: list[RedisIntakeState], client: Redis) -> None:
    alive, b, _ = states
    adapter, chat, taken = fresh("telegram"), fresh("chat"), []
    ticket = alive.admit(fresh("u"), f"test:{chat}", adapter=adapter, raw=update("hello", chat))
    assert ticket is not None
    client.zadd(PENDING, {ticket: 0}, xx=True)  # even with its sign of life long ago: its alive key stands
    b.journal(adapter, recorder(taken))

    assert await b.adopter.adopt(after_s=0) == []
    assert taken == []
    assert client.get(ALIVE + ticket) == alive.owner
    await alive.adopter.refresh()  # its owner's refresh puts its sign of life back to now
    assert int(client.zscore(PENDING, ticket) or 0) > 0


async def test_an_update_that_left_its_lane_leaves_no_journal_entry(
    states: list[RedisIntakeState], client: Redis
) -> None:
    state = states[0]
    adapter, key = fresh("telegram"), f"test:{fresh('chat')}"
    handled = state.admit(fresh("u"), key, adapter=adapter, raw=update("handled", key))
    dropped = state.admit(fresh("u"), key, adapter=adapter, raw=update("dropped", key))
    assert handled is not None
    assert dropped is not None
    assert client.exists(f"{PENDING}:{handled}", f"{PENDING}:{dropped}") == 2
    async with state.lane(key, handled):
        pass
    await state.drop(key, dropped)
    for ticket in (handled, dropped):
        assert client.exists(f"{PENDING}:{ticket}") == 0
        assert client.zscore(PENDING, ticket) is None


async def test_an_expired_entry_is_dropped_with_a_warning(
    states: list[RedisIntakeState], client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    dead, b, _ = states
    adapter, chat, taken = fresh("telegram"), fresh("chat"), []
    ticket = dead.admit(fresh("u"), f"test:{chat}", adapter=adapter, raw=update("hello", chat))
    assert ticket is not None
    await die(dead, client, ticket)
    client.delete(f"{PENDING}:{ticket}")  # what its TTL does after a day nobody could take it
    b.journal(adapter, recorder(taken))

    with caplog.at_level(logging.WARNING, logger="botkit.queue"):
        assert await b.adopter.adopt(after_s=0) == []
    assert taken == []
    assert client.zscore(PENDING, ticket) is None
    assert f"ticket {ticket} expired" in caplog.text


async def test_an_entry_waits_for_a_replica_with_its_adapter(
    states: list[RedisIntakeState], client: Redis
) -> None:
    dead, slack_only, telegram_too = states
    telegram, chat, taken = fresh("telegram"), fresh("chat"), []
    ticket = dead.admit(fresh("u"), f"test:{chat}", adapter=telegram, raw=update("hello", chat))
    assert ticket is not None
    await die(dead, client, ticket)
    slack_only.journal(fresh("slack"), recorder(taken))
    assert await slack_only.adopter.adopt(after_s=0) == []
    assert client.exists(f"{PENDING}:{ticket}") == 1  # left for a replica that has the adapter
    telegram_too.journal(telegram, recorder(taken))
    assert await telegram_too.adopter.adopt(after_s=0) == [ticket]
    assert taken == [(update("hello", chat), ticket)]


class Replica:
    """An adapter with a ``readmit`` hook over an :class:`Intake` bound to its own shared state; handling
    a message logs it (the log is shared by the replicas, in the order things happened)."""

    def __init__(self, name: str, state: RedisIntakeState, log: list[str]) -> None:
        self.name = name
        self.intake_state = state
        self.log = log
        self.intake = Intake(self)
        self.intake.bind(self)

    @property
    def commands(self) -> Mapping[str, CommandInfo]:
        return {}

    async def handle(self, incoming: Incoming, adapter: Adapter) -> object:
        assert isinstance(incoming, Message)
        self.log.append(incoming.text)
        return None

    def receive(self, raw: dict[str, Any]) -> None:
        if self.intake.is_new(fresh("u")):
            self.intake.submit(message(raw["text"], raw["chat"]), raw=raw)

    def readmit(self, raw: Any, ticket: str) -> bool:
        self.intake.resubmit(message(raw["text"], raw["chat"]), ticket)
        return True

    async def start(self, dispatcher: object) -> None:
        """Unused: the intake is bound directly."""

    async def stop(self) -> None:
        """Unused: the fixture closes the states."""

    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        """Unused: the dispatcher answers nothing."""


async def test_an_adopted_update_keeps_its_place_before_the_users_later_message(
    states: list[RedisIntakeState], client: Redis
) -> None:
    name, chat, log = fresh("adapter"), fresh("chat"), []
    dead, alive = Replica(name, states[0], log), Replica(name, states[1], log)
    ticket = dead.intake_state.admit(
        fresh("u"), message("", chat).conversation.key, adapter=name, raw=update("first", chat)
    )
    assert ticket is not None
    await die(states[0], client, ticket)  # it answered the platform 200, then died before handling it
    alive.receive(update("later", chat))
    await asyncio.sleep(0.3)
    assert log == []  # the dead replica's journalled ticket keeps its place at the head of the lane
    assert await alive.intake_state.adopter.adopt(after_s=0) == [ticket]
    await alive.intake.drain(5)
    assert log == ["first", "later"]
    assert client.zcard(PENDING) == 0 or client.zscore(PENDING, ticket) is None


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_replica_killed_after_acknowledging_an_update_has_it_answered_by_another(
    cluster: processes.Cluster,
) -> None:
    telegram, chat = cluster.telegram, 4242
    doomed, survivor = cluster.replicas[0], cluster.ports[1][0]

    async def post(port: int, text: str, update_id: int) -> int:
        body = telegram.message_update(text, chat_id=chat, push=False)
        body["update_id"] = update_id
        headers = {"X-Telegram-Bot-Api-Secret-Token": processes.SECRET}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{port}{processes.TELEGRAM}", json=body, headers=headers
            ) as answer,
        ):
            return answer.status

    worker = cluster.worker.proc
    worker.send_signal(signal.SIGSTOP)  # the reply cannot be written before the replica dies
    try:
        assert await post(cluster.ports[0][0], "first", 1) == 200  # acknowledged: Telegram will not resend
        await asyncio.sleep(1.0)  # its request is on the queue
        doomed.kill()
        doomed.wait(10)
        assert await post(survivor, "second", 2) == 200
    finally:
        worker.send_signal(signal.SIGCONT)
    async with asyncio.timeout(60):  # the dead replica's alive key expires, another adopts its update
        while True:  # the fake server's record, polled: replies come from other processes
            if len(telegram.texts(chat)) >= 2:
                break
            await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # a doubled reply would arrive about now
    assert telegram.texts(chat) == ["first", "second"]


async def test_a_replica_taken_for_dead_leaves_its_adopted_ticket_to_the_adopter(
    states: list[RedisIntakeState], client: Redis
) -> None:
    slow, adopter, _ = states
    adapter, key = fresh("telegram"), f"test:{fresh('chat')}"
    ticket = slow.admit(fresh("u"), key, adapter=adapter, raw=update("hello", key))
    assert ticket is not None
    client.set(ALIVE + ticket, adopter.owner)  # it was silent too long; another replica claimed it

    with pytest.raises(TicketTaken):
        async with slow.lane(key, ticket):
            pytest.fail("a replica that lost its ticket must not answer it too")
    assert client.get(ALIVE + ticket) == adopter.owner  # nothing of the adopter's was given back
    assert client.exists(f"{PENDING}:{ticket}") == 1
    assert client.zscore(f"botkit:lane:{key}", ticket) is not None
