"""The rules of ``[safety]`` compiled for matching, and the choice of a rule text's language.

Matching works on a normalised copy of the message: Unicode NFKC (full-width Latin letters read as
plain ones, compatibility ideographs as their common forms), case-folded, runs of white space as one
space. A word or phrase from the config is then looked for

- at word boundaries where it begins or ends with a letter or digit of an alphabetic script, so that
  "kill myself" does not fire on "skill myself" and "suicide" not on "suicidesque";
- as a plain substring where it begins or ends with a Han, kana or Hangul character: Chinese is written
  without spaces, so a word boundary would never be found inside a sentence.

Phrases in the rule's ``ignore`` list are blanked out of the message first: a rule listing "suicide" and
ignoring "suicide squad" stays quiet on "Suicide Squad was fun". Rules list phrases that mean danger
("kill myself", "want to die") rather than single verbs ("kill", "die"), which is how "I killed it at the
gym" passes untouched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from botkit.config import KeywordRule

_SPACE = re.compile(r"\s+")
# Scripts written without spaces between words: Han (with extensions and compatibility forms), kana, Hangul.
_UNSPACED = re.compile(r"[\u2e80-\u2fdf\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")


def normalise(text: str) -> str:
    """``text`` as rules see it: NFKC, case-folded, white space collapsed to single spaces."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def word_pattern(word: str) -> str:
    """A regex for ``word`` (normalised here): whole words for alphabetic scripts, a substring for Chinese.

    Inner white space matches any run of it, so "kill  myself" and a line break between the two match too.
    """
    normal = normalise(word)
    body = r"\s+".join(re.escape(part) for part in normal.split(" "))
    head = "" if _UNSPACED.match(normal[0]) or not normal[0].isalnum() else r"(?<!\w)"
    tail = "" if _UNSPACED.match(normal[-1]) or not normal[-1].isalnum() else r"(?!\w)"
    return f"{head}{body}{tail}"


@dataclass(frozen=True)
class Matcher:
    """One rule's words and patterns as a single regex, and its ignored phrases as another."""

    find: re.Pattern[str] | None
    ignored: re.Pattern[str] | None

    @classmethod
    def of(cls, rule: KeywordRule) -> Matcher:
        """Compile ``rule`` (its regexes were checked when the config loaded)."""
        return cls(_alternatives([*map(word_pattern, rule.words), *rule.patterns]), _ignored(rule.ignore))

    def search(self, normal_text: str) -> str | None:
        """What in ``normal_text`` (see :func:`normalise`) triggers the rule, or None."""
        if self.find is None:
            return None
        if self.ignored is not None:
            normal_text = self.ignored.sub(" | ", normal_text)  # a bar, so no new phrase forms across the cut
        found = self.find.search(normal_text)
        return found.group(0) if found else None


def _alternatives(patterns: Iterable[str]) -> re.Pattern[str] | None:
    joined = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(joined, re.IGNORECASE) if joined else None


def _ignored(phrases: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first, so that an ignored phrase inside a longer ignored one does not leave a remnant.
    ordered = sorted(phrases, key=lambda p: len(normalise(p)), reverse=True)
    return _alternatives(word_pattern(p) for p in ordered)


def script_language(text: str) -> str | None:
    """ "zh" for text in Han characters without kana (Japanese has kana), else None: no guess."""
    if _HAN.search(text) and not _KANA.search(text):
        return "zh"
    return None


def pick_text(table: Mapping[str, str], *preferred: str | None) -> str:
    """The entry of ``table`` (language tag -> text) for the first of ``preferred`` it has.

    A tag matches an entry by its longest prefix ("zh-CN" and "zh_Hans" choose ``zh``); after
    ``preferred`` come English and then the table's first entry, so a rule text is never lost.

    Raises:
        ValueError: the table is empty.
    """
    if not table:
        raise ValueError("a rule text needs at least one language")
    known = {_tag(lang): text for lang, text in table.items()}
    for tag in (*preferred, "en"):
        if not tag:
            continue
        parts = _tag(tag).split("-")
        for end in range(len(parts), 0, -1):
            text = known.get("-".join(parts[:end]))
            if text is not None:
                return text
    return next(iter(table.values()))


def _tag(tag: str) -> str:
    return tag.strip().replace("_", "-").lower()
