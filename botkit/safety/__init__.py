"""Safety rules of a preset (``[safety]`` in botkit.toml): a disclaimer, refused topics, handoff and
emergency words, in any number of languages. See :mod:`botkit.safety.middleware` for the order they are
checked in and :mod:`botkit.safety.rules` for how words match (and how false positives are kept out).

Install them on a bot built in code::

    bot = Bot(plugins, middleware=[*default_middleware(settings), *safety_middleware(settings.safety)])
"""

from botkit.safety.middleware import EMERGENCY, HandOff, SafetyMiddleware, safety_middleware
from botkit.safety.rules import Matcher, normalise, pick_text, word_pattern

__all__ = [
    "EMERGENCY",
    "HandOff",
    "Matcher",
    "SafetyMiddleware",
    "normalise",
    "pick_text",
    "safety_middleware",
    "word_pattern",
]
