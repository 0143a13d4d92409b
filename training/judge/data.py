"""The judge's held-out sets: chitchat conversations and the other dialogues SFT never trains on.

One :class:`~botkit.training.config.DataConfig` names every source SFT trains on (by default
:data:`JUDGE_DATA`: the persona dialogues, chatterbot English and Chinese, the Chit-Chat Challenge); its
validation split (``training/split.py``: by group, the normalised last prompt and reply, so no held-out
prompt or reply occurs in training) is the judge's. Adding a source can only move dialogues from held-out
to training, never the other way, so a model trained on a subset of these sources with the same fraction
and seed (the shipped model: persona and chatterbot) never saw any of them either.

The held-out dialogues are split again, by the same group rule with another seed, into a *tuning* half
(``botkit train tune-generation`` chooses sampling settings on it) and a *test* half (``botkit train
compare`` reports on it), so that settings are never chosen on the figures that judge them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from botkit.training.config import DataConfig
from botkit.training.corpora import iter_dialogues
from botkit.training.importers import iter_chitchat
from botkit.training.split import held_out_flags

Messages = list[dict[str, str]]

PERSONA = Path(__file__).resolve().parent.parent / "data" / "persona"
JUDGE_DATA = DataConfig(
    dialogue_files=[PERSONA],
    chatterbot_languages=["english", "chinese"],
    chatterbot_exclude=["tech_support", "coding", "computers"],
    chitchat=True,
    validation_fraction=0.08,
    split_seed=0,
)
"""The sources the new default model fine-tunes on, split as ``training/presets/default_model.toml`` does."""

TUNE_SEED_OFFSET = 1  # the tuning/test draw uses split_seed + 1: independent of the training split


@dataclass
class HeldOut:
    """The held-out dialogues by purpose, and what training holds (for the copy rate).

    Attributes:
        chitchat: chitchat conversations of the test half.
        dialogues: the other held-out dialogues (persona, chatterbot) of the test half.
        tune_chitchat, tune_dialogues: the same, of the tuning half.
        training_utterances: every turn's text (stripped) of the training split.
    """

    chitchat: list[Messages] = field(default_factory=list)
    dialogues: list[Messages] = field(default_factory=list)
    tune_chitchat: list[Messages] = field(default_factory=list)
    tune_dialogues: list[Messages] = field(default_factory=list)
    training_utterances: frozenset[str] = frozenset()

    def sets(self, purpose: str = "test") -> dict[str, list[Messages]]:
        """The named sets of one half (``"test"`` or ``"tune"``)."""
        if purpose == "tune":
            return {"chitchat": self.tune_chitchat, "dialogues": self.tune_dialogues}
        # Chinese is reported on its own as well (a subset of the dialogues): the English sets would
        # hide a model that lost it.
        chinese = [d for d in self.dialogues if is_chinese(d)]
        return {"chitchat": self.chitchat, "dialogues": self.dialogues, "chinese": chinese}


def is_chinese(messages: Messages) -> bool:
    """Whether most of the letters in ``messages`` (system turn aside) are CJK ideographs."""
    text = "".join(m["content"] for m in messages if m["role"] != "system")
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    letters = sum(1 for ch in text if ch.isalpha())
    return letters > 0 and cjk / letters > 0.5


def load_held_out(cfg: DataConfig = JUDGE_DATA) -> HeldOut:
    """Split ``cfg``'s dialogues (see the module docstring).

    Raises:
        DataError: a source cannot be read.
    """
    held = list(iter_dialogues(cfg, "validation"))
    training = iter_dialogues(cfg, "train")
    utterances = frozenset(m["content"].strip() for d in training for m in d if m["role"] != "system")
    chitchat_keys: set[str] = set()
    if cfg.chitchat or cfg.chitchat_files:
        system = cfg.system_prompt or None
        for path in ([None] if cfg.chitchat else []) + list(cfg.chitchat_files):
            chitchat_keys.update(_key(d["messages"]) for d in iter_chitchat(path, system))
    tune = held_out_flags(held, 0.5, cfg.split_seed + TUNE_SEED_OFFSET)
    out = HeldOut(training_utterances=utterances)
    for messages, is_tune in zip(held, tune, strict=True):
        chat = _key(messages) in chitchat_keys
        if is_tune:
            (out.tune_chitchat if chat else out.tune_dialogues).append(messages)
        else:
            (out.chitchat if chat else out.dialogues).append(messages)
    return out


def _key(messages: Messages) -> str:
    return json.dumps(messages, ensure_ascii=False, sort_keys=True)


def reply_cases(dialogues: list[Messages], per_dialogue: int) -> list[tuple[Messages, str]]:
    """Up to ``per_dialogue`` (context, reference reply) pairs per dialogue, spread over its turns.

    The last assistant turn always counts; further ones are taken evenly from the earlier turns, so a
    long conversation contributes its middle as well as its end. A context ends with a user turn.
    """
    cases: list[tuple[Messages, str]] = []
    for messages in dialogues:
        answers = [
            i
            for i, m in enumerate(messages)
            if m["role"] == "assistant" and i > 0 and messages[i - 1]["role"] == "user"
        ]
        if not answers:
            continue
        k = min(per_dialogue, len(answers))
        picks = sorted({answers[round((len(answers) - 1) * (j + 1) / k)] for j in range(k)})
        cases.extend((messages[:i], messages[i]["content"]) for i in picks)
    return cases
