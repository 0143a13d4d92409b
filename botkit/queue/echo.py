"""A model stand-in that echoes the last message: times the queue plumbing without any inference.

``botkit worker --echo`` and ``bench/queue_overhead.py`` use it, so the measured cost is Celery, Redis
and botkit's own code, not matrix multiplies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from botkit.model.jobs import GenerationJob
from botkit.model.loader import LoadedModel


class EchoTokenizer:
    """One token per character of the last message; enough of a tokenizer for ``encode_chat``."""

    def apply_chat_template(self, messages: Sequence[dict[str, Any]], **_: Any) -> list[int]:
        """Code points of the last message's text."""
        return [ord(c) for c in str(messages[-1]["content"])] if messages else []

    def decode(self, ids: Sequence[int], **_: Any) -> str:
        """Characters back from code points."""
        return "".join(chr(i) for i in ids)


def echo_model() -> LoadedModel:
    """A :class:`LoadedModel` with no weights and an :class:`EchoTokenizer`."""
    return LoadedModel(
        model=None,
        tokenizer=EchoTokenizer(),
        device=torch.device("cpu"),
        context_window=1 << 20,
        eos_ids=frozenset(),
        path=Path("echo"),
    )


def echo_batch(lm: LoadedModel, jobs: list[GenerationJob]) -> None:
    """The batch runner: each reply is its prompt, cut to ``max_new_tokens`` characters."""
    for job in jobs:
        ids = job.prompt_ids[: job.params.max_new_tokens]
        job.completion_ids = list(ids)
        job.text = lm.tokenizer.decode(ids)
        if job.on_delta is not None and job.text:
            job.on_delta(job.text)
        job.complete("stop" if len(ids) == len(job.prompt_ids) else "length")
