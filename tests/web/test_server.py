"""The widget server's HTTP side and its start: assets from the package, the demo page, files by link, and
the errors a site owner meets (no secret, a port in use)."""

from __future__ import annotations

import socket

import httpx
import pytest
from pydantic import SecretStr

from botkit.adapters.web import WebAdapter
from botkit.app import Bot
from botkit.config import ConfigError, load_settings
from tests.web.conftest import Served
from tests.web.support import PNG, ChatClient, web_settings


async def test_the_widget_and_a_demo_page_are_served_from_the_package(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.http) as http:
        script = await http.get("/widget.js")
        style = await http.get("/widget.css")
        demo = await http.get("/")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "document.currentScript" in script.text  # the server's address comes from the script's own src
    assert "innerHTML" not in script.text  # text only ever goes in as text
    assert style.headers["content-type"].startswith("text/css")
    assert ".bubble" in style.text
    assert demo.status_code == 200
    assert '<script src="widget.js" data-bot="Shop" defer></script>' in demo.text
    assert "default-src 'self'" in demo.headers["content-security-policy"]


async def test_files_are_links_images_shown_in_place_and_other_types_downloaded(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    await client.hello()
    await client.say("picture")
    reply = await client.wait(lambda f: f["type"] == "message" and f["from"] == "bot")
    image, other = reply["files"]
    assert image["kind"] == "image"
    assert image["name"] == "tea.png"
    assert other["kind"] == "file"  # an SVG can carry script: never shown in place
    async with httpx.AsyncClient(base_url=served.http) as http:
        png = await http.get(image["url"])
        svg = await http.get(other["url"])
        gone = await http.get("files/not-a-token/x.png")
    assert png.content == PNG
    assert png.headers["content-type"] == "image/png"
    assert png.headers["x-content-type-options"] == "nosniff"
    assert svg.headers["content-type"] == "application/octet-stream"
    assert svg.headers["content-disposition"].startswith("attachment")
    assert gone.status_code == 404
    await client.close()


def test_a_missing_or_short_secret_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match=r"set web\.secret \(or BOTKIT_WEB__SECRET\)"):
        WebAdapter.from_settings(load_settings(adapters=["web"]))
    with pytest.raises(ConfigError, match="too short"):
        WebAdapter(web_settings(secret=SecretStr("short")))


async def test_a_port_in_use_fails_start_with_the_address(served: Served) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        adapter = WebAdapter(web_settings(port=port))
        with pytest.raises(OSError, match=f"web: cannot listen on 127.0.0.1:{port}"):
            await adapter.start(Bot())
        await adapter.stop()  # stopping a server that never started is harmless


async def test_stop_closes_open_chats_so_widgets_reconnect(served: Served) -> None:
    client = await ChatClient.open(served.ws)
    await client.hello()
    await served.adapter.stop()
    await client.socket.wait_closed()
    assert client.socket.close_code == 1012  # "service restart": the widget tries again, it does not give up
