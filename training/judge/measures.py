"""Per-model measures of the judge: bits per byte, replies and their quality, the copy rate, latency.

Everything runs on a model as botkit serves it: loaded by :func:`botkit.model.loader.load_model` and
generating through botkit's own batch engine (:mod:`botkit.model.scheduler`), so a figure here is what a
user of ``botkit chat`` gets.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from botkit.model.chat_format import encode_chat
from botkit.model.jobs import GenerationJob
from botkit.model.loader import LoadedModel
from botkit.training import textmetrics as tm
from botkit.training.packing import IGNORE, encode_dialogue
from botkit.types import SamplingParams

Messages = list[dict[str, str]]


@dataclass
class TextBits:
    """Information the model needs for the assistant's text: summed bits, and the text's size."""

    bits: float = 0.0
    tokens: int = 0
    bytes: int = 0
    words: int = 0

    def summary(self) -> dict[str, float | int | None]:
        """Bits per byte and perplexity per word (tokenizer-independent), with the counts."""
        return {
            "bits_per_byte": self.bits / self.bytes if self.bytes else None,
            "perplexity_per_word": 2 ** (self.bits / self.words) if self.words else None,
            "assistant_bytes": self.bytes,
            "assistant_words": self.words,
            "assistant_tokens": self.tokens,
        }


def assistant_bits(lm: LoadedModel, dialogues: Sequence[Messages]) -> TextBits:
    """Sum of -log2 p over the assistant's tokens (its words and its end-of-turn token, as SFT labels
    them), divided later by the UTF-8 bytes of the assistant's text.

    A dialogue longer than the context is read in windows of the context length that advance by half of
    it (each token is scored once, with at least half a context before it), so every assistant byte is
    scored by every model, whatever its context: figures of two models cover the same text.
    """
    import torch
    import torch.nn.functional as F

    out = TextBits()
    ctx = lm.context_window
    stride = max(1, ctx // 2)
    with torch.inference_mode():
        for messages in dialogues:
            ids_np, labels_np = encode_dialogue(lm.tokenizer, messages)
            ids = torch.as_tensor(ids_np, dtype=torch.long)
            labels = torch.as_tensor(labels_np, dtype=torch.long)
            n, scored_to = len(ids), 1  # position 0 has nothing before it and is never an answer
            for begin in range(0, n, stride):
                end = min(begin + ctx, n)
                if end > scored_to:
                    logits = lm.model(input_ids=ids[begin:end][None].to(lm.device)).logits[0].float()
                    # logits[j] predicts token begin + j + 1; score positions scored_to .. end - 1
                    pred = logits[scored_to - begin - 1 : end - begin - 1]
                    target = labels[scored_to:end].to(lm.device)
                    nats = F.cross_entropy(pred, target, ignore_index=IGNORE, reduction="sum")
                    out.bits += float(nats) / math.log(2)
                    out.tokens += int((target != IGNORE).sum())
                    scored_to = end
                if end == n:
                    break
            for m in messages:
                if m["role"] == "assistant":
                    out.bytes += len(m["content"].encode("utf-8"))
                    out.words += len(tm.words(m["content"]))
    return out


def fit_prompt(lm: LoadedModel, context: Messages, room: int) -> list[int]:
    """Prompt ids of ``context`` leaving ``room`` tokens for the reply: the oldest turns go first (the
    system turn stays), then the start of the last turn, as a chat keeps its latest exchange."""
    turns = [dict(m) for m in context]
    limit = max(8, lm.context_window - room)
    while True:
        ids = encode_chat(lm.tokenizer, turns)
        if len(ids) <= limit:
            return ids
        first = 1 if turns[0]["role"] == "system" and len(turns) > 1 else 0
        if len(turns) - first > 1:
            del turns[first]
        elif turns[-1]["content"]:  # one turn alone is too long: keep its end
            text = turns[-1]["content"]
            turns[-1]["content"] = text[max(1, len(text) // 8) :]
        else:  # the system turn alone fills the context
            del turns[0]


def generation_defaults(lm: LoadedModel, max_new_tokens: int) -> SamplingParams:
    """Sampling as the model asks to be served: :class:`SamplingParams`' defaults, overridden by what the
    model's ``generation_config.json`` sets (temperature, top_p, top_k, repetition_penalty; ``do_sample``
    false means greedy). botkit's loader does not read that file yet; the judge reads it so that the
    figures belong to the settings ``botkit train tune-generation --write`` chose."""
    path = lm.path / "generation_config.json"
    given: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    chosen = {k: given[k] for k in ("temperature", "top_p", "top_k", "repetition_penalty") if k in given}
    if given.get("do_sample") is False:
        chosen["temperature"] = 0.0
    return replace(SamplingParams(max_new_tokens=max_new_tokens), **chosen)


def generate_replies(
    lm: LoadedModel, contexts: Sequence[Messages], params: SamplingParams, seed: int = 0, max_batch: int = 32
) -> list[str]:
    """One reply per context through botkit's batch engine; request ``i`` samples with seed ``seed + i``,
    so the replies do not depend on how requests were batched together."""
    from botkit.model.scheduler import BatchScheduler

    engine = BatchScheduler(lm, max_batch=max_batch)
    try:
        jobs = [
            engine.submit(
                GenerationJob(fit_prompt(lm, c, params.max_new_tokens), replace(params, seed=seed + i))
            )
            for i, c in enumerate(contexts)
        ]
        for job in jobs:
            job.done.wait()
            if job.error is not None:
                raise RuntimeError(f"generation failed: {job.error}") from job.error
    finally:
        engine.close()
    return [job.text.strip() for job in jobs]


def copy_rate(replies: Sequence[str], training_utterances: frozenset[str] | set[str]) -> float:
    """Share of replies that are, stripped of surrounding whitespace, exactly a training utterance."""
    if not replies:
        return 0.0
    return sum(r.strip() in training_utterances for r in replies) / len(replies)


def reply_quality(
    references: Sequence[str], replies: Sequence[str], training_utterances: frozenset[str] | set[str]
) -> dict[str, float | int]:
    """Unigram F1 against the references (and its standard error: two settings or models whose F1 differ by
    less than about twice it are not told apart), distinct-1/2, repetition rate, copy rate, mean length."""
    n = len(replies)
    f1 = [tm.unigram_f1(r, ref) for r, ref in zip(replies, references, strict=True)]
    return {
        "replies": n,
        "unigram_f1": statistics.fmean(f1) if n else 0.0,
        "unigram_f1_se": statistics.stdev(f1) / math.sqrt(n) if n > 1 else 0.0,
        "distinct_1": tm.distinct_n(replies, 1),
        "distinct_2": tm.distinct_n(replies, 2),
        "repetition_rate": statistics.fmean(tm.repetition_rate(r) for r in replies) if n else 0.0,
        "copy_rate": copy_rate(replies, training_utterances),
        "mean_words": statistics.fmean(len(tm.words(r)) for r in replies) if n else 0.0,
    }


LATENCY_SYSTEM = "You are botkit, a friendly assistant in a chat app. Answer briefly and helpfully."
LATENCY_PROMPT = "Hello! What can you do?"


def latency(lm: LoadedModel, max_new_tokens: int = 64, runs: int = 3) -> dict[str, float | int]:
    """Time to first token and decoding speed for one reply, as ``botkit chat`` streams it.

    One greedy reply to :data:`LATENCY_PROMPT` (after botkit's default system prompt) through botkit's
    engine, alone in its batch; one untimed run first, then the median of ``runs``. ``ttft_s`` runs from
    submitting the request to the first text the user would see; ``tokens_per_s`` is the decoding rate
    after it; ``reply_tokens`` is how many tokens the reply had (it may stop before ``max_new_tokens``).
    """
    from botkit.model.scheduler import BatchScheduler

    messages = [{"role": "system", "content": LATENCY_SYSTEM}, {"role": "user", "content": LATENCY_PROMPT}]
    prompt = encode_chat(lm.tokenizer, messages)
    params = SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0, repetition_penalty=1.15)
    engine = BatchScheduler(lm, max_batch=1)
    ttft: list[float] = []
    rate: list[float] = []
    tokens = 0
    try:
        for i in range(runs + 1):
            first: list[float] = []
            job = GenerationJob(
                list(prompt), params, on_delta=lambda _d, f=first: f.append(time.perf_counter())
            )
            start = time.perf_counter()
            engine.submit(job)
            job.done.wait()
            end = time.perf_counter()
            if job.error is not None:
                raise RuntimeError(f"generation failed: {job.error}") from job.error
            if i == 0:
                continue  # warm-up: allocations, first kernel launches
            t_first = first[0] if first else end
            tokens = len(job.completion_ids)
            ttft.append(t_first - start)
            rate.append((tokens - 1) / (end - t_first) if tokens > 1 and end > t_first else float("nan"))
    finally:
        engine.close()
    return {
        "ttft_s": statistics.median(ttft),
        "tokens_per_s": statistics.median(rate),
        "reply_tokens": tokens,
        "prompt_tokens": len(prompt),
        "runs": runs,
    }
