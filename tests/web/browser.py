"""The browser tests' parts: Debian's Chromium under Playwright, and the shop bot's widget server running in
a thread of its own (Playwright's sync API drives the browser from the test's thread)."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from botkit.adapters.web import WebAdapter
from botkit.app import Bot
from tests.web.support import ShopPlugin, web_settings

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def chromium_path() -> str:
    """Debian's Chromium; a missing one fails the test with how to install it (never a skip)."""
    if CHROMIUM.is_file():
        return str(CHROMIUM)
    found = shutil.which("chromium")
    if found:
        return found
    raise RuntimeError(
        "the web widget's browser tests need Debian's Chromium at /usr/bin/chromium: "
        "install it with `sudo apt-get install -y chromium` (.ci/run does this when apt is usable); "
        "Playwright's own browser download is not used"
    )


class ServerThread:
    """The shop bot behind a :class:`WebAdapter`, served from its own thread and event loop, and the site
    whose pages embed it (allowed to)."""

    def __init__(self, site: ShopSite) -> None:
        self.site = site
        self._settings = {"allowed_origins": [site.origin]}
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self.url = ""
        self.shop: ShopPlugin | None = None
        self.bot: Bot | None = None

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the widget server did not start within 30 s")
        if self._failure is not None:
            raise RuntimeError("the widget server failed to start") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the server's event loop and return its result (from the test's thread)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)

    async def _main(self) -> None:
        try:
            self.shop = ShopPlugin()
            self.bot = bot = Bot([self.shop])
            adapter = WebAdapter(web_settings(**self._settings), bot_name="Shop")
            bot.attach(adapter)
            await bot.start()
            await adapter.start(bot)
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            raise
        self.url = adapter.url
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await adapter.stop()
            await bot.stop()


class ShopSite:
    """Another site on this machine (``http://localhost:<port>``, the chat server being on 127.0.0.1) that
    serves the pages a test puts in :attr:`pages`: a real origin of its own in the loopback address
    space, as Chromium requires of a page that loads scripts from loopback."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ShopSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
