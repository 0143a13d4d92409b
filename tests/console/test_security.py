"""The console's security, over real HTTP against the real server: roles, CSRF, sessions, the login
limit, and a user's message shown as text."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from sqlalchemy import select

from botkit.db.schema import console_sessions
from tests.console.conftest import Running, csrf_of, log_in, page_token

PROBE = "<img src=x onerror=alert(1)>"
ADMIN_PAGES = ["/users", "/settings", "/audit", "/kb"]


async def test_logging_in_opens_the_queue_and_the_cookie_is_httponly_and_samesite(running: Running) -> None:
    async with running.client() as client:
        answer = await log_in(client, "ben")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        cookie = answer.headers["set-cookie"]
        assert "botkit_console=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        queue = await client.get("/")
        assert queue.status_code == 200
        assert "ben (agent)" in queue.text
        assert "default-src 'self'" in queue.headers["content-security-policy"]
    with running.engine.connect() as conn:
        stored = conn.execute(select(console_sessions.c.token_hash)).scalars().all()
    token = answer.cookies["botkit_console"]
    assert len(stored) == 1
    assert token not in stored


async def test_a_wrong_password_is_refused_and_says_so(running: Running) -> None:
    async with running.client() as client:
        answer = await log_in(client, "ben", "not-his-password")
        assert answer.status_code == 401
        assert "Wrong name or password" in answer.text
        assert "botkit_console" not in client.cookies
        assert (await client.get("/")).status_code == 303  # still sent to the login page


async def test_an_agent_cannot_reach_the_admin_pages_and_an_admin_can(running: Running) -> None:
    async with running.client() as agent, running.client() as admin:
        await log_in(agent, "ben")
        await log_in(admin, "ada")
        for path in ADMIN_PAGES:
            refused = await agent.get(path)
            assert refused.status_code == 403, path
            assert "Only an admin may open this page." in refused.text
            assert (await admin.get(path)).status_code == 200, path
        token = await page_token(agent)
        made = await agent.post(
            "/users/add", data={"csrf": token, "name": "eve", "password": "x" * 12, "role": "admin"}
        )
        assert made.status_code == 403
        assert running.console.state is not None
        assert running.console.state.accounts.user("eve") is None


async def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(running: Running) -> None:
    await running.tester.send("talk to a human")
    ticket = running.desk.agents.tickets.list()[0]
    async with running.client() as client:
        await log_in(client, "ben")
        for data in ({}, {"csrf": "forged-token"}, {"csrf": ""}):
            refused = await client.post(f"/tickets/{ticket.id}/take", data=data)
            assert refused.status_code == 403, data
            assert "CSRF" in refused.text
        assert running.desk.agents.tickets.get(ticket.id).assignee is None  # nothing happened
        token = await page_token(client)
        header = await client.post(f"/tickets/{ticket.id}/take", headers={"X-CSRF-Token": token})
        assert header.status_code == 303
        assert running.desk.agents.tickets.get(ticket.id).assignee == "ben"


async def test_another_sessions_token_does_not_pass_as_this_sessions_csrf(running: Running) -> None:
    async with running.client() as ben, running.client() as cy:
        await log_in(ben, "ben")
        await log_in(cy, "cy")
        cys_token = await page_token(cy)
        answer = await ben.post("/logout", data={"csrf": cys_token})
        assert answer.status_code == 403
        assert (await ben.get("/")).status_code == 200  # still logged in


async def test_the_login_form_needs_its_own_token(running: Running) -> None:
    async with running.client() as client:
        answer = await client.post("/login", data={"name": "ben", "password": "ben-agent-pass"})
        assert answer.status_code == 403
        assert "botkit_console" not in client.cookies


async def test_an_altered_or_forged_session_cookie_opens_nothing(running: Running) -> None:
    async with running.client() as ben:
        await log_in(ben, "ben")
        token = ben.cookies["botkit_console"]
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for value in (altered, "forged" * 8, token.upper(), ""):
        async with httpx.AsyncClient(base_url=running.url, cookies={"botkit_console": value}) as other:
            answer = await other.get("/tickets")
            assert answer.status_code == 303, value
            assert answer.headers["location"].startswith("/login")
    async with httpx.AsyncClient(base_url=running.url, cookies={"botkit_console": token}) as same:
        assert (await same.get("/tickets")).status_code == 200  # the real one still works


async def test_a_logged_out_session_cannot_read_a_transcript(running: Running) -> None:
    await running.tester.send("talk to a human")
    await running.tester.send("my order 1234 never came")
    page = f"/conversations/{quote('test:c1', safe='')}"
    async with running.client() as client:
        await log_in(client, "ben")
        assert "my order 1234 never came" in (await client.get(page)).text
        token = client.cookies["botkit_console"]
        await client.post("/logout", data={"csrf": await page_token(client)})
    async with httpx.AsyncClient(base_url=running.url, cookies={"botkit_console": token}) as replay:
        answer = await replay.get(page)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next={quote(page, safe='')}"
        assert "my order" not in answer.text
        fragment = await replay.get(page + "?fragment=1", headers={"accept": "text/html"})
        assert fragment.status_code == 303
        assert (await replay.get("/events")).status_code == 401


async def test_a_disabled_user_is_logged_out_at_once(running: Running) -> None:
    async with running.client() as ben, running.client() as ada:
        await log_in(ben, "ben")
        await log_in(ada, "ada")
        token = await page_token(ada, "/users")
        done = await ada.post("/users/disable", data={"csrf": token, "name": "ben"})
        assert done.status_code == 303
        assert (await ben.get("/")).status_code == 303
        assert (await log_in(ben, "ben")).status_code == 401


async def test_login_attempts_are_limited_per_name(running: Running) -> None:
    async with running.client() as client:
        for _ in range(5):
            assert (await log_in(client, "ben", "wrong-password")).status_code == 401
        limited = await log_in(client, "ben")  # even the right password waits now
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "Too many attempts" in limited.text
        assert (await log_in(client, "cy")).status_code == 429  # the same address is limited as well


async def test_a_users_message_in_a_transcript_is_shown_as_text(running: Running) -> None:
    await running.tester.send("talk to a human")
    await running.tester.send(PROBE)
    async with running.client() as client:
        await log_in(client, "ben")
        page = await client.get(f"/conversations/{quote('test:c1', safe='')}")
        assert PROBE not in page.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
        tickets = await client.get("/tickets")
        assert PROBE not in tickets.text


def test_csrf_field_helper_finds_the_token() -> None:
    assert csrf_of('<input type="hidden" name="csrf" value="abc">') == "abc"
