"""Answer equivalents: which other chunks of a knowledge base state the whole answer of a labelled one.

A held-out question (:mod:`botkit.kb.heldout`) names one chunk that answers it. Where the knowledge base
states the same answer twice (an FAQ entry and the policy section it was written from), a retriever that
puts the other one first has answered the customer correctly, yet a single label counts it wrong. An
equivalence map lists, for a label, the chunks that answer its questions too; with one, a question is
answered by its label or by any of them (in the calibration's ranking fit and in ``bench/kb_retrieval.py``).

The file is JSON: ``{"faq.csv > Q": ["policies/x.md > A > B", ...]}``, or, so that a reviewer can check each
pair, ``{"faq.csv > Q": {"policies/x.md > A > B": "the sentence of that section that states it", ...}}``.
It is read one way only: a question labelled with a key is answered by its values, not the reverse.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from botkit.kb.errors import KBError

if TYPE_CHECKING:
    from botkit.kb.storage import StoredChunk

Equivalents = Mapping[str, frozenset[str]]  # a label -> the other labels that answer its questions too


def read_equivalents(path: Path) -> dict[str, frozenset[str]]:
    """The map in ``path`` (see the module's docstring).

    Raises:
        KBError: the file cannot be read, is not JSON, or is not an object of labels to lists of labels
            (or to objects of label -> quote); the message names the file and the entry.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise KBError(f"cannot read the answer equivalents in {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise KBError(f"{path} is not JSON ({exc}); answer equivalents are an object") from None
    if not isinstance(raw, dict):
        raise KBError(f'{path}: expected a JSON object like {{"label": ["another label", ...]}}')
    out: dict[str, frozenset[str]] = {}
    for label, others in raw.items():
        # an object keeps a quote per equivalent for reviewers; only its keys matter here
        names = list(others) if isinstance(others, dict | list) else None
        if not label.strip() or names is None or not all(isinstance(n, str) and n.strip() for n in names):
            raise KBError(f"{path}: {label!r} must map to a list of labels (or an object of label -> quote)")
        out[label.strip()] = frozenset(n.strip() for n in names)
    return out


def label_names(chunk: StoredChunk) -> tuple[str, str]:
    """The names a label may give ``chunk``: its citation, or its text (an FAQ entry's answer, as an intent
    set labels its questions)."""
    return chunk.source.label(), chunk.text.strip()


def check_labels(labels: Iterable[str], known: Collection[str], kind: str) -> None:
    """Refuse ``kind`` labels ("held-out", "question") that name nothing ``known`` holds.

    Raises:
        KBError: the message counts them and shows a few.
    """
    unknown = sorted(set(labels) - set(known))
    if unknown:
        shown = "; ".join(repr(u) for u in unknown[:3])
        raise KBError(
            f"{len(unknown)} {kind} labels name nothing in the knowledge base (e.g. {shown}): a label is a "
            "citation as `botkit kb search` prints it, or an FAQ entry's answer"
        )


def check_known(equivalents: Equivalents, known: Collection[str]) -> None:
    """Refuse a map that names anything ``known`` (the knowledge base's labels) does not hold.

    Raises:
        KBError: a key or an equivalent names nothing in the knowledge base (the message names them).
    """
    named = set(equivalents) | {n for others in equivalents.values() for n in others}
    unknown = sorted(named - set(known))
    if unknown:
        shown = "; ".join(repr(u) for u in unknown[:3])
        raise KBError(
            f"the answer equivalents name {len(unknown)} chunk(s) that are not in the knowledge base: "
            f"{shown} (a label is a citation as `botkit kb search` prints it)"
        )


def answering(label: str, equivalents: Equivalents | None) -> frozenset[str]:
    """The labels that answer a question labelled ``label``: itself and its equivalents."""
    return frozenset({label}) | (equivalents or {}).get(label, frozenset())


def answered_within(found: Sequence[str], label: str, k: int, equivalents: Equivalents | None = None) -> bool:
    """Whether one of the first ``k`` labels ``found`` answers a question labelled ``label``."""
    correct = answering(label, equivalents)
    return any(f in correct for f in found[:k])
