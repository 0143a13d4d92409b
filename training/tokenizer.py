"""Tokenizer stage: train a byte-level BPE tokenizer and save it as a transformers tokenizer.

Byte-level BPE never meets an unknown character (Chinese, emoji and all round-trip exactly). The saved
tokenizer carries botkit's special tokens and chat template (``botkit.model.chat_format``), whose
``{% generation %}`` markers give the assistant-token mask the SFT loss uses.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

from botkit.model import chat_format
from botkit.training.config import TokenizerConfig
from botkit.training.corpora import iter_dialogues, iter_text
from botkit.training.outputs import check_writable, mark_complete
from botkit.training.records import DataError

log = logging.getLogger(__name__)


def _documents(cfg: TokenizerConfig) -> Iterator[str]:
    docs = itertools.chain(
        iter_text(cfg.data, "train"),
        ("\n".join(m["content"] for m in d) for d in iter_dialogues(cfg.data, "train")),
    )
    return itertools.islice(docs, cfg.max_documents) if cfg.max_documents > 0 else docs


def train_tokenizer(cfg: TokenizerConfig) -> Any:
    """Train the tokenizer and save it to ``cfg.output_dir``.

    Returns:
        The saved ``PreTrainedTokenizerFast``.

    Raises:
        DataError: the corpora hold no text.
        OutputError: the output directory cannot be written.
    """
    check_writable(cfg.output_dir)
    counted = _Counted(_documents(cfg))
    hf_tok = chat_format.train_chat_tokenizer(
        counted, cfg.vocab_size, min_frequency=cfg.min_frequency, model_max_length=cfg.model_max_length
    )
    if counted.n == 0:
        raise DataError(
            "empty corpus: no documents found in "
            f"{[str(p) for p in cfg.data.text_files + cfg.data.dialogue_files]}"
        )
    hf_tok.save_pretrained(cfg.output_dir)
    mark_complete(cfg.output_dir, "tokenizer", {"documents": counted.n, "vocab_size": len(hf_tok)})
    log.info("tokenizer: %d documents, vocabulary %d -> %s", counted.n, len(hf_tok), cfg.output_dir)
    return hf_tok


class _Counted:
    """An iterator that counts what it yields (to detect an empty corpus after training)."""

    def __init__(self, it: Iterator[str]) -> None:
        self.it, self.n = it, 0

    def __iter__(self) -> Iterator[str]:
        for x in self.it:
            self.n += 1
            yield x
