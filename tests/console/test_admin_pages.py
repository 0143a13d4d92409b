"""The admins' pages over HTTP: users, settings changed while the bot runs, the knowledge base (upload,
try a question, delete), and the audit log recording each action."""

from __future__ import annotations

import html
from html.parser import HTMLParser

from pydantic import SecretStr

from tests.console.conftest import PASSWORDS, Running, log_in, page_token

FAQ = "question,answer\nDo you sell gift cards?,Yes: gift cards from $10 to $200 are sold at every till.\n"


def audit_rows(running: Running) -> list[tuple[str, str, str]]:
    assert running.console.state is not None
    return [(e.actor, e.action, e.target) for e in running.console.state.audit.recent()]


async def test_an_admin_adds_a_user_changes_their_role_and_disables_them(running: Running) -> None:
    async with running.client() as ada:
        await log_in(ada, "ada")
        token = await page_token(ada, "/users")
        added = await ada.post(
            "/users/add", data={"csrf": token, "name": "dee", "password": "dee-agent-pass", "role": "agent"}
        )
        assert added.status_code == 303
        async with running.client() as dee:
            assert (await log_in(dee, "dee", "dee-agent-pass")).status_code == 303
            assert (await dee.get("/users")).status_code == 403
            await ada.post("/users/role", data={"csrf": token, "name": "dee", "role": "admin"})
            assert (await dee.get("/users")).status_code == 200  # the role counts at once
            await ada.post("/users/disable", data={"csrf": token, "name": "dee"})
            assert (await dee.get("/")).status_code == 303
        short = await ada.post(
            "/users/add", data={"csrf": token, "name": "fay", "password": "short", "role": "agent"}
        )
        said = await ada.get(short.headers["location"])
        assert "the password is too short: at least 8 characters" in said.text
        myself = await ada.post("/users/disable", data={"csrf": token, "name": "ada"})
        assert "an admin cannot disable themselves" in (await ada.get(myself.headers["location"])).text
        audit = await ada.get("/audit")
        assert "user.add" in audit.text
        assert "user.role" in audit.text
    assert ("ada", "user.disable", "dee") in audit_rows(running)
    assert ("ada", "user.role", "dee") in audit_rows(running)
    assert ("ada", "user.add", "fay") in audit_rows(running)  # refused, and still written down


async def test_an_admin_changes_the_threshold_while_the_bot_runs(running: Running) -> None:
    kb = running.desk.answerer
    async with running.client() as ada:
        await log_in(ada, "ada")
        page = await ada.get("/settings")
        assert 'id="kb-threshold"' in page.text
        assert "ada-admin-pass" not in page.text
        token = await page_token(ada, "/settings")
        done = await ada.post(
            "/settings", data={"csrf": token, "kb_threshold": "0.72", "unsure_before_handoff": "3"}
        )
        assert done.status_code == 303
        assert kb.settings.threshold == 0.72  # type: ignore[union-attr]
        assert running.desk.settings.unsure_before_handoff == 3
        bad = await ada.post("/settings", data={"csrf": token, "kb_threshold": "7"})
        said = await ada.get(bad.headers["location"])
        assert "kb.threshold must be a number from 0 to 1, not &#39;7&#39;" in said.text
        assert kb.settings.threshold == 0.72  # type: ignore[union-attr]
    assert ("ada", "settings.change", "kb.threshold, desk.unsure_before_handoff") in audit_rows(running)


async def test_the_settings_page_hides_secrets_and_database_passwords(running: Running) -> None:
    settings = running.tester.bot.settings
    assert settings is not None
    settings.database_url = "postgresql+psycopg://bot:hunter2secret@db.example.com/botkit"
    settings.web.secret = SecretStr("widget-cookie-secret-42")
    async with running.client() as ada:
        await log_in(ada, "ada")
        page = await ada.get("/settings")
    assert "hunter2secret" not in page.text
    assert "widget-cookie-secret-42" not in page.text
    assert "bot:***@db.example.com" in page.text


async def test_an_admin_uploads_tries_and_deletes_knowledge(running: Running) -> None:
    async with running.client() as ada:
        await log_in(ada, "ada")
        token = await page_token(ada, "/kb")
        files = [
            ("files", ("gift-cards.csv", FAQ.encode(), "text/csv")),
            ("files", ("../../escape.md", b"# Opening hours\n\nWe open at 9 every day.\n", "text/markdown")),
        ]
        uploaded = await ada.post("/kb/upload", data={"csrf": token}, files=files)
        assert uploaded.status_code == 303
        page = await ada.get(uploaded.headers["location"])
        assert "added: gift-cards.csv, escape.md" in html.unescape(page.text)
        assert 'data-document="gift-cards.csv"' in page.text
        assert not (running.tester.bot.settings.data_dir.parent / "escape.md").exists()  # type: ignore[union-attr]

        tried = await ada.get("/kb", params={"q": "can I buy a gift card?"})
        assert 'id="try-hits"' in tried.text
        first_row = tried.text.split('id="try-hits"')[1].split("</tr>")[1]
        assert "gift-cards.csv" in first_row
        assert "Yes: gift cards from $10 to $200" in tried.text
        assert tried.text.count("<td>0.") >= 2  # dense and fused scores shown

        documents = running.desk.answerer.documents()  # type: ignore[union-attr]
        gift = next(d for d in documents if d.name == "gift-cards.csv")
        deleted = await ada.post(f"/kb/{gift.id}/delete", data={"csrf": token})
        assert deleted.status_code == 303
        assert "gift-cards.csv" not in [d.name for d in running.desk.answerer.documents()]  # type: ignore[union-attr]
        long = await ada.get("/kb", params={"q": "x" * 2000})
        assert "1000" in long.text  # the limit, named
    actions = [(action, target) for _, action, target in audit_rows(running)]
    assert ("kb.upload", "gift-cards.csv, escape.md") in actions
    assert ("kb.delete", f"gift-cards.csv (#{gift.id})") in actions


def test_the_passwords_used_here_are_long_enough() -> None:
    assert all(len(p) >= 8 for p in PASSWORDS.values())


class Fields(HTMLParser):
    """The ids of a page's form fields (hidden ones aside) and the ids its labels are for."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.fields.append(found.get("id") or f"<{tag} name={found.get('name')} without an id>")
        if tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))


async def test_every_form_field_on_every_page_has_a_label(running: Running) -> None:
    await running.tester.send("talk to a human")
    async with running.client() as ada:
        await log_in(ada, "ada")
        checked = 0
        for path in [
            "/",
            "/conversations/test%3Ac1",
            "/tickets",
            "/dashboard",
            "/kb",
            "/users",
            "/settings",
            "/audit",
        ]:
            page = await ada.get(path)
            assert page.status_code == 200, path
            fields = Fields()
            fields.feed(page.text)
            unlabelled = [f for f in fields.fields if f not in fields.labelled]
            assert unlabelled == [], path
            checked += len(fields.fields)
        assert checked >= 15  # the pages' forms were there to check
    async with running.client() as anonymous:
        login = Fields()
        login.feed((await anonymous.get("/login")).text)
    assert login.fields == ["name", "password"]
    assert login.labelled == {"name", "password"}
