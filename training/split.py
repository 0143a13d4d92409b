"""The held-out split of dialogues, by group: paraphrases never straddle training and held-out.

A dialogue's keys are its last user prompt and its reference reply (its last assistant turn), each
normalised as SQuAD normalises answers (lower case, no punctuation, no articles, single spaces) and hashed.
Each dialogue is first drawn for held-out by a salted hash of its whole text (the draw of earlier versions,
so a dialogue with nothing in common with the rest keeps its side); it stays held out only if no training
dialogue shares a key with it, directly or through a chain of dialogues that share keys (union-find over
the keys). So a group of near-duplicates lands whole in training unless every member was drawn for
held-out, and no held-out prompt or reply occurs in training. The held-out share is therefore at most
``fraction`` (less where the data has many paraphrases); the result depends on neither file order nor how
many times a source is listed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from botkit.training.textmetrics import normalize_answer

Messages = list[dict[str, str]]


def drawn_for_held_out(text: str, fraction: float, seed: int) -> bool:
    """Whether a record whose text is ``text`` is drawn for held-out (a salted hash, the same everywhere)."""
    digest = hashlib.blake2b(f"{seed}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def group_keys(messages: Messages) -> list[bytes]:
    """The normalised last user prompt (if any) and reference reply of a dialogue, hashed."""
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        return []
    prompts = [m["content"] for m in messages[:last] if m["role"] == "user"]
    parts = [("prompt", prompts[-1])] if prompts else []
    parts.append(("reply", messages[last]["content"]))
    # A turn of punctuation only ("?", ":)") normalises to "", a key like any other: such turns are few.
    return [
        hashlib.blake2b(f"{kind}\0{normalize_answer(text)}".encode(), digest_size=8).digest()
        for kind, text in parts
    ]


def held_out_flags(dialogues: Sequence[Messages], fraction: float, seed: int) -> list[bool]:
    """For each dialogue, whether it belongs to the held-out split (the rule in the module docstring)."""
    parent: dict[bytes, bytes] = {}

    def find(k: bytes) -> bytes:
        root = k
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[k] != root:  # path compression
            parent[k], k = root, parent[k]
        return root

    keys = [group_keys(m) for m in dialogues]
    for ks in keys:
        for k in ks[1:]:
            parent[find(k)] = find(ks[0])
    drawn = [
        drawn_for_held_out(json.dumps(m, ensure_ascii=False, sort_keys=True), fraction, seed)
        for m in dialogues
    ]
    trained_groups = {find(ks[0]) for ks, d in zip(keys, drawn, strict=True) if ks and not d}
    return [d and not (ks and find(ks[0]) in trained_groups) for ks, d in zip(keys, drawn, strict=True)]
