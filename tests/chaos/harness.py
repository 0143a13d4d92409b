"""Faults, counted: drive many conversations through a :class:`~tests.chaos.cluster.ChaosCluster`, break
one part while replies are being written, and count what the users saw.

Each user sends ``messages`` messages, each once the last was answered (or met with a "busy"). Replies
are generated greedily with history off, so the reply each message should get is known before the run
(:func:`reference_replies`, the same model in this process). Afterwards the bot's messages in each chat,
as the fake Telegram server holds them (their last edit), are counted against those expected replies:

- ``lost``: a message with neither its reply nor a "busy"/"too slow" notice;
- ``duplicated``: a reply shown more than once;
- ``garbled``: a bot message that is neither a message's reply, nor the start of one, nor a notice;
- ``out_of_order``: a reply shown after the reply to a later message of the same user;
- ``partial_left``: the start of a reply left frozen on screen (its message was then answered anew or
  with a notice), reported but not counted as garbled;
- ``recovery_s``: from the fault until every message that was waiting when it struck was settled;
- ``longest_wait_s``: the longest any user waited for a reply or a notice.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, text

from botkit.config import load_settings
from botkit.errors import BUSY, NO_WORKER, TOO_SLOW
from tests.chaos.cluster import ChaosCluster

NOTICES = {BUSY, TOO_SLOW, NO_WORKER}  # "try again": the user was told, not left waiting
TOPICS = "apples rivers music winter trains coffee robots clocks".split()
TEMPLATES = ("Tell me a story about {}.", "What do you think about {}?")
POLL_S = 0.1


async def reference_replies(cluster: ChaosCluster) -> dict[str, str]:
    """Prompts whose greedy replies differ (none the start of another), each with its reply, from the same
    model, settings and chat format in this process."""
    from botkit.model.local import LocalGenerator
    from botkit.types import ChatTurn

    settings = load_settings(cluster.config)
    generator = LocalGenerator.from_path(cluster.model, engine="botkit", max_batch=32)
    try:
        prompts = [t.format(topic) for t in TEMPLATES for topic in TOPICS]
        system = ChatTurn(role="system", content=settings.chat.system_prompt)
        params = settings.model.sampling_params()
        replies = await asyncio.gather(
            *(generator.generate([system, ChatTurn(role="user", content=p)], params) for p in prompts)
        )
    finally:
        await generator.close()
    chosen: dict[str, str] = {}
    for prompt, reply in zip(prompts, replies, strict=True):
        said = reply.text.strip()
        if said and not any(said.startswith(o) or o.startswith(said) for o in chosen.values()):
            chosen[prompt] = said
    return chosen


@dataclass
class Sent:
    """One message a user sent, and when it was settled (its reply complete, or a notice shown)."""

    update: dict[str, Any]
    expected: str
    sent_at: float
    settled_at: float | None = None


@dataclass
class Run:
    """One fault's run: the users' chats and what they sent."""

    fault: str
    chats: dict[int, list[Sent]] = field(default_factory=dict)
    fault_at: float | None = None
    healed_at: float | None = None
    store: dict[str, int] = field(default_factory=dict)
    rows_before: set[int] = field(default_factory=set)  # the store's turns when the fault struck


class Chaos:
    """Runs faults against one cluster, each on fresh chats.

    Args:
        cluster: the started processes.
        replies: :func:`reference_replies`.
    """

    def __init__(self, cluster: ChaosCluster, replies: dict[str, str]) -> None:
        if len(replies) < cluster.settings.messages:
            raise AssertionError(
                f"only {len(replies)} distinct replies for {cluster.settings.messages} messages"
            )
        self.cluster = cluster
        self.prompts = list(replies)
        self.replies = replies
        self._chat_base = 10_000
        self._update_ids = 1
        self.faults: dict[str, Callable[[Run], Awaitable[None]]] = {
            "none": self._none,
            "worker_kill": self._worker_kill,
            "redis_restart": self._redis_restart,
            "redis_outage": self._redis_outage,
            "replica_kill": self._replica_kill,
            "postgres_restart": self._postgres_restart,
            "platform_errors": self._platform_errors,
        }

    # -- one run ----------------------------------------------------------------------------------
    async def run(self, fault: str) -> dict[str, Any]:
        """Drive the conversations, strike with ``fault`` mid-reply, settle, and count."""
        settings = self.cluster.settings
        run = Run(fault)
        chats = [self._chat_base + c for c in range(settings.conversations)]
        self._chat_base += settings.conversations
        users = [asyncio.create_task(self._user(run, chat, c)) for c, chat in enumerate(chats)]
        try:
            await self._mid_reply(run, chats)
            run.fault_at = time.monotonic()
            await self.faults[fault](run)
            run.healed_at = time.monotonic()
            await asyncio.gather(*users)
        finally:
            for task in users:
                task.cancel()
        await asyncio.sleep(1.5)  # a doubled or late reply would show about now
        run.store = await asyncio.to_thread(self._store_check, run)
        return count(run, self.cluster)

    async def _user(self, run: Run, chat: int, index: int) -> None:
        settings = self.cluster.settings
        sent = run.chats.setdefault(chat, [])
        telegram = self.cluster.telegram
        for k in range(settings.messages):
            prompt = self.prompts[(index + k) % len(self.prompts)]
            update = telegram.message_update(prompt, chat_id=chat, push=False)
            update["update_id"] = self._update_ids
            self._update_ids += 1
            seen_before = {key for key in telegram.messages if key[0] == chat}
            message = Sent(update, self.replies[prompt], time.monotonic())
            sent.append(message)
            await self.cluster.deliver(update)
            deadline = message.sent_at + settings.wait_s
            while time.monotonic() < deadline:
                new = [m.get("text", "").strip() for key, m in telegram.messages.items() if key[0] == chat]
                fresh = [
                    m.get("text", "").strip()
                    for key, m in telegram.messages.items()
                    if key[0] == chat and key not in seen_before
                ]
                if message.expected in new or any(t in NOTICES for t in fresh):
                    message.settled_at = time.monotonic()
                    break
                await asyncio.sleep(POLL_S)

    async def _mid_reply(self, run: Run, chats: Sequence[int]) -> None:
        """Wait until half the users see the start of a reply still being written (at most 60 s)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            writing = 0
            for chat in chats:
                current = run.chats.get(chat, [])
                if not current:
                    continue
                texts = [
                    m.get("text", "").strip()
                    for (c, _), m in self.cluster.telegram.messages.items()
                    if c == chat
                ]
                want = current[-1].expected
                writing += any(t and want.startswith(t) and t != want for t in texts)
            if writing * 2 >= len(chats):
                return
            await asyncio.sleep(0.05)

    # -- the faults -------------------------------------------------------------------------------
    async def _none(self, run: Run) -> None:
        """No fault: the control run (every count must be 0)."""

    async def _worker_kill(self, run: Run) -> None:
        """SIGKILL the worker mid-reply; a fresh one starts at once (as a supervisor restarts it)."""
        assert self.cluster.worker is not None
        self.cluster.worker.kill9()
        await self.cluster.replace_worker()

    async def _redis_restart(self, run: Run) -> None:
        """Stop Redis and start it again on the same port, empty (it keeps nothing on disk)."""
        await asyncio.to_thread(self.cluster.redis.stop)
        await asyncio.to_thread(self.cluster.redis.start)

    async def _redis_outage(self, run: Run) -> None:
        """Freeze Redis (SIGSTOP) for ``outage_s``: unreachable, its data kept, then it answers again."""
        proc = self.cluster.redis.proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self.cluster.settings.outage_s)
        finally:
            os.kill(proc.pid, signal.SIGCONT)

    async def _replica_kill(self, run: Run) -> None:
        """SIGKILL a replica mid-reply; a replacement replica is started. Nothing is delivered again: the
        webhook answered 200, so Telegram never resends those updates; the other replicas adopt them from
        the intake journal (:mod:`botkit.queue.journal`)."""
        self.cluster.kill_replica()
        self.cluster.start_replica()

    async def _postgres_restart(self, run: Run) -> None:
        """Restart the store's PostgreSQL mid-reply: every connection cut, and refused for ``pg_down_s``
        while replies end and their turns are written."""
        run.rows_before = await asyncio.to_thread(_turn_ids, self.cluster.postgres.url)
        await asyncio.to_thread(self.cluster.postgres.restart, self.cluster.settings.pg_down_s)

    async def _platform_errors(self, run: Run) -> None:
        """Telegram answers every call with 429 (retry_after 1) or 5xx for ``platform_outage_s``."""
        self.cluster.telegram.fail_for(self.cluster.settings.platform_outage_s, retry_after=1)
        await asyncio.sleep(self.cluster.settings.platform_outage_s)

    def _store_check(self, run: Run) -> dict[str, int]:
        """The store after the run: user turns written twice, and rows there before the fault now gone."""
        rows = _turns(self.cluster.postgres.url)
        keys = {f"telegram:{chat}" for chat in run.chats}
        mine = [r for r in rows if r[1] in keys]
        users = [(conv, content) for _id, conv, role, content in mine if role == "user"]
        ids = {r[0] for r in rows}
        return {"store_doubled": len(users) - len(set(users)), "store_lost": len(run.rows_before - ids)}


