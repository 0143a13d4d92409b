"""Knowledge-base answers as chat replies: the text, its citations as the platform can show them.

Where a source has a URL and the platform has buttons, the citation is a link button (every platform
botkit serves renders those as links); otherwise it is a footnote line, "Source: policies/returns.md >
Refunds", with the URL after it when there is one (the chat clients turn a bare URL into a link).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from botkit.desk.agents import has_buttons
from botkit.desk.texts import say
from botkit.kb.types import KBAnswer, Source
from botkit.message import Button

MAX_CITATIONS = 3


def unique_sources(sources: Iterable[Source], limit: int = MAX_CITATIONS) -> list[Source]:
    """``sources`` without repeats of the same label, at most ``limit`` of them, in order."""
    seen: dict[str, Source] = {}
    for source in sources:
        seen.setdefault(source.label(), source)
    return list(seen.values())[:limit]


def cited(answer: KBAnswer, platform: str, language: str) -> tuple[str, list[list[Button]]]:
    """The reply text and link-button rows for a sure answer on ``platform``."""
    lines = [answer.text or ""]
    footnotes: list[str] = []
    buttons: list[list[Button]] = []
    for source in unique_sources(answer.sources):
        if source.url and has_buttons(platform):
            buttons.append([Button("\U0001f4c4 " + source.label(), url=source.url)])
        else:
            label = f"{source.label()} ({source.url})" if source.url else source.label()
            footnotes.append(say("source", language, label=label))
    if footnotes:
        lines += ["", *footnotes]
    return "\n".join(lines).strip(), buttons


def fallback_sources(answer: KBAnswer, limit: int = MAX_CITATIONS) -> Sequence[Source]:
    """What the bot retrieved for ``answer``: its sources, else those of its best hits (for an unsure one)."""
    if answer.sources:
        return unique_sources(answer.sources, limit)
    return unique_sources((hit.source for hit in answer.hits), limit)
