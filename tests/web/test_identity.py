"""Who may chat: the page's origin, the visitor's signed cookie or token, a site's signed user id.

A refused origin or identity closes the socket with 1008 and a reason (the widget shows it); an accepted
one names the conversation the bot keeps (``web:<visitor>`` or ``web:user:<id>``).
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from websockets.exceptions import ConnectionClosed

from botkit.adapters.web.identity import COOKIE, user_hash_for
from botkit.message import Reply
from tests.web.conftest import Served
from tests.web.support import IDENTITY_SECRET, ChatClient, bot_text

WITH_IDENTITY = {"identity_secret": SecretStr(IDENTITY_SECRET)}


async def refused(client: ChatClient, **hello: Any) -> tuple[int, str]:
    """Send hello and return the close code and reason the server answered with."""
    await client.send({"type": "hello", **hello})
    with pytest.raises(ConnectionClosed) as closed:
        await client.wait(lambda f: False)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.parametrize("served", [WITH_IDENTITY], indirect=True)
async def test_a_signed_user_id_is_accepted_and_names_the_conversation(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    user_hash = user_hash_for(IDENTITY_SECRET.encode(), "42")
    welcome = await client.hello(user_id="42", user_hash=user_hash)
    assert welcome["conversation"] == "web:user:42"
    await client.say("hi")
    await client.wait(lambda f: bot_text(f) == "You said: hi")
    await client.close()
    # The same user on another device is the same conversation: the bot can write to it by the user's id.
    await served.bot.send_to("web:user:42", Reply("Welcome back"))
    other = await ChatClient.open(served.ws)
    await other.hello(user_id="42", user_hash=user_hash.upper())  # hex in either case
    replayed = await other.wait(lambda f: bot_text(f) == "Welcome back")
    assert replayed["from"] == "bot"
    await other.close()


@pytest.mark.parametrize("served", [WITH_IDENTITY], indirect=True)
@pytest.mark.parametrize(
    ("hello", "reason"),
    [
        ({"user_id": "42"}, "the user id is not signed"),
        ({"user_id": "42", "user_hash": "0" * 64}, "the user hash does not match the user id"),
        ({"user_id": "43", "user_hash": user_hash_for(IDENTITY_SECRET.encode(), "42")}, "does not match"),
        ({"user_hash": "ab" * 32}, "a user hash came without a user id"),
        ({"user_id": "a b", "user_hash": user_hash_for(IDENTITY_SECRET.encode(), "a b")}, "characters"),
    ],
    ids=["unsigned", "wrong-hash", "hash-of-another-user", "hash-alone", "malformed-id"],
)
async def test_an_unsigned_or_wrongly_signed_identity_is_refused(
    served: Served, hello: dict[str, str], reason: str
) -> None:
    client = await ChatClient.open(served.ws)
    code, said = await refused(client, **hello)
    assert code == 1008  # policy violation: the widget shows the reason and does not retry
    assert reason in said
    assert served.shop.handled == []


async def test_a_user_id_is_refused_when_the_server_has_no_identity_secret(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    user_hash = user_hash_for(b"whatever the site thinks", "42")
    code, said = await refused(client, user_id="42", user_hash=user_hash)
    assert code == 1008
    assert "does not accept signed-in users" in said


async def test_an_anonymous_visitor_keeps_one_conversation_by_cookie_or_by_token(served: Served) -> None:
    first = await ChatClient.open(served.ws)
    welcome = await first.hello()
    set_cookie = first.socket.response.headers["Set-Cookie"]  # type: ignore[union-attr]
    assert set_cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie  # plain HTTP: only the server's own pages send it back
    cookie = set_cookie.split(";")[0]
    await first.close()
    by_cookie = await ChatClient.open(served.ws, cookie=cookie)
    assert "Set-Cookie" not in by_cookie.socket.response.headers  # type: ignore[union-attr]
    again = await by_cookie.hello()  # a same-site page: the cookie alone says who it is
    assert again["conversation"] == welcome["conversation"]
    await by_cookie.close()
    by_token = await ChatClient.open(served.ws)  # another site's page: the widget's stored token
    assert (await by_token.hello(visitor=welcome["visitor"]))["conversation"] == welcome["conversation"]
    await by_token.close()
    forged = await ChatClient.open(served.ws)
    visitor_id = welcome["conversation"].removeprefix("web:")
    stranger = await forged.hello(visitor=visitor_id + ".forged-signature")
    assert stranger["conversation"] != welcome["conversation"]  # a forged token is a new visitor
    await forged.close()


@pytest.mark.parametrize("served", [{"allowed_origins": ["https://shop.example.com"]}], indirect=True)
async def test_only_allowed_origins_may_open_the_chat(served: Served) -> None:
    evil = await ChatClient.open(served.ws, origin="https://evil.example")
    with pytest.raises(ConnectionClosed) as closed:
        await evil.wait(lambda f: False)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "origin https://evil.example may not open this chat" in closed.value.rcvd.reason
    shop = await ChatClient.open(served.ws, origin="https://shop.example.com")
    await shop.hello()
    await shop.say("hello from the shop")
    await shop.wait(lambda f: bot_text(f) == "You said: hello from the shop")
    await shop.close()
    assert served.shop.handled == ["hello from the shop"]


@pytest.mark.parametrize("served", [{}, {"allowed_origins": ["https://shop.example.com"]}], indirect=True)
async def test_the_servers_own_pages_may_and_other_sites_only_when_listed(served: Served) -> None:
    own = served.http.rstrip("/")
    same = await ChatClient.open(served.ws, origin=own)
    await same.hello()
    await same.close()
    other = await ChatClient.open(served.ws, origin="http://localhost:1")
    with pytest.raises(ConnectionClosed) as closed:
        await other.wait(lambda f: False)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
