"""Reading corpora: plain text and dialogues, streamed, with deterministic train/validation splits.

Plain text comes as ``.txt`` (documents separated by blank lines, or by a lone ``%`` line as in fortune
files) or ``.jsonl`` (one ``{"text": ...}`` per line). Dialogues are JSONL in the chat format
``{"messages": [{"role": ..., "content": ...}, ...]}``. Text is read line by line so a corpus larger
than memory can be tokenized. The text split is by a hash of each document, so a document lands on the
same side whatever the file order, the number of files or the machine. The dialogue split is by group
(``botkit.training.split``): dialogues that share a normalised prompt or reply are kept on one side, so
it reads all dialogues of a config once (kept for the next split of the same unchanged files).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from botkit.training.config import DataConfig
from botkit.training.importers import iter_chatterbot, iter_chitchat, iter_qa_csv
from botkit.training.records import DataError, validate_dialogue
from botkit.training.split import drawn_for_held_out, held_out_flags

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
    is_val = drawn_for_held_out(key, fraction, seed)
    return is_val if split == "validation" else not is_val


def iter_text(cfg: DataConfig, split: Split = "all") -> Iterator[str]:
    """Stream the text documents of ``cfg.text_files`` that fall in ``split``."""
    for path in expand_files(cfg.text_files, (".txt", ".jsonl")):
        docs = _iter_jsonl_text(path, cfg) if path.suffix == ".jsonl" else _iter_txt(path)
        for doc in docs:
            doc = doc.strip()
            if len(doc) >= cfg.min_chars and in_split(doc, split, cfg.validation_fraction, cfg.split_seed):
                yield doc


def iter_documents(cfg: DataConfig, split: Split = "all") -> Iterator[str]:
    """Pretraining documents: ``iter_text``, then each dialogue of ``split`` as its turns, one per line.

    Dialogues follow the group split of :func:`iter_dialogues`, so a dialogue held out from fine-tuning
    with the same sources, fraction and seed (or with more sources) is held out of pretraining as well.
    """
    yield from iter_text(cfg, split)
    for messages in iter_dialogues(cfg, split):
        doc = "\n".join(m["content"].strip() for m in messages if m["role"] != "system")
        if len(doc) >= cfg.min_chars:
            yield doc


def iter_dialogues(cfg: DataConfig, split: Split = "all") -> Iterator[list[dict[str, str]]]:
    """The dialogues of ``cfg``'s sources that fall in ``split`` (held-out by group: ``split.py``).

    Raises:
        DataError: a malformed line when ``cfg.on_bad_line == "error"``.
    """
    if split == "all":
        yield from _all_dialogues(cfg)
        return
    dialogues, held_out = _split(cfg)
    for messages, is_val in zip(dialogues, held_out, strict=True):
        if is_val == (split == "validation"):
            yield [dict(m) for m in messages]  # a copy: the cached list stays as read


_SPLITS: dict[tuple[str, tuple[object, ...]], tuple[list[list[dict[str, str]]], list[bool]]] = {}


def _split(cfg: DataConfig) -> tuple[list[list[dict[str, str]]], list[bool]]:
    # A stage reads its training split, then its validation split: read and split the data once.
    key = (cfg.model_dump_json(), _fingerprint(cfg))
    if key not in _SPLITS:
        dialogues = list(_all_dialogues(cfg))
        if len(_SPLITS) >= 2:
            _SPLITS.pop(next(iter(_SPLITS)))
        _SPLITS[key] = (dialogues, held_out_flags(dialogues, cfg.validation_fraction, cfg.split_seed))
    return _SPLITS[key]


def _fingerprint(cfg: DataConfig) -> tuple[object, ...]:
    # Size and modification time of every file read, so an edited file is split afresh.
    paths = [*expand_files(cfg.dialogue_files, (".jsonl",)), *cfg.qa_csv_files, *cfg.chitchat_files]
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in map(Path, paths) if p.is_file())


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
