"""The Telegram adapter end to end: settings, start-up with a wrong token, the webhook and its secret token,
and secrets kept out of the logs; real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import logging
import re
import traceback

import aiohttp
import pytest
from pydantic import SecretStr
from telegram.error import InvalidToken

from botkit.adapters.redact import REDACTOR
from botkit.adapters.telegram import TelegramAdapter
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.app import Bot
from botkit.config import TelegramSettings
from botkit.testing import ScriptedModel
from tests.adapters.telegram_harness import (
    TOKEN,
    Probe,
    start_rig,
    tg_fixture,  # noqa: F401  (the ``tg`` fixture)
)

pytestmark = [pytest.mark.timeout(30)]


# -- settings and start-up -----------------------------------------------------------------------------------
async def test_wrong_token_fails_start_cleanly(tg: FakeTelegramServer) -> None:
    adapter = TelegramAdapter(TelegramSettings(token=SecretStr("111:wrong-token"), base_url=tg.base_url))
    with pytest.raises(InvalidToken) as failure:
        await adapter.start(Bot([Probe()]))
    assert "wrong-token" not in "".join(traceback.format_exception(failure.value))  # it gets logged
    assert not REDACTOR.holds("111:wrong-token")  # nothing left behind
    assert [c.status for c in tg.calls] == [401]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"telegram\.token"):
        TelegramAdapter(TelegramSettings())
    with pytest.raises(ValueError, match="webhook_url"):
        TelegramAdapter(TelegramSettings(token=SecretStr(TOKEN), mode="webhook"))
    generated = TelegramAdapter(
        TelegramSettings(token=SecretStr(TOKEN), mode="webhook", webhook_url="https://x")
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", generated.secret_token)  # made up when none is set


# -- webhook ----------------------------------------------------------------------------------------------
async def test_webhook_checks_the_secret_token(
    tg: FakeTelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    extra = {"mode": "webhook", "webhook_url": "https://bot.example.com/tg", "webhook_port": 0}
    good = "s3cret-Token_value"
    made, _ = await start_rig(tg, ScriptedModel(), secret_token=SecretStr(good), **extra)
    try:
        assert tg.webhook is not None
        assert tg.webhook["secret_token"] == good
        assert tg.webhook["url"] == "https://bot.example.com/tg"
        url = f"http://127.0.0.1:{made.adapter.webhook_port}/telegram"
        assert await tg.deliver(url, tg.message_update("/start", push=False), secret_token=None) == 401
        assert await tg.deliver(url, tg.message_update("/start", push=False), secret_token="wrong") == 403
        forged = "s3cret-Token_valuf"  # same length, last byte differs
        assert await tg.deliver(url, tg.message_update("/start", push=False), secret_token=forged) == 403
        await made.adapter.drain(2)
        assert made.probe.seen == []
        assert tg.sent() == []
        async with aiohttp.ClientSession() as session:
            bad = await session.post(
                url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": forged}
            )
            assert bad.status == 403
        async with aiohttp.ClientSession() as session:
            garbage = await session.post(
                url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": good}
            )
            assert garbage.status == 400
        status = await tg.deliver(url, tg.message_update("/start", chat_id=31, push=False), secret_token=good)
        assert status == 200
        await tg.wait_for("sendMessage")
        assert made.probe.names() == ["start"]
        assert tg.texts(31) == ["Welcome!"]
    finally:
        await made.adapter.stop()
    assert "secret_token" in caplog.text  # PTB logged the setWebhook call at DEBUG...
    assert good not in caplog.text  # ...with the secret redacted
    assert TOKEN not in caplog.text


# -- secrets ----------------------------------------------------------------------------------------------
async def test_token_never_appears_in_logs(tg: FakeTelegramServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "telegram", "aiohttp", "botkit"):
        caplog.set_level(logging.DEBUG, logger=name)
    made, _ = await start_rig(tg, ScriptedModel(["fine"]))
    try:
        await made.roundtrip(tg.message_update("hi", chat_id=2))
        tg.fail_next(1, method="sendMessage")
        await made.roundtrip(tg.message_update("/start", chat_id=2))
    finally:
        await made.adapter.stop()
    assert tg.texts(2) == ["fine", "Welcome!"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request: POST" in text, "httpx did not log: the check below would prove nothing"
    secret_part = TOKEN.split(":")[1]
    assert TOKEN not in text
    assert secret_part not in text
    assert TOKEN not in caplog.text
    assert "[redacted]" in text
