"""The three webhook servers as a client on the internet sees them: raw HTTP over a socket, each server's way
of authenticating a body, and a valid event that must still be answered after any abuse.

:func:`webhook_targets` starts the real adapters (Telegram in webhook mode with its secret token, Slack's
Events API with its signing secret, Discord's HTTP interactions with its public key) against their fake
platforms and yields one :class:`Target` for each.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from nacl.signing import SigningKey
from pydantic import SecretStr

from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.testing import ScriptedModel
from tests.adapters.slack_harness import echo_slack
from tests.adapters.telegram_harness import TOKEN, start_rig
from tests.adapters.test_discord import running as discord_running

TELEGRAM_SECRET = "s3cret-Token_value"


@dataclass
class Answer:
    """What a raw request got: the status line's code (None: the server closed without answering)."""

    status: int | None
    seconds: float


@dataclass
class Target:
    """One running webhook server.

    Attributes:
        name: "telegram", "slack" or "discord".
        port, path: where it listens.
        sign: the headers that make a body authentic (secret token, signature), signed at a Unix time
            (now when None; Telegram's secret token has no time).
        valid_body: a body the bot answers (a fresh one each call, so de-duplication never hides it).
        answered: sends a valid event through the platform's own client path and waits until the bot
            handled it (raises AssertionError when it does not within a few seconds).
        handled: how many messages or events the bot's plugin has been handed so far.
    """

    name: str
    port: int
    path: str
    sign: Callable[[bytes, int | None], dict[str, str]]
    valid_body: Callable[[], bytes]
    answered: Callable[[], Awaitable[None]]
    handled: Callable[[], int]


def request_bytes(
    path: str, headers: dict[str, str], body: bytes = b"", *, method: str = "POST", length: bool = True
) -> bytes:
    """An HTTP/1.1 request as sent over the wire (``Content-Length`` added unless given or ``length`` off)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if length and not any(k.lower() == "content-length" for k in headers):
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\n"
    return head + body


async def raw(port: int, data: bytes, *, then_wait: bool = False, within: float = 10.0) -> Answer:
    """Send ``data`` and read the response's status line.

    Args:
        then_wait: unused by the exchange itself (the connection stays open either way: aiohttp takes a
            half-close for a hang-up); kept so a case says that its body never ends.
        within: seconds to wait for an answer before giving up (``status`` None).
    """
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(within):
            with contextlib.suppress(ConnectionError):
                writer.write(data)
                await writer.drain()
            line = await reader.readline()
    except (TimeoutError, ConnectionError):
        line = b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    parts = line.split()
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    return Answer(status, time.monotonic() - started)


@contextlib.asynccontextmanager
async def telegram_target() -> AsyncIterator[Target]:
    extra = {"mode": "webhook", "webhook_url": "https://bot.example.com/tg", "webhook_port": 0}
    chats = itertools.count(5000)
    async with FakeTelegramServer(TOKEN, bot_id=555000111, bot_username="BotkitTestBot") as tg:
        rig, _ = await start_rig(tg, ScriptedModel(), secret_token=SecretStr(TELEGRAM_SECRET), **extra)
        port = rig.adapter.webhook_port
        assert port is not None

        def valid_body() -> bytes:
            return json.dumps(tg.message_update("/start", chat_id=next(chats), push=False)).encode()

        async def answered() -> None:
            chat = next(chats)
            url = f"http://127.0.0.1:{port}/telegram"
            update = tg.message_update("/start", chat_id=chat, push=False)
            assert await tg.deliver(url, update, secret_token=TELEGRAM_SECRET) == 200
            await tg.wait_for("sendMessage", where=lambda c: int(c.params["chat_id"]) == chat)
            assert tg.texts(chat) == ["Welcome!"]

        def sign(body: bytes, at: int | None = None) -> dict[str, str]:
            return {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}

        try:
            yield Target(
                "telegram", port, "/telegram", sign, valid_body, answered, lambda: len(rig.probe.seen)
            )
        finally:
            await rig.adapter.stop()


@contextlib.asynccontextmanager
async def slack_target() -> AsyncIterator[Target]:
    words = itertools.count()
    async with echo_slack() as slack:
        fake, adapter, echo = slack.fake, slack.adapter, slack.echo
        port = int(adapter.url.rsplit(":", 1)[1].split("/", 1)[0])
        path = "/" + adapter.url.split("/", 3)[3]

        def valid_body() -> bytes:
            return json.dumps(fake.message_event(f"hello {next(words)}")).encode()

        async def answered() -> None:
            text = f"still there {next(words)}"
            status, _ = await fake.send_event(adapter.url, fake.message_event(text))
            assert status == 200
            await fake.wait_for(lambda: any(m.text == text for m in echo.seen))

        def sign(body: bytes, at: int | None = None) -> dict[str, str]:
            return slack_signed(fake.signing_secret, body, at)

        yield Target("slack", port, path, sign, valid_body, answered, lambda: len(echo.seen))


def slack_signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds: HMAC-SHA256 of ``v0:{timestamp}:{body}``, over the raw bytes (any bytes)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def discord_signed(key: SigningKey, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Discord adds: an Ed25519 signature over the timestamp and the body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Signature-Ed25519": key.sign(stamp.encode() + body).signature.hex(),
        "X-Signature-Timestamp": stamp,
    }


@contextlib.asynccontextmanager
async def discord_target(key: SigningKey) -> AsyncIterator[Target]:
    public_key = key.verify_key.encode().hex()
    presses = itertools.count()
    async with discord_running(public_key=public_key, interactions_port=0) as (fake, adapter, rec):
        endpoint = adapter.endpoint
        assert endpoint is not None

        def valid_body() -> bytes:
            return json.dumps({"id": "1", "token": "t", "type": 1, "version": 1}).encode()  # PING

        async def answered() -> None:
            data = f"press-{next(presses)}"
            press = fake.make_interaction(3, {"custom_id": data, "component_type": 2})
            fake.register_interaction(press, acked_over_http=6)
            body = json.dumps(press).encode()
            headers = {**discord_signed(key, body), "Content-Type": "application/json"}
            answer = await raw(endpoint.port, request_bytes(endpoint.path, headers, body))
            assert answer.status == 200, answer
            await fake.wait_for(lambda: any(e.data == data for e in rec.events), within=5)

        def sign(body: bytes, at: int | None = None) -> dict[str, str]:
            return discord_signed(key, body, at)

        yield Target(
            "discord", endpoint.port, endpoint.path, sign, valid_body, answered, lambda: len(rec.events)
        )


@contextlib.asynccontextmanager
async def webhook_targets() -> AsyncIterator[list[Target]]:
    """All three servers, started (each against its fake platform) and stopped afterwards."""
    async with (
        telegram_target() as telegram,
        slack_target() as slack,
        discord_target(SigningKey.generate()) as discord,
    ):
        yield [telegram, slack, discord]
