"""The desk end to end in a real browser (Debian's Chromium under Playwright), against ``botkit run``
started through the installed executable with the web widget, the desk, the console, the example
knowledge base and the tiny model.

A visitor on the shop's site asks a question in the widget and reads the answer with its source, then asks
for a person; an agent, logged into the console in a second browser context and watching the queue, sees
the conversation appear without reloading, opens it, answers, and the visitor reads the answer; the agent
resolves, the visitor rates, and the dashboard's figures move accordingly. Screenshots of the widget and
the console go to build/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.console.stack import AGENT, DeskStack
from tests.web.browser import CHROMIUM_ARGS, SCREENSHOTS, ShopSite, chromium_path

QUESTION = "How long do I have to return an item?"
ANSWER_START = "You can return most items within 60 days of delivery"
AGENT_REPLY = "Hi, I'm Agnes. I've sent you a prepaid return label by email."
SLOW = 90_000  # ms: the first question loads the embedding model in a cold process on a busy machine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site() -> Iterator[ShopSite]:
    with ShopSite() as running:
        yield running


@pytest.fixture(scope="module")
def stack(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory, site: ShopSite
) -> Iterator[DeskStack]:
    desk = DeskStack(tmp_path_factory.mktemp("desk-project"), tiny_model_dir, site.origin)
    desk.prepare()
    desk.start()
    try:
        yield desk
    finally:
        code, log = desk.stop()
        assert code == 0, log
        assert "Traceback" not in log, log
        assert f"console running at {desk.console_url}/" in log


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def visitor_page(browser: Browser, site: ShopSite, stack: DeskStack) -> Page:
    site.pages["/"] = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Tea shop</title></head>
<body style="font-family: sans-serif; margin: 2rem"><h1>The tea shop</h1>
<p>Loose-leaf teas, teapots and cups, shipped in two days.</p>
<script src="{stack.widget_url}widget.js" data-bot="Tea shop" data-lang="en" defer></script></body></html>"""
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    page.goto(site.origin + "/")
    return page


def agent_context(browser: Browser, stack: DeskStack) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    page = context.new_page()
    page.goto(stack.console_url + "/")
    expect(page).to_have_url(f"{stack.console_url}/login?next=%2F")
    page.get_by_label("Name").fill(AGENT[0])
    page.get_by_label("Password").fill(AGENT[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    return context, page


def test_a_visitor_is_answered_handed_to_an_agent_answered_and_rates(
    browser: Browser, site: ShopSite, stack: DeskStack
) -> None:
    agent_ctx, agent = agent_context(browser, stack)
    agent.goto(stack.console_url + "/dashboard?days=1")
    handoffs_before = int(agent.locator("#fig-handoffs").inner_text())
    ratings_before = agent.locator("#fig-csat").inner_text()
    agent.goto(stack.console_url + "/")
    expect(agent.locator("#waiting-h")).to_have_text("Waiting for a person (0)")
    expect(agent.locator("body.is-live")).to_have_count(1)  # the event stream is open

    visitor = visitor_page(browser, site, stack)
    visitor.get_by_role("button", name="Open chat").click()
    box = visitor.get_by_role("textbox", name="Type your message")
    box.fill(QUESTION)
    box.press("Enter")
    answer = visitor.locator(".from-bot .text").last
    expect(answer).to_contain_text(ANSWER_START, timeout=SLOW)
    expect(answer).to_contain_text("Source: faq.csv")
    visitor.screenshot(path=str(SCREENSHOTS / "console-e2e-widget-answer.png"))

    box.fill("talk to a human")
    box.press("Enter")
    expect(visitor.locator(".from-bot .text").last).to_contain_text("number 1 in the queue", timeout=30_000)

    # The agent's queue grows without a reload (Server-Sent Events).
    row = agent.locator("#waiting tr.ticket")
    expect(row).to_have_count(1, timeout=15_000)
    expect(row).to_contain_text(QUESTION)
    agent.screenshot(path=str(SCREENSHOTS / "console-queue.png"))
    row.get_by_role("link").click()
    expect(agent.locator("#transcript")).to_contain_text(QUESTION)
    expect(agent.locator("#transcript")).to_contain_text(ANSWER_START)
    expect(agent.locator(".sources")).to_contain_text("faq.csv")

    visitor.get_by_role("textbox", name="Type your message").fill("Is anyone there? I need a return label.")
    visitor.get_by_role("textbox", name="Type your message").press("Enter")
    expect(agent.locator("#transcript")).to_contain_text("I need a return label.", timeout=15_000)

    agent.get_by_label("Reply to the user").fill(AGENT_REPLY)
    agent.get_by_role("button", name="Send").click()
    expect(agent.locator(".notice")).to_have_text("Done.")
    expect(visitor.locator(".from-bot .text").last).to_have_text(AGENT_REPLY, timeout=15_000)
    expect(agent.locator("#ticket-assignee")).to_have_text(AGENT[0])
    agent.screenshot(path=str(SCREENSHOTS / "console-conversation.png"), full_page=True)

    agent.get_by_role("button", name="Resolve").click()
    expect(agent.locator("#ticket-status")).to_have_text("resolved")
    expect(visitor.locator(".from-bot .text").last).to_contain_text("resolved", timeout=15_000)
    visitor.get_by_role("button", name="5", exact=True).click()
    expect(visitor.locator(".from-bot .text").last).to_contain_text("5", timeout=15_000)
    visitor.screenshot(path=str(SCREENSHOTS / "console-e2e-widget.png"))

    agent.goto(stack.console_url + "/dashboard?days=1")
    expect(agent.locator("#fig-handoffs")).to_have_text(str(handoffs_before + 1))
    assert ratings_before.startswith("\u2013")
    expect(agent.locator("#fig-csat")).to_contain_text("5.00")
    expect(agent.locator("#fig-first-reply")).not_to_have_text("\u2013")
    expect(agent.locator("#chart-csat")).to_be_visible()
    agent.screenshot(path=str(SCREENSHOTS / "console-dashboard.png"), full_page=True)
    agent_ctx.close()
    visitor.context.close()
