"""An agent's work in the console, over HTTP, on SQLite and PostgreSQL: the queue shows a handoff, the
agent takes it, answers (the user gets the text on their platform), resolves; the user rates; the tickets
page and the dashboard say so."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy import Engine

from botkit.app import Bot
from botkit.config import ConsoleSettings, Settings
from botkit.console import Console
from botkit.console.accounts import Accounts
from tests.console.conftest import PASSWORDS, Running, log_in, page_token

CONVERSATION = f"/conversations/{quote('test:c1', safe='')}"


def figure(html: str, name: str) -> str:
    found = re.search(rf'id="fig-{name}">([^<]*)<', html)
    assert found is not None, name
    return found.group(1).strip()


async def test_an_agent_answers_a_handoff_from_the_console_and_the_user_gets_it(running_any: Running) -> None:
    tester = running_any.tester
    await tester.send("talk to a human")
    await tester.send("Where is my parcel? Order 1234.")
    tester.new_replies()
    async with running_any.client() as ben:
        await log_in(ben, "ben")
        before = await ben.get("/dashboard?days=1")
        assert figure(before.text, "handoffs") == "1"
        assert figure(before.text, "csat") == "\u2013"  # no rating yet
        queue = await ben.get("/")
        assert "Waiting for a person (1)" in queue.text
        assert "test:c1" in queue.text
        page = await ben.get(CONVERSATION)
        assert "Where is my parcel? Order 1234." in page.text
        assert 'id="ticket-status">waiting<' in page.text
        ticket = running_any.desk.agents.tickets.list()[0]

        token = await page_token(ben, CONVERSATION)
        taken = await ben.post(f"/tickets/{ticket.id}/take", data={"csrf": token})
        assert taken.status_code == 303
        assert "/conversations/test%3Ac1?notice=done" == taken.headers["location"]
        sent = await ben.post(
            f"/tickets/{ticket.id}/reply", data={"csrf": token, "text": "It left our depot today."}
        )
        assert sent.status_code == 303
        assert tester.adapter.pushed[-1] == ("c1", None, "It left our depot today.")
        page = await ben.get(CONVERSATION)
        assert "It left our depot today." in page.text
        assert 'class="who">agent:ben<' in page.text

        resolved = await ben.post(f"/tickets/{ticket.id}/resolve", data={"csrf": token})
        assert resolved.status_code == 303
        assert "rate" in tester.adapter.pushed[-1][2].lower()
        await tester.press(f"desk:rate:{ticket.id}:5")

        listed = await ben.get("/tickets?status=resolved")
        assert f'data-ticket="{ticket.id}"' in listed.text
        assert (await ben.get("/tickets?status=waiting")).text.count('class="ticket"') == 0
        detail = await ben.get(f"/tickets/{ticket.id}")
        for kind in ("opened", "assigned", "agent_reply", "resolved", "rated"):
            assert f"<td>{kind}</td>" in detail.text
        after = await ben.get("/dashboard?days=1")
        assert figure(after.text, "csat").startswith("5.00")
        assert figure(after.text, "first-reply").endswith(" s")
        assert 'id="chart-csat"' in after.text


async def test_a_second_agent_is_told_who_has_the_ticket(running: Running) -> None:
    await running.tester.send("talk to a human")
    ticket = running.desk.agents.tickets.list()[0]
    async with running.client() as ben, running.client() as cy:
        await log_in(ben, "ben")
        await log_in(cy, "cy")
        await ben.post(f"/tickets/{ticket.id}/take", data={"csrf": await page_token(ben)})
        answer = await cy.post(
            f"/tickets/{ticket.id}/reply", data={"csrf": await page_token(cy), "text": "Hello from Cy"}
        )
        assert answer.status_code == 303
        shown = await cy.get(answer.headers["location"])
        assert f"ticket #{ticket.id} is already taken by ben" in shown.text
        assert all("Hello from Cy" not in text for _, _, text in running.tester.adapter.pushed)


async def test_assigning_hands_the_ticket_to_another_agent(running: Running) -> None:
    await running.tester.send("talk to a human")
    ticket = running.desk.agents.tickets.list()[0]
    async with running.client() as ben:
        await log_in(ben, "ben")
        token = await page_token(ben)
        await ben.post(f"/tickets/{ticket.id}/assign", data={"csrf": token, "agent": "cy"})
        assert running.desk.agents.tickets.get(ticket.id).assignee == "cy"
        nobody = await ben.post(f"/tickets/{ticket.id}/assign", data={"csrf": token, "agent": "zed"})
        said = await ben.get(nobody.headers["location"])
        assert "there is no active console user named &#39;zed&#39; to assign to" in said.text
        assert running.desk.agents.tickets.get(ticket.id).assignee == "cy"
        queue = await ben.get("/?fragment=1")
        assert "With an agent (1)" in queue.text
        assert "<html" not in queue.text  # a fragment, for the live update


async def test_an_empty_reply_is_refused_with_the_reason(running: Running) -> None:
    await running.tester.send("talk to a human")
    ticket = running.desk.agents.tickets.list()[0]
    async with running.client() as ben:
        await log_in(ben, "ben")
        answer = await ben.post(
            f"/tickets/{ticket.id}/reply", data={"csrf": await page_token(ben), "text": " "}
        )
        shown = await ben.get(answer.headers["location"])
        assert "an agent&#39;s reply needs some text" in shown.text
        assert running.tester.adapter.pushed == []


async def test_pages_speak_chinese_when_asked(running: Running) -> None:
    async with running.client() as ben:
        await log_in(ben, "ben")
        switched = await ben.get("/lang/zh?next=/tickets")
        assert switched.status_code == 303
        assert switched.headers["location"] == "/tickets"
        page = await ben.get("/tickets")
        assert "工单" in page.text
        assert 'lang="zh-Hans"' in page.text
    async with running.client() as fresh:
        login = await fresh.get("/login", headers={"accept-language": "zh-CN,zh;q=0.9"})
        assert "登录" in login.text
        assert '<label for="password">密码</label>' in login.text


async def test_an_unknown_ticket_or_conversation_is_not_found(running: Running) -> None:
    async with running.client() as ben:
        await log_in(ben, "ben")
        assert (await ben.get("/tickets/999")).status_code == 404
        assert (await ben.get("/conversations/test%3Anobody")).status_code == 404
        answer = await ben.post("/tickets/999/take", data={"csrf": await page_token(ben)})
        assert answer.status_code == 404


async def test_without_the_desk_the_pages_say_so(engine: Engine, tmp_path: Path) -> None:
    Accounts(engine).add_user("ben", PASSWORDS["ben"], "agent")
    console = Console(settings=ConsoleSettings(port=0), engine=engine)
    bot = Bot([console], settings=Settings(data_dir=tmp_path / "data"))
    await bot.start()
    try:
        assert console.server is not None
        async with httpx.AsyncClient(base_url=console.server.url.rstrip("/")) as ben:
            await log_in(ben, "ben")
            for path in ("/", "/tickets"):
                page = await ben.get(path)
                assert page.status_code == 200
                assert "The support desk is not enabled ([desk] enabled = true)" in page.text
            assert (await ben.get("/dashboard")).status_code == 200
    finally:
        await bot.stop()