def _turns(url: str) -> list[tuple[int, str, str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, conversation, role, content FROM turns ORDER BY id"))
            return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]
    finally:
        engine.dispose()


def _turn_ids(url: str) -> set[int]:
    return {row[0] for row in _turns(url)}


def count(run: Run, cluster: ChaosCluster) -> dict[str, Any]:
    """The run's figures (see the module docstring)."""
    totals = dict.fromkeys(("lost", "duplicated", "garbled", "out_of_order", "partial_left", "busy"), 0)
    answered = 0
    for chat, sent in run.chats.items():
        expected = [m.expected for m in sent]
        shown = [
            m.get("text", "").strip() for (c, _), m in sorted(cluster.telegram.messages.items()) if c == chat
        ]
        full = [expected.index(t) for t in shown if t in expected]
        notices = sum(t in NOTICES for t in shown)
        totals["busy"] += notices
        partial = [
            t
            for t in shown
            if t not in expected and t not in NOTICES and any(e.startswith(t) for e in expected)
        ]
        totals["partial_left"] += len(partial)
        totals["garbled"] += sum(
            t not in expected and t not in NOTICES and not any(e.startswith(t) for e in expected)
            for t in shown
        )
        unanswered = sum(i not in full for i in range(len(expected)))
        answered += len(expected) - unanswered
        totals["lost"] += max(0, unanswered - notices)
        totals["duplicated"] += len(full) - len(set(full))
        firsts = list(dict.fromkeys(full))
        totals["out_of_order"] += sum(b < a for a, b in itertools.pairwise(firsts))
    messages = [m for sent in run.chats.values() for m in sent]
    start = run.fault_at or 0.0
    waiting = [m for m in messages if m.sent_at <= start and (m.settled_at is None or m.settled_at > start)]
    cap = cluster.settings.wait_s
    recovery = max(((m.settled_at or m.sent_at + cap) - start for m in waiting), default=0.0)
    longest = max(((m.settled_at or m.sent_at + cap) - m.sent_at for m in messages), default=0.0)
    return {
        "fault": run.fault,
        "conversations": len(run.chats),
        "messages": len(messages),
        "answered": answered,
        **totals,
        **run.store,
        "recovery_s": round(recovery, 1),
        "longest_wait_s": round(longest, 1),
    }
