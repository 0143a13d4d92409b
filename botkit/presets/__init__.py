"""Presets: a persona and safety rules for one of the design's uses, each a partial ``botkit.toml``.

The files beside this module (``customer-service.toml``, ``medical.toml``...) are read from the installed
package; ``botkit init DIR --preset NAME`` merges one into the starter config with :func:`merge_config`,
keeping both files' comments. ``example_kb/`` holds the example shop's knowledge base that the
customer-service preset copies into a new project.
"""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

SUFFIX = ".toml"
EXAMPLE_KB = "example_kb"
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*[A-Za-z0-9_\"'-]+\s*=")


class UnknownPresetError(ValueError):
    """No preset has that name; the message lists those there are."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no preset named {name!r}; the presets are: {', '.join(names())}")
        self.name = name


def _folder() -> Traversable:
    return files(__name__)


def names() -> list[str]:
    """The presets shipped, sorted by name."""
    return sorted(
        entry.name.removesuffix(SUFFIX)
        for entry in _folder().iterdir()
        if entry.is_file() and entry.name.endswith(SUFFIX)
    )


def text(name: str) -> str:
    """The preset's TOML text, comments included.

    Raises:
        UnknownPresetError: no preset has that name.
    """
    if name not in names():
        raise UnknownPresetError(name)
    return _folder().joinpath(name + SUFFIX).read_text(encoding="utf-8")


def values(name: str) -> dict[str, Any]:
    """The preset's settings as a dict (the shape ``Settings.model_validate`` takes)."""
    return tomllib.loads(text(name))


def summary(name: str) -> str:
    """The preset's one-line description: the first line of its leading comment."""
    for line in text(name).splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def example_kb() -> Traversable:
    """The example shop's knowledge base folder, from the installed package."""
    return _folder().joinpath(EXAMPLE_KB)


def merge_config(base: str, preset: str, *, note: str = "") -> str:
    """``preset`` (a TOML text of tables) merged into ``base`` (a whole config), comments kept.

    A table the preset shares with ``base`` replaces base's table in place; the preset's other tables are
    appended in its own order; ``note`` becomes a comment line under base's first comment block. The
    result is checked: it must read as ``base``'s values with ``preset``'s over them, key by key.

    Raises:
        ValueError: the preset sets top-level keys (they would land in the wrong table), or the merged
            text does not read as the merged values (a table of ``base`` lost keys the preset did not set).
    """
    base_head, base_tables = _split(base)
    preset_head, preset_tables = _split(preset)
    if any(_KEY.match(line) for line in preset_head):
        raise ValueError("a preset holds tables only: put its keys under a [table] header")
    replaced = {header: lines for header, lines in preset_tables if header in dict(base_tables)}
    merged_tables = [(header, replaced.get(header, lines)) for header, lines in base_tables]
    merged_tables += [(header, lines) for header, lines in preset_tables if header not in replaced]
    intro = _leading_comment(base_head)
    lines = [*base_head[:intro], *(["#", f"# {note}"] if note else []), *base_head[intro:]]
    for _header, table in merged_tables:
        if lines and lines[-1].strip():
            lines.append("")  # a blank line between tables, also where base's last one had none
        lines += table
    merged = "\n".join(lines).rstrip("\n") + "\n"
    expected = _deep_merge(tomllib.loads(base), tomllib.loads(preset))
    if tomllib.loads(merged) != expected:
        raise ValueError("the preset's tables do not merge into the config text without losing keys")
    return merged


def _split(config: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Lines before the first table header, and each table as (its header line, its lines).

    A table's lines run to the next table; comment lines right above a header (no blank line between)
    belong to that header's table, so that a comment introducing a table moves with it.
    """
    lines = config.splitlines()
    starts = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    cuts: list[int] = []
    for start in starts:
        cut = start
        while cut > 0 and lines[cut - 1].lstrip().startswith("#"):
            cut -= 1
        cuts.append(max(cut, cuts[-1] + 1 if cuts else 0))
    head = lines[: cuts[0]] if cuts else lines
    tables = [
        (lines[start].strip(), lines[cut:end])
        for cut, start, end in zip(cuts, starts, [*cuts[1:], len(lines)], strict=True)
    ]
    return head, tables


def _leading_comment(head: list[str]) -> int:
    """Where the first comment block of ``head`` ends."""
    end = 0
    while end < len(head) and head[end].startswith("#"):
        end += 1
    return end


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        merged[key] = (
            _deep_merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
        )
    return merged
