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
from pathlib import Path
from typing import Any, Literal

from botkit.training.config import DataConfig
from botkit.training.importers import iter_chatterbot, iter_chitchat, iter_qa_csv
from botkit.training.records import DataError, validate_dialogue

log = logging.getLogger(__name__)

Split = Literal["train", "validation", "all"]


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
    for path in expand_files(cfg.dialogue_files, (".jsonl",)):
        for lineno, record in _iter_jsonl(path, cfg):
            try:
                yield validate_dialogue(record)
            except DataError as exc:
                _bad_line(cfg, path, lineno, str(exc))
    system = cfg.system_prompt or None
    if cfg.chatterbot_languages:
        for d in iter_chatterbot(cfg.chatterbot_languages, system, cfg.chatterbot_exclude):
            yield d["messages"]
    for path in cfg.qa_csv_files:
        for d in iter_qa_csv(path):
            yield ([{"role": "system", "content": system}] if system else []) + d["messages"]
    for chitchat_path in ([None] if cfg.chitchat else []) + list(cfg.chitchat_files):
        for d in iter_chitchat(chitchat_path, system):
            yield d["messages"]


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
