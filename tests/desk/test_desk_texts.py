"""What counts as asking for a person, a typed rating, the user's language, and citations per platform."""

from __future__ import annotations

import pytest

from botkit.desk.answers import cited, fallback_sources
from botkit.desk.texts import asks_for_person, language_of, parse_rating, say
from botkit.kb.types import Hit, KBAnswer, Source

FULL_WIDTH_HUMAN = "\uff48\uff55\uff4d\uff41\uff4e"  # "human" as a Chinese keyboard may type it


@pytest.mark.parametrize(
    "text",
    ["agent", "Agent!", "talk to a human", "  Talk  to a PERSON. ", "人工客服", "转人工！", FULL_WIDTH_HUMAN],
)
def test_whole_messages_that_ask_for_a_person(text: str) -> None:
    assert asks_for_person(text)


@pytest.mark.parametrize(
    "text", ["is the agent fee refundable?", "human resources", "agents", "人工智能", ""]
)
def test_messages_that_merely_mention_it(text: str) -> None:
    assert not asks_for_person(text)


@pytest.mark.parametrize(
    ("text", "rating"), [("5", 5), ("\uff14", 4), ("3/5", 3), ("2 stars", 2), ("1分", 1)]
)
def test_typed_ratings(text: str, rating: int) -> None:
    assert parse_rating(text) == rating


@pytest.mark.parametrize("text", ["0", "6", "45", "five", "5 please", ""])
def test_not_ratings(text: str) -> None:
    assert parse_rating(text) is None


def test_language_and_texts() -> None:
    assert language_of(None, "zh") == "zh"
    assert language_of("zh-hans", "en") == "zh"
    assert language_of("de", "zh") == "en"  # German users get English, not the bot's Chinese
    assert say("handed_off", "zh", position=2).count("2") == 1
    assert say("handed_off", "fr", position=2).startswith("I've asked a person")


RETURNS = Source("policies/returns.md", "Refunds > Damaged items")
STORES = Source("pages/store-locations.html", "Portland", "https://shop.example/stores")


def test_citations_link_where_the_platform_can_else_a_footnote() -> None:
    answer = KBAnswer("passage", "Refunds take 5 days.", 0.9, (RETURNS, STORES, RETURNS))
    text, buttons = cited(answer, "telegram", "en")
    assert text == "Refunds take 5 days.\n\nSource: policies/returns.md > Refunds > Damaged items"
    assert [(b.label, b.url) for row in buttons for b in row] == [
        ("\U0001f4c4 pages/store-locations.html > Portland", "https://shop.example/stores")
    ]
    text, buttons = cited(answer, "console", "zh")
    assert buttons == []
    assert text.splitlines()[-2:] == [
        "来源：policies/returns.md > Refunds > Damaged items",
        "来源：pages/store-locations.html > Portland (https://shop.example/stores)",
    ]


def test_an_unsure_answer_passes_on_what_was_retrieved() -> None:
    hits = [Hit(1, "x", RETURNS, 0.2), Hit(2, "y", RETURNS, 0.1), Hit(3, "z", STORES, 0.05)]
    assert list(fallback_sources(KBAnswer("unsure", None, 0.2, (), hits))) == [RETURNS, STORES]
