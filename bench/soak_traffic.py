"""Steady webhook traffic for bench/soak.py, and each message's reply found in the fake platforms' records.

Messages alternate between Telegram (an update POSTed to the bot's webhook with the secret token) and
Slack (a signed Events API callback), at a fixed rate whatever the answers' pace (open loop), spread over
``users`` conversations per platform. Replies are matched afterwards: a bot answers a conversation's
messages one at a time and in order, so the k-th reply in a chat answers the k-th message sent there. A
reply is done when its text was last written (the send, or the last edit of the streamed text); that
moment, from the fake servers' own call records on the same clock, minus the send time is its latency.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.adapters.telegram.fake_server import FakeTelegramServer

# botkit's own notices (botkit/locale/botkit.pot: busy, no worker, too slow, failed, too fast) all say one
# of these; a model reply that does is a failure the user sees, not an answer.
NOTICE_MARKS = ("try again", "Please wait")


@dataclass
class Sent:
    """One message as sent: its platform, conversation, when (``time.monotonic()``) and the HTTP answer."""

    platform: str
    chat: str
    at: float
    status: int = 0  # 0: the webhook never answered


@dataclass
class Outcome:
    """What came of the traffic: per message its latency, and the counted failures."""

    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent, seconds after t0; latency)
    lost: int = 0
    duplicated: int = 0
    notices: int = 0
    http_errors: int = 0


class Traffic:
    """Sends the soak's messages and reads their replies back from the fakes."""

    def __init__(
        self,
        telegram: FakeTelegramServer,
        slack: FakeSlackServer,
        telegram_url: str,
        slack_url: str,
        secret_token: str,
        users: int,
    ) -> None:
        self.telegram, self.slack = telegram, slack
        self.telegram_url, self.slack_url, self.secret_token = telegram_url, slack_url, secret_token
        self.users = users
        self.sent: list[Sent] = []
        self._update_ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    def answered(self) -> int:
        """Bot messages on both platforms so far (cheap: for the progress bar and the drain)."""
        return len(self.telegram.messages) + len(self.slack.messages)

    async def run(self, rate: float, seconds: float, t0: float, tick: Callable[[], None]) -> None:
        """Send ``rate`` messages a second for ``seconds`` from ``t0``; ``tick`` after each send starts."""
        tasks: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession() as self._session:
            for n in itertools.count():
                due = t0 + n / rate
                if due >= t0 + seconds:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                task = asyncio.create_task(self._send(n))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                tick()
            await asyncio.gather(*tasks)

    async def _send(self, n: int) -> None:
        platform = ("telegram", "slack")[n % 2]
        user = (n // 2) % self.users
        text = f"soak message {n}: hello there, how are you today?"
        if platform == "telegram":
            chat_id = 700_000 + user
            update = self.telegram.message_update(text, chat_id=chat_id, push=False)
            update["update_id"] = next(self._update_ids)
            record = Sent(platform, str(chat_id), time.monotonic())
            self.sent.append(record)
            headers = {"X-Telegram-Bot-Api-Secret-Token": self.secret_token}
            assert self._session is not None
            async with self._session.post(self.telegram_url, json=update, headers=headers) as answer:
                record.status = answer.status
        else:
            channel = f"DSOAK{user:04d}"
            event = self.slack.message_event(text, channel=channel, user=f"USOAK{user:04d}")
            record = Sent(platform, channel, time.monotonic())
            self.sent.append(record)
            record.status, _ = await self.slack.send_event(self.slack_url, event)

    def outcome(self, t0: float) -> Outcome:
        """Match replies to messages per conversation and count what went wrong."""
        replies = {**self._telegram_replies(), **self._slack_replies()}
        by_chat: dict[tuple[str, str], list[Sent]] = {}
        for record in self.sent:
            by_chat.setdefault((record.platform, record.chat), []).append(record)
        out = Outcome(http_errors=sum(not 200 <= r.status < 300 for r in self.sent))
        for key, messages in by_chat.items():
            answers = replies.get(key, [])
            out.lost += max(0, len(messages) - len(answers))
            out.duplicated += max(0, len(answers) - len(messages))
            for record, (text, done) in zip(messages, answers, strict=False):
                out.notices += any(mark in text for mark in NOTICE_MARKS)
                out.latencies.append((record.at - t0, done - record.at))
        return out

    def _telegram_replies(self) -> dict[tuple[str, str], list[tuple[str, float]]]:
        """(text, done at) of each bot message per chat, oldest first."""
        last_edit: dict[tuple[int, int], float] = {}
        for call in self.telegram.calls_to("editMessageText"):
            if call.status == 200:
                key = (int(call.params["chat_id"]), int(call.params["message_id"]))
                last_edit[key] = max(last_edit.get(key, 0.0), call.at)
        sends: dict[int, list[float]] = {}
        for call in self.telegram.sent():  # in message-id order: the fake numbers them as they arrive
            sends.setdefault(int(call.params["chat_id"]), []).append(call.at)
        found: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for (chat, message_id), message in sorted(self.telegram.messages.items()):
            position = len(found.setdefault(("telegram", str(chat)), []))
            posted = sends[chat][position]
            done = max(posted, last_edit.get((chat, message_id), 0.0))
            found["telegram", str(chat)].append((str(message.get("text", "")), done))
        return found

    def _slack_replies(self) -> dict[tuple[str, str], list[tuple[str, float]]]:
        last_update: dict[str, float] = {}
        for call in self.slack.calls_to("chat.update"):
            ts = str(call.params.get("ts"))
            last_update[ts] = max(last_update.get(ts, 0.0), call.at)
        posts: dict[str, list[float]] = {}
        for call in self.slack.calls_to("chat.postMessage"):
            posts.setdefault(str(call.params.get("channel")), []).append(call.at)
        found: dict[tuple[str, str], list[tuple[str, float]]] = {}
        ordered = sorted(self.slack.messages.values(), key=lambda m: tuple(map(int, m.ts.split("."))))
        for message in ordered:
            position = len(found.setdefault(("slack", message.channel), []))
            posted = posts[message.channel][position]
            done = max(posted, last_update.get(message.ts, 0.0))
            found["slack", message.channel].append((message.text, done))
        return found
