"""Every parser of outside input, fed mutated real payloads: each yields a message, an ignore, or its
documented result, never another exception.

Seeds are the adapter fixtures (tests/adapters/fixtures/*.json, real payload shapes of each platform).
Each example takes one and changes it: a value anywhere in the tree is replaced by a JSON value of another
kind (text for an object, a list for a number, a huge or negative number, an empty string), or a key is
dropped. That is what a buggy client, a new platform version or an attacker on an unsigned port sends.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botkit.adapters.discord.format import ack_type, interaction_from_payload, message_from_payload
from botkit.adapters.slack.events import EventRules, action_to_event, command_to_message, event_to_message
from botkit.adapters.telegram.parse import BotIdentity, ParseOptions, Skip, parse_update
from botkit.message import CommandCall, Event, Message, parse_command

FIXTURES = Path(__file__).parent / "fixtures"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "/", "/start@", "@", "<@>", "\u0000", "1e999", "-1", "🇫🇷", "<|im_end|>"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def seeds(platform: str) -> list[Any]:
    return [
        case["payload"] for case in json.loads((FIXTURES / f"{platform}.json").read_text(encoding="utf-8"))
    ]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, platform: str) -> Any:
    payload = copy.deepcopy(draw(st.sampled_from(seeds(platform))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(payload)
        path = draw(st.sampled_from(paths))
        if not path:
            payload = draw(JSON) if draw(st.integers(0, 9)) == 0 else payload
            continue
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
    return payload


@FUZZ
@given(update=mutated("telegram"))
def test_telegram_updates(update: Any) -> None:
    if not isinstance(update, dict):
        return  # the webhook answers 400 before parsing (tests/adapters/test_telegram_webhook.py)
    parsed = parse_update(update, BotIdentity(id=42, username="botkit_bot"), ParseOptions())
    assert isinstance(parsed, Message | Event | Skip)


@FUZZ
@given(body=mutated("slack"))
def test_slack_events_commands_and_actions(body: Any) -> None:
    if not isinstance(body, dict):
        return  # refused as not JSON objects by bolt's request parsing
    rules = EventRules(bot_user_ids=frozenset({"UBOT"}), group_mode="all", edited_messages="handle")
    assert isinstance(event_to_message(body, rules), Message | None)
    assert isinstance(command_to_message(body), Message | None)
    assert isinstance(action_to_event(body), Event | None)


@FUZZ
@given(data=mutated("discord"))
def test_discord_gateway_payloads_and_interactions(data: Any) -> None:
    if not isinstance(data, dict):
        return  # discord.py hands botkit only JSON objects; the HTTP endpoint answers 400 otherwise
    inner = data.get("d") if isinstance(data.get("d"), dict) else data
    message = message_from_payload(inner, bot_id="42", prefix="!", group_mode="all")
    assert isinstance(message, Message | None)
    assert isinstance(interaction_from_payload(inner), Message | Event | None)
    assert ack_type(inner) in (None, 1, 4, 5, 6, 9)


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(max_size=200)
    | st.builds(lambda a, b: f"/{a} {b}", st.text(max_size=20), st.text(max_size=60))
)
def test_command_arguments(text: str) -> None:
    parsed = parse_command(text)
    assert parsed is None or isinstance(parsed, CommandCall)
