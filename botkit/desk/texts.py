"""What the desk says to users, in English and Chinese, and the whole-message intents that ask for a person.

The desk keeps its own texts rather than botkit's gettext catalog: a support desk is deployed per
company and its wording is part of the preset (the rules in :mod:`botkit.safety` do the same). A text
is chosen by the user's language where the platform tells it, else by the bot's configured language;
any other language gets English.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

TEXTS: dict[str, dict[str, str]] = {
    "not_sure": {
        "en": "I'm not sure about that, and I'd rather not guess.",
        "zh": "这个问题我不太确定，不想乱猜。",
    },
    "offer_button": {
        "en": "A person from our team can help: press the button below.",
        "zh": "我们的同事可以帮您：请点下面的按钮。",
    },
    "offer_text": {
        "en": "A person from our team can help: reply 'agent'.",
        "zh": "我们的同事可以帮您：请回复“人工客服”。",
    },
    "talk_button": {"en": "Talk to a person", "zh": "转人工客服"},
    "unhelpful_button": {"en": "Not helpful", "zh": "没有帮助"},
    "unhelpful_noted": {
        "en": "Sorry that didn't help. Ask me another way, or talk to a person.",
        "zh": "抱歉没能帮到您。您可以换个问法，或者转人工客服。",
    },
    "source": {"en": "Source: {label}", "zh": "来源：{label}"},
    "handed_off": {
        "en": "I've asked a person from our team to take over; they will answer here. "
        "You are number {position} in the queue. Until then I'll stay quiet.",
        "zh": "我已请同事来接手，他们会在这里回复您。您在队列中排第 {position} 位。在此之前我不再回复。",
    },
    "already_waiting": {
        "en": "You're already in the queue for a person (number {position}); they will answer here.",
        "zh": "您已在人工客服队列中（第 {position} 位），同事会在这里回复您。",
    },
    "with_agent": {
        "en": "A person from our team is already looking after this conversation.",
        "zh": "已经有同事在处理这个对话了。",
    },
    "resolved": {
        "en": "Our team marked your question as resolved. I'm back to answer anything else.",
        "zh": "同事已将您的问题标记为已解决。如有其他问题，可以继续问我。",
    },
    "rate_buttons": {
        "en": "How did the person help you? Rate it from 1 (poor) to 5 (great):",
        "zh": "请为这次人工服务打分，1（很差）到 5（很好）：",
    },
    "rate_text": {
        "en": "How did the person help you? Reply with a number from 1 (poor) to 5 (great).",
        "zh": "请为这次人工服务打分：回复 1（很差）到 5（很好）之间的数字。",
    },
    "rated": {"en": "Thank you for rating us {rating}/5.", "zh": "感谢您的评分：{rating}/5。"},
    "query_too_long": {
        "en": "That question is too long for me ({length} characters; at most {limit}). Please shorten it.",
        "zh": "这个问题太长了（{length} 个字符，最多 {limit} 个），请精简后再问。",
    },
}

# Whole messages that ask for a person (compared after folding case, width and trailing punctuation).
HANDOFF_INTENTS = frozenset(
    {
        "agent",
        "an agent",
        "human",
        "a human",
        "person",
        "a person",
        "operator",
        "talk to a human",
        "talk to a person",
        "talk to an agent",
        "talk to someone",
        "speak to a human",
        "speak to a person",
        "speak to an agent",
        "i want to talk to a human",
        "i want to talk to a person",
        "i want a human",
        "real person",
        "human please",
        "agent please",
        "customer service",
        "人工",
        "人工客服",
        "转人工",
        "转人工客服",
        "找人工",
        "真人",
        "客服",
        "我要人工",
        "我要人工客服",
    }
)

# Whole messages that mark the last answer as not helpful (the button's words, typed).
UNHELPFUL_INTENTS = frozenset(
    {"not helpful", "that didn't help", "that did not help", "没有帮助", "没帮助", "没用"}
)

_TRAILING = re.compile(r"[\s.!?。~,]+$")  # after NFKC folding: full-width punctuation is ASCII


def fold(text: str) -> str:
    """Lower case, full-width folded, inner spaces collapsed, trailing punctuation gone."""
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    return _TRAILING.sub("", " ".join(folded.split()))


def asks_for_person(text: str) -> bool:
    """Whether the whole message asks for a person ("talk to a human", "agent", "转人工", ...)."""
    return fold(text) in HANDOFF_INTENTS


def says_unhelpful(text: str) -> bool:
    """Whether the whole message says the last answer did not help ("not helpful", "没有帮助")."""
    return fold(text) in UNHELPFUL_INTENTS


def language_of(*preferred: str | None) -> str:
    """``zh`` when the first given tag is Chinese, else ``en``."""
    for tag in preferred:
        if tag:
            return "zh" if tag.lower().replace("_", "-").split("-")[0] == "zh" else "en"
    return "en"


def say(key: str, language: str, **params: Any) -> str:
    """The text ``key`` in ``language`` (``en`` or ``zh``), fields filled from ``params``."""
    texts = TEXTS[key]
    return texts.get(language, texts["en"]).format(**params)


def parse_rating(text: str) -> int | None:
    """A rating typed as a message ("4", a full-width 4, "4/5", "4 stars"): 1..5, or None."""
    found = re.fullmatch(r"([1-5])(?:\s*/\s*5|\s*stars?|\s*分|\s*星)?", fold(text))
    return int(found.group(1)) if found else None
