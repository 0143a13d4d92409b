"""The pure Discord conversions: addressing rules, interactions, components, splitting and escaping."""

from __future__ import annotations

from typing import Any

import pytest

from botkit.adapters.discord import format as fmt
from botkit.message import Button, Event, Message

BOT = "725161345627979808"


def payload(content: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "1",
        "type": 0,
        "channel_id": "10",
        "guild_id": "20",
        "content": content,
        "author": {"id": "30", "username": "alice"},
        "mentions": [],
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("content", "extra", "text", "addressed"),
    [
        (f"<@{BOT}> hi", {}, "hi", True),
        (f"<@!{BOT}> hi", {}, "hi", True),  # legacy nickname mention
        (f"hi <@{BOT}>", {"mentions": [{"id": BOT}]}, f"hi <@{BOT}>", True),  # mid-text: kept
        ("!help me", {}, "/help me", True),
        ("! help", {}, "/help", True),
        ("!!!", {}, "!!!", False),
        ("plain", {}, "plain", False),
        ("plain", {"referenced_message": {"author": {"id": BOT}}}, "plain", True),
        ("dm text", {"guild_id": None}, "dm text", True),
    ],
)
def test_addressing(content: str, extra: dict[str, Any], text: str, addressed: bool) -> None:
    message = fmt.message_from_payload(payload(content, **extra), bot_id=BOT, prefix="!")
    assert message is not None
    assert (message.text, message.addressed) == (text, addressed)


@pytest.mark.parametrize(
    "extra",
    [
        {"author": {"id": "31", "bot": True}},
        {"webhook_id": "5"},
        {"type": 7},  # member join
        {"author": None},
    ],
)
def test_bots_webhooks_and_system_messages_are_dropped(extra: dict[str, Any]) -> None:
    assert fmt.message_from_payload(payload(f"<@{BOT}> hi", **extra), bot_id=BOT, prefix="!") is None


def test_group_mode_all_addresses_everything() -> None:
    message = fmt.message_from_payload(payload("plain"), bot_id=BOT, prefix="!", group_mode="all")
    assert message is not None
    assert message.addressed


def test_attachment_kinds() -> None:
    files = [
        {"id": "1", "filename": "a.png", "content_type": "image/png", "url": "u", "size": 3},
        {"id": "2", "filename": "b.ogg", "content_type": "audio/ogg", "url": "u", "size": 3},
        {"id": "3", "filename": "c.bin", "url": "u", "size": 3},
    ]
    message = fmt.message_from_payload(payload("", attachments=files), bot_id=BOT, prefix="!")
    assert message is not None
    assert [(a.kind, a.name) for a in message.attachments] == [
        ("image", "a.png"),
        ("audio", "b.ogg"),
        ("file", "c.bin"),
    ]


def test_interactions() -> None:
    user = {"user": {"id": "9", "username": "bob"}, "type": 3, "id": "7", "channel_id": "10", "token": "t"}
    select = fmt.interaction_from_payload(
        {**user, "data": {"custom_id": "s", "component_type": 3, "values": ["a", "b"]}}
    )
    assert isinstance(select, Event)
    assert (select.kind, select.data, select.author.id, select.conversation.kind) == (
        "select",
        "a,b",
        "9",
        "private",
    )
    assert fmt.interaction_from_payload({**user, "type": 4, "data": {"name": "x"}}) is None  # autocomplete
    assert fmt.interaction_from_payload({**user, "type": 1}) is None
    spaced = {"name": "find", "options": [{"type": 3, "name": "what", "value": "two words"}]}
    command = fmt.interaction_from_payload({**user, "type": 2, "data": spaced})
    assert isinstance(command, Message)
    assert command.text == "/find 'two words'"  # quoted, so botkit parses it as one argument


def test_components_respect_discord_limits() -> None:
    rows = [[Button(f"b{i}", f"d{i}") for i in range(7)] for _ in range(6)]
    rows[0][0] = Button("docs", url="https://example.org")
    rows[0][1] = Button("x" * 90, "y" * 120)
    built = fmt.components(rows)
    assert len(built) == 5
    assert all(len(row["components"]) == 5 for row in built)
    link, long = built[0]["components"][:2]
    assert link == {"type": 2, "style": 5, "label": "docs", "url": "https://example.org"}
    assert (len(long["label"]), len(long["custom_id"])) == (80, 100)


def test_escaped_markup_is_split_within_the_limit() -> None:
    text = " ".join(["*_~|`>"] * 800)  # every character escapes, doubling the length
    parts = fmt.chunks(text)
    assert len(parts) > 2
    assert all(len(p) <= fmt.MESSAGE_LIMIT for p in parts)
    assert "".join(parts).replace("\\", "").replace(" ", "") == text.replace(" ", "")


def test_code_blocks_survive_splitting_when_markdown_is_kept() -> None:
    code = "```python\n" + "\n".join(f"print({i})" for i in range(400)) + "\n```"
    parts = fmt.chunks(code, escape_markdown=False)
    assert len(parts) > 1
    assert all(p.count("```") % 2 == 0 for p in parts)  # each part opens and closes its block
    assert all(p.startswith("```python") for p in parts)


def test_mentions_are_defused_even_without_escaping() -> None:
    assert fmt.render("@everyone hi", escape_markdown=False) == "@\u200beveryone hi"
    assert fmt.message_body("x")["allowed_mentions"] == {"parse": []}
