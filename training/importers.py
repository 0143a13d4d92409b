"""Importers that turn other dialogue sources into chat-format JSONL.

* chatterbot-corpus (``pip install chatterbot-corpus``): YAML files of conversations in many languages;
  each conversation is a list of alternating lines, user first.
* A CSV of question/answer pairs (columns named ``question`` and ``answer`` by default).
* The Chit-Chat Challenge dataset (``pip install chitchat-dataset``, MIT, BYU PCC lab): human-to-human
  English conversations in ``chitchat_dataset/dataset.json`` (see :func:`iter_chitchat`).
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from botkit.training.records import DataError, Dialogue, write_jsonl


def chatterbot_corpus_dir() -> Path:
    """The ``data`` folder of the installed chatterbot-corpus package.

    Raises:
        DataError: the package is not installed.
    """
    try:
        import chatterbot_corpus  # type: ignore[import-untyped]  # a data package; no types to ship
    except ImportError as exc:
        raise DataError("chatterbot-corpus is not installed: pip install 'botkit[train]'") from exc
    return Path(chatterbot_corpus.__file__).parent / "data"


def iter_chatterbot(
    languages: list[str], system: str | None = None, exclude: list[str] | None = None
) -> Iterator[Dialogue]:
    """Dialogues from chatterbot-corpus for ``languages`` (folder names such as ``english``, ``chinese``).

    Args:
        languages: corpus folders to read.
        system: an optional system prompt put first in every dialogue.
        exclude: categories (file names without ``.yml``, e.g. ``tech_support``) to skip.

    Raises:
        DataError: an unknown language.
    """
    import yaml

    root = chatterbot_corpus_dir()
    for lang in languages:
        folder = root / lang
        if not folder.is_dir():
            known = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise DataError(f"chatterbot-corpus has no language {lang!r}; known: {', '.join(known)}")
        for path in sorted(folder.glob("*.yml")):
            if path.stem in (exclude or ()):
                continue
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for conv in data.get("conversations") or []:
                turns = [str(t).strip() for t in conv if t is not None and str(t).strip()]
                if len(turns) < 2:
                    continue
                messages = [{"role": "system", "content": system}] if system else []
                for i, text in enumerate(turns):
                    messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
                if messages[-1]["role"] == "user":
                    messages.pop()  # nothing to learn from a trailing user line
                yield {"messages": messages}


def iter_qa_csv(
    path: Path, question_column: str = "question", answer_column: str = "answer"
) -> Iterator[Dialogue]:
    """Dialogues of one exchange each from a CSV file with a header row.

    Raises:
        DataError: the file lacks one of the columns.
    """
    with Path(path).open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        for col in (question_column, answer_column):
            if col not in cols:
                raise DataError(f"{path}: no column {col!r} (columns: {', '.join(cols)})")
        for row in reader:
            q, a = (row[question_column] or "").strip(), (row[answer_column] or "").strip()
            if q and a:
                yield {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def import_chatterbot(out: Path, languages: list[str], system: str | None = None) -> int:
    """Write chatterbot-corpus dialogues to ``out`` as JSONL; returns the count."""
    return write_jsonl(out, iter_chatterbot(languages, system))


def import_qa_csv(
    out: Path, path: Path, question_column: str = "question", answer_column: str = "answer"
) -> int:
    """Write a question/answer CSV to ``out`` as JSONL; returns the count."""
    return write_jsonl(out, iter_qa_csv(path, question_column, answer_column))


def chitchat_dataset_file() -> Path:
    """``dataset.json`` of the installed chitchat-dataset package.

    Raises:
        DataError: the package is not installed.
    """
    try:
        path = Path(str(resources.files("chitchat_dataset") / "dataset.json"))
    except ModuleNotFoundError as exc:
        raise DataError("chitchat-dataset is not installed: pip install 'botkit[train]'") from exc
    if not path.is_file():
        raise DataError(f"chitchat-dataset is installed without its data file: {path} is missing")
    return path


def iter_chitchat(path: Path | None = None, system: str | None = None) -> Iterator[Dialogue]:
    """Dialogues from the Chit-Chat Challenge dataset, or a file in its format.

    The file maps a conversation id to ``{"messages": [[{"text", "sender", ...}, ...], ...]}``: lists of
    messages, each list one sender's. Consecutive messages by the same sender become one turn (joined
    by newlines; also across lists, once empty messages between them are dropped). The first sender is
    the user and the second the assistant; a trailing user turn is dropped, and a conversation nobody
    answered gives no dialogue. Text is kept as written, trimmed of surrounding whitespace only.

    Args:
        path: the dataset file (default: the installed package's ``dataset.json``).
        system: an optional system prompt put first in every dialogue.

    Raises:
        DataError: the file is not in this format, naming the file and the conversation.
    """
    path = Path(path) if path is not None else chitchat_dataset_file()
    for turns in _chitchat_turns(path.resolve(), path.stat().st_mtime_ns):
        if len(turns) < 2:
            continue
        messages = [{"role": "system", "content": system}] if system else []
        roles = ("user", "assistant")
        messages.extend({"role": roles[i % 2], "content": text} for i, text in enumerate(turns))
        if messages[-1]["role"] == "user":
            messages.pop()  # nothing to learn from a trailing user turn
        yield {"messages": messages}


@functools.lru_cache(maxsize=2)  # the stages read the data once per split; parse the 40 MB file once
def _chitchat_turns(path: Path, mtime_ns: int) -> tuple[tuple[str, ...], ...]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a chitchat-dataset file: {exc}") from exc
    if not isinstance(data, dict):
        raise DataError(
            f"{path}: not a chitchat-dataset file: expected an object of conversations keyed by id, "
            f"found a JSON {type(data).__name__}"
        )
    return tuple(_conversation_turns(path, str(cid), conv) for cid, conv in data.items())


def _conversation_turns(path: Path, cid: str, conv: Any) -> tuple[str, ...]:
    """The turns of one conversation, alternating senders, first sender first."""

    def bad(why: str) -> DataError:
        return DataError(f"{path}: conversation {cid!r}: {why}")

    groups = conv.get("messages") if isinstance(conv, dict) else None
    if not isinstance(groups, list):
        raise bad('expected {"messages": [[{"text": ..., "sender": ...}, ...], ...]}')
    senders: list[str] = []
    turns: list[list[str]] = []
    for g, group in enumerate(groups):
        if not isinstance(group, list):
            raise bad(f"messages[{g}] is a {type(group).__name__}, not a list of messages")
        for m, msg in enumerate(group):
            if not (isinstance(msg, dict) and isinstance(msg.get("text"), str)
                    and isinstance(msg.get("sender"), str)):  # fmt: skip
                raise bad(f'messages[{g}][{m}] must be {{"text": str, "sender": str, ...}}')
            text = msg["text"].strip()
            if not text:
                continue  # an empty message: nothing said
            if senders and msg["sender"] == senders[-1]:
                turns[-1].append(text)
                continue
            if msg["sender"] not in senders[:2] and len(set(senders)) == 2:
                raise bad(f"messages[{g}][{m}] has a third sender; a conversation has two")
            senders.append(msg["sender"])
            turns.append([text])
    return tuple("\n".join(t) for t in turns)


def import_chitchat(out: Path, path: Path | None = None, system: str | None = None) -> int:
    """Write the chitchat-dataset conversations (or a file in their format) to ``out`` as JSONL."""
    return write_jsonl(out, iter_chitchat(path, system))
