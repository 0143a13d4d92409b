"""Slack users' languages: ``users.info`` with ``include_locale``, looked up once, never holding a message."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.adapters.slack.users import UserLocales
from botkit.i18n import translate
from botkit.plugins.help import HEADING
from tests.adapters.slack_harness import EchoSlack, echo_slack

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]


@pytest.fixture
async def slack() -> AsyncIterator[EchoSlack]:
    async with echo_slack() as running:
        yield running


# -- languages --------------------------------------------------------------------------------------
async def test_the_users_locale_is_looked_up_once_and_chooses_botkits_texts(slack: EchoSlack) -> None:
    fake, adapter, _, echo = slack
    fake.add_user("U0001", locale="zh-CN")
    for text in ("hello", "again"):
        await fake.send_event(adapter.url, fake.message_event(text))
        await adapter.drain()
    assert [m.author.language for m in echo.seen] == ["zh-CN", "zh-CN"]
    [lookup] = fake.calls_to("users.info")
    assert lookup.params == {"user": "U0001", "include_locale": "1"}
    await fake.send_event(adapter.url, fake.message_event("/help"))
    await adapter.drain()
    [help_text] = [m.text for m in fake.messages.values()]
    assert help_text.startswith(translate(HEADING, "zh"))
    assert translate(HEADING, "zh") != HEADING


async def test_a_failed_lookup_leaves_the_language_unknown_and_is_not_repeated(slack: EchoSlack) -> None:
    fake, adapter, _, echo = slack
    fake.failing["users.info"] = "missing_scope"
    for text in ("hello", "again"):
        await fake.send_event(adapter.url, fake.message_event(text))
        await adapter.drain()
    assert [(m.text, m.author.language) for m in echo.seen] == [("hello", None), ("again", None)]
    assert len(fake.calls_to("users.info", ok=False)) == 1


async def test_a_slow_lookup_never_holds_the_message_back(slack: EchoSlack) -> None:
    fake, adapter, _, echo = slack
    fake.delays["users.info"] = 1.5  # the fake's stop waits for this answer: keep it short
    assert adapter._locales is not None
    adapter._locales.timeout_s = 0.1
    started = time.monotonic()
    await fake.send_event(adapter.url, fake.message_event("hello"))
    await adapter.drain()
    assert time.monotonic() - started < 1.0
    assert [(m.text, m.author.language) for m in echo.seen] == [("hello", None)]


async def test_a_slow_lookup_does_not_let_a_later_message_overtake(slack: EchoSlack) -> None:
    fake, adapter, _, echo = slack
    await fake.send_event(adapter.url, fake.message_event("known", user="U0002"))
    await adapter.drain()  # U0002's locale is known from now on
    fake.delays["users.info"] = 0.3  # U0001's lookup is slow
    await fake.send_event(adapter.url, fake.message_event("first", user="U0001"))
    await fake.send_event(adapter.url, fake.message_event("second", user="U0002"))
    await adapter.drain()
    assert [(m.text, m.author.id) for m in echo.seen] == [
        ("known", "U0002"),
        ("first", "U0001"),
        ("second", "U0002"),
    ]
    assert [m.author.language for m in echo.seen] == ["en-US"] * 3


async def test_the_locale_cache_is_bounded() -> None:
    async with FakeSlackServer() as fake, aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_base, session=session)
        locales = UserLocales(client, size=2)
        fake.add_user("U1", locale="zh-CN")
        for user in ("U1", "U2", "U1", "U3", "U2"):  # U2 is the least recently seen when U3 comes
            await locales.locale(user)
        assert [c.params["user"] for c in fake.calls_to("users.info")] == ["U1", "U2", "U3", "U2"]
        assert locales.cached("U1") == (False, None)  # forgotten in turn, when U2 came back
        assert locales.cached("U3") == (True, "en-US")
