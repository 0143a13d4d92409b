"""Reading corpora: plain text and dialogues, streamed, with deterministic train/validation splits.

Plain text comes as ``.txt`` (documents separated by blank lines, or by a lone ``%`` line as in fortune
files) or ``.jsonl`` (one ``{"text": ...}`` per line). Dialogues are JSONL in the chat format
``{"messages": [{"role": ..., "content": ...}, ...]}``. Everything is read line by line so a corpus
larger than memory can be tokenized. The split is by a hash of each record's text, so a record lands on
the same side whatever the file order, the number of files or the machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")
Split = Literal["train", "validation", "all"]


class DataError(ValueError):
    """Unusable input data; the message names the file (and line, where there is one)."""


@dataclass
class DataConfig:
    """Where a stage's data comes from and how it is split.

    Attributes:
        text_files: plain-text corpora (``.txt`` or ``.jsonl`` with a ``text`` field), files or folders.
        dialogue_files: dialogue JSONL files or folders (chat format).
        chatterbot_languages: chatterbot-corpus languages to import as dialogues (``english``, ``chinese``);
            a language listed twice counts twice.
        chatterbot_exclude: chatterbot-corpus categories (file names without ``.yml``) to leave out.
        qa_csv_files: CSV files of question/answer pairs (columns ``question``, ``answer``) to import.
        system_prompt: a system turn put first in imported dialogues (empty = none).
        validation_fraction: share of records held out for validation (by hash, so stable).
        split_seed: salt of the split hash; change it to draw another split.
        on_bad_line: ``"skip"`` logs a malformed JSONL line (file:line) and goes on, ``"error"`` stops.
        min_chars: text documents shorter than this are dropped.
    """

    text_files: list[Path] = field(default_factory=list)
    dialogue_files: list[Path] = field(default_factory=list)
    chatterbot_languages: list[str] = field(default_factory=list)
    chatterbot_exclude: list[str] = field(default_factory=list)
    qa_csv_files: list[Path] = field(default_factory=list)
    system_prompt: str = ""
    validation_fraction: float = 0.05
    split_seed: int = 0
    on_bad_line: Literal["skip", "error"] = "skip"
    min_chars: int = 1


def expand_files(paths: Iterable[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Files named in ``paths``, folders expanded (sorted, so order is stable).

    Raises:
        DataError: a path that does not exist.
    """
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in suffixes))
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"data file not found: {p}")
    return out


def in_split(key: str, split: Split, fraction: float, seed: int) -> bool:
    """Whether a record whose text is ``key`` belongs to ``split``."""
    if split == "all":
        return True
    digest = hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest()
    is_val = int.from_bytes(digest, "big") / 2**64 < fraction
    return is_val if split == "validation" else not is_val


def iter_text(cfg: DataConfig, split: Split = "all") -> Iterator[str]:
    """Stream the text documents of ``cfg.text_files`` that fall in ``split``."""
    for path in expand_files(cfg.text_files, (".txt", ".jsonl")):
        docs = _iter_jsonl_text(path, cfg) if path.suffix == ".jsonl" else _iter_txt(path)
        for doc in docs:
            doc = doc.strip()
            if len(doc) >= cfg.min_chars and in_split(doc, split, cfg.validation_fraction, cfg.split_seed):
                yield doc


def iter_dialogues(cfg: DataConfig, split: Split = "all") -> Iterator[list[dict[str, str]]]:
    """Stream the dialogues of ``cfg.dialogue_files`` that fall in ``split``.

    Raises:
        DataError: a malformed line when ``cfg.on_bad_line == "error"``.
    """
    for messages in _all_dialogues(cfg):
        key = json.dumps(messages, ensure_ascii=False, sort_keys=True)
        if in_split(key, split, cfg.validation_fraction, cfg.split_seed):
            yield messages


def _all_dialogues(cfg: DataConfig) -> Iterator[list[dict[str, str]]]:
    from botkit.training import importers  # here: importers builds on this module

    for path in expand_files(cfg.dialogue_files, (".jsonl",)):
        for lineno, record in _iter_jsonl(path, cfg):
            try:
                yield validate_dialogue(record)
            except DataError as exc:
                _bad_line(cfg, path, lineno, str(exc))
    system = cfg.system_prompt or None
    if cfg.chatterbot_languages:
        for d in importers.iter_chatterbot(cfg.chatterbot_languages, system, cfg.chatterbot_exclude):
            yield d["messages"]
    for path in cfg.qa_csv_files:
        for d in importers.iter_qa_csv(path):
            yield ([{"role": "system", "content": system}] if system else []) + d["messages"]


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


def _bad_line(cfg: DataConfig, path: Path, lineno: int, why: str) -> None:
    msg = f"{path}:{lineno}: {why}"
    if cfg.on_bad_line == "error":
        raise DataError(msg)
    log.warning("skipping malformed line %s", msg)


def _iter_jsonl(path: Path, cfg: DataConfig) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                _bad_line(cfg, path, lineno, f"invalid JSON ({exc.msg})")


def _iter_jsonl_text(path: Path, cfg: DataConfig) -> Iterator[str]:
    for lineno, record in _iter_jsonl(path, cfg):
        if isinstance(record, dict) and isinstance(record.get("text"), str):
            yield record["text"]
        else:
            _bad_line(cfg, path, lineno, 'expected an object {"text": "..."}')


def _iter_txt(path: Path) -> Iterator[str]:
    # Documents end at a blank line or at a lone "%" (the fortune-file separator).
    buf: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            stripped = line.rstrip("\n")
            if stripped.strip() in ("", "%"):
                if buf:
                    yield "\n".join(buf)
                    buf = []
            else:
                buf.append(stripped)
    if buf:
        yield "\n".join(buf)
