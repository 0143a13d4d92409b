"""The widget in a real browser: Debian's Chromium under Playwright, on a page of another site.

The shop's page (``http://localhost:<port>``, a site of its own) embeds the widget with one script tag
pointing at the real widget server on 127.0.0.1, as a site embeds it from the bot's server. What the
visitor sees is checked as they would see it: the bubble opens the panel, the answer grows while it is
written, a button answers, the XSS probe is shown as text and runs nothing, the keyboard alone does it
all, and a phone-sized screen gets the whole panel. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect, sync_playwright

from botkit.message import Reply
from tests.web import browser as browser_parts
from tests.web.browser import CHROMIUM_ARGS, SCREENSHOTS, ServerThread, ShopSite, chromium_path

PROBE = "<img src=x onerror=alert(1)>"
# Collects every text the newest bot message shows, to see a reply grow rather than appear whole.
WATCH_GROWTH = """() => {
  const log = document.querySelector('#botkit-chat').shadowRoot.querySelector('.log');
  window.botTexts = [];
  new MutationObserver(() => {
    const texts = log.querySelectorAll('.from-bot .text');
    if (texts.length) window.botTexts.push(texts[texts.length - 1].textContent);
  }).observe(log, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the browser tests."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site() -> Iterator[ShopSite]:
    with ShopSite() as running:
        yield running


@pytest.fixture(scope="module")
def server(site: ShopSite) -> Iterator[ServerThread]:
    with ServerThread(site) as running:
        yield running


def shop_page(
    browser: Browser,
    server: ServerThread,
    *,
    viewport: tuple[int, int],
    prepare: Callable[[Page], object] | None = None,
    **data: str,
) -> Page:
    """A page of the shop's site with the widget's script tag (``data`` becomes its data-* attributes)."""
    attributes = " ".join(f'data-{k.replace("_", "-")}="{html.escape(v)}"' for k, v in data.items())
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Tea shop</title></head>
<body style="font-family: sans-serif; margin: 2rem"><h1>The tea shop</h1>
<p>Loose-leaf teas, shipped in two days. <a href="/teas">See the teas</a></p>
<script src="{server.url}widget.js" data-bot="Shop" {attributes} defer></script></body></html>"""
    path = f"/page-{len(server.site.pages)}"
    server.site.pages[path] = body
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    if prepare is not None:  # before the page loads: routes see only sockets opened after them
        prepare(page)
    page.goto(server.site.origin + path)
    return page


def test_a_visitor_chats_through_the_widget_on_another_site(browser: Browser, server: ServerThread) -> None:
    page = shop_page(browser, server, viewport=(1280, 800), lang="en")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_role("dialog", name="Chat with Shop")).to_be_visible()
    box = page.get_by_role("textbox", name="Type your message")
    expect(box).to_be_focused()  # focus moved into the panel
    page.evaluate(WATCH_GROWTH)

    box.fill("story please")
    box.press("Enter")
    answer = page.locator(".from-bot .text").last
    expect(answer).to_have_text("Once upon a time.")
    grown = [t for t in dict.fromkeys(page.evaluate("window.botTexts")) if t]
    assert grown[:2] == ["Once ", "Once upon "]  # the visitor watched the answer being written

    box.fill("menu")
    box.press("Enter")
    expect(page.get_by_role("link", name="Docs")).to_have_attribute("href", "https://example.com/docs")
    expect(page.get_by_text("Sneaky")).to_have_count(0)  # a javascript: link never reaches the page
    page.get_by_role("button", name="Tea").click()
    expect(page.locator(".from-bot .text").last).to_have_text("You chose drink:tea")
    expect(page.get_by_role("button", name="Coffee")).to_be_disabled()  # one answer per question

    box.fill(PROBE)
    box.press("Enter")
    expect(page.locator(".from-bot .text").last).to_have_text(f"You said: {PROBE}")
    expect(page.locator(".from-visitor .text").last).to_have_text(PROBE)
    page.wait_for_timeout(300)  # time for an injected image to fail and run its onerror
    assert dialogs == []
    assert page.locator("#botkit-chat img").count() == 0  # the probe is text, not an element
    page.screenshot(path=str(SCREENSHOTS / "web-widget-desktop.png"))
    page.context.close()


class FlakyNetwork:
    """The widget's sockets routed through Playwright, so a test can cut them and hold reconnects back."""

    def __init__(self, page: Page) -> None:
        self.down = False
        self._open: list[WebSocketRoute] = []
        page.route_web_socket(re.compile(r"/ws$"), self._route)

    def _route(self, socket: WebSocketRoute) -> None:
        if self.down:
            socket.close(code=4000, reason="network down")
            return
        self._open.append(socket)
        self._open.append(socket.connect_to_server())

    def cut(self) -> None:
        self.down = True
        for side in self._open:
            side.close(code=4000, reason="network down")
        self._open.clear()


def test_after_a_dropped_connection_the_widget_catches_up_and_sends_what_waited(
    browser: Browser, server: ServerThread
) -> None:
    networks: list[FlakyNetwork] = []
    page = shop_page(
        browser, server, viewport=(1024, 700), lang="en", prepare=lambda p: networks.append(FlakyNetwork(p))
    )
    network = networks[0]
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_role("textbox", name="Type your message")
    box.fill("hello")
    box.press("Enter")
    expect(page.locator(".from-bot .text").last).to_have_text("You said: hello")

    network.cut()  # the visitor's train enters a tunnel
    expect(page.get_by_role("status")).to_have_text("Connection lost. Reconnecting…")
    token = page.evaluate(f"localStorage.getItem('botkit-visitor:{server.url.rstrip('/')}')")
    assert server.bot is not None
    server.call(server.bot.send_to(f"web:{token.split('.')[0]}", Reply("Your tea has shipped.")))
    box.fill("are you there?")  # typed while offline: kept, shown as not yet sent
    box.press("Enter")
    expect(page.locator(".from-visitor.pending")).to_have_text("are you there?")

    network.down = False  # out of the tunnel: the next reconnect gets through
    last_bot = page.locator(".from-bot .text").last
    expect(last_bot).to_have_text("You said: are you there?", timeout=15_000)
    expect(page.locator(".from-visitor.pending")).to_have_count(0)
    texts = page.locator(".msg .text").all_text_contents()
    assert texts == [
        "hello",
        "You said: hello",
        "are you there?",
        "Your tea has shipped.",
        "You said: are you there?",
    ]
    assert server.shop is not None
    assert server.shop.handled.count("are you there?") == 1  # resent once it could be: handled once
    page.context.close()


def test_the_keyboard_alone_opens_chats_and_closes(browser: Browser, server: ServerThread) -> None:
    page = shop_page(browser, server, viewport=(1024, 700))
    bubble = page.get_by_role("button", name="Open chat")
    for _ in range(5):  # Tab past the page's own link to the bubble
        page.keyboard.press("Tab")
        if bubble.evaluate("b => b.getRootNode().activeElement === b"):
            break
    expect(bubble).to_be_focused()
    page.keyboard.press("Enter")
    expect(bubble).to_have_attribute("aria-expanded", "true")
    box = page.get_by_role("textbox", name="Type your message")
    expect(box).to_be_focused()
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")  # a new line, not a send
    page.keyboard.type("line two")
    page.keyboard.press("Enter")
    expect(page.locator(".from-bot .text").last).to_have_text("You said: line one\nline two")
    transcript = page.get_by_role("log", name="Conversation")
    expect(transcript).to_have_attribute("aria-live", "polite")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(bubble).to_be_focused()  # back where the visitor was
    expect(bubble).to_have_attribute("aria-expanded", "false")
    page.context.close()


def test_a_phone_gets_the_whole_screen_with_pictures_and_files(
    browser: Browser, server: ServerThread
) -> None:
    page = shop_page(browser, server, viewport=(375, 667), lang="en")
    page.get_by_role("button", name="Open chat").click()
    panel = page.get_by_role("dialog", name="Chat with Shop")
    expect(panel).to_be_visible()
    assert panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
    box = page.get_by_role("textbox", name="Type your message")
    box.fill("story")
    box.press("Enter")
    expect(page.locator(".from-bot .text").last).to_have_text("Once upon a time.")
    box.fill("picture")
    box.press("Enter")
    image = page.get_by_role("img", name="tea.png")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 160  # loaded from the bot's server
    expect(page.get_by_role("link", name="File: notes.svg")).to_be_visible()
    box.fill("menu")
    box.press("Enter")
    expect(page.get_by_role("button", name="Coffee")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "web-widget-phone.png"))
    page.context.close()


def test_the_widget_speaks_chinese_when_asked(browser: Browser, server: ServerThread) -> None:
    page = shop_page(browser, server, viewport=(1024, 700), lang="zh")
    page.get_by_role("button", name="打开聊天").click()
    expect(page.get_by_role("dialog", name="与 Shop 聊天")).to_be_visible()
    box = page.get_by_role("textbox", name="输入消息")
    expect(box).to_have_attribute("placeholder", "输入消息")
    box.fill("你好")
    page.get_by_role("button", name="发送").click()
    expect(page.locator(".from-bot .text").last).to_have_text("You said: 你好")  # the bot's own words
    expect(page.get_by_role("button", name="关闭聊天")).to_be_visible()
    expect(page.get_by_role("log", name="对话记录")).to_be_visible()
    page.context.close()


def test_an_unsigned_identity_is_refused_and_the_widget_says_so(
    browser: Browser, server: ServerThread
) -> None:
    page = shop_page(browser, server, viewport=(1024, 700), user_id="42")
    page.get_by_role("button", name="Open chat").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This chat cannot be opened here: identity refused")
    expect(page.get_by_role("textbox", name="Type your message")).to_be_disabled()
    page.context.close()


def test_the_demo_page_chats_under_its_content_security_policy(
    browser: Browser, server: ServerThread
) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 700})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(server.url)  # the bot server's own page: same origin, so allowed without allowed_origins
    expect(page.get_by_role("heading", name="Shop")).to_be_visible()
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_role("textbox", name="Type your message")
    box.fill("hi from the demo")
    box.press("Enter")
    expect(page.locator(".from-bot .text").last).to_have_text("You said: hi from the demo")
    assert problems == []  # nothing the page's policy refused
    context.close()


def test_without_chromium_the_browser_tests_fail_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser_parts, "CHROMIUM", tmp_path / "no-chromium-here")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"apt-get install -y chromium"):
        browser_parts.chromium_path()
