"""Chat-format records: what a dialogue is, how one is checked and written, and the error bad data raises.

A dialogue is ``{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}``, one per line
of a JSONL file. The importers produce these records and the corpora read them back, so both build on this
module and neither on the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROLES = ("system", "user", "assistant")

Dialogue = dict[str, list[dict[str, str]]]


class DataError(ValueError):
    """Unusable input data; the message names the file (and line, where there is one)."""


def validate_dialogue(record: Any) -> list[dict[str, str]]:
    """Check one chat-format record and return its messages.

    Raises:
        DataError: not ``{"messages": [...]}``, an unknown role, non-string content, or no assistant turn.
    """
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        raise DataError('expected an object {"messages": [...]}')
    messages = []
    for i, m in enumerate(record["messages"]):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise DataError(f"message {i} must be {{'role': system|user|assistant, 'content': str}}")
        messages.append({"role": m["role"], "content": m["content"]})
    if not any(m["role"] == "assistant" for m in messages):
        raise DataError("dialogue has no assistant turn")
    return messages


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSONL (UTF-8, one per line); returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n
