"""Importers that turn other dialogue sources into chat-format JSONL.

* chatterbot-corpus (``pip install chatterbot-corpus``): YAML files of conversations in many languages;
  each conversation is a list of alternating lines, user first.
* A CSV of question/answer pairs (columns named ``question`` and ``answer`` by default).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

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
