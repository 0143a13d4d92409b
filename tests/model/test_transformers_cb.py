"""transformers' continuous batching as the second batch engine, against botkit's own, on the shipped model.

The shipped model (not the random tiny one) is used because its greedy replies are varied text: a stop
sequence taken from the middle of one then really cuts something.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from botkit.model.chat_format import encode_chat
from botkit.model.engines import choose_engine, start_engine
from botkit.model.jobs import GenerationJob, PromptTooLongError
from botkit.model.loader import LoadedModel, default_model_dir, load_model
from botkit.model.local import LocalGenerator
from botkit.model.scheduler import BatchScheduler
from botkit.model.transformers_cb import (
    CACHE_MEMORY_SHARE,
    PAGE_SIZE,
    CacheTooSmallError,
    TransformersBatcher,
    cache_blocks,
    kv_bytes_per_token,
    per_request_sampling,
)
from botkit.types import SamplingParams

GREEDY = SamplingParams(max_new_tokens=24, temperature=0.0, repetition_penalty=1.0)
QUESTIONS = ["hello, who are you?", "what can you do?", "tell me a joke", "你好"]


@pytest.fixture(scope="module")
def lm() -> LoadedModel:
    shipped = default_model_dir()
    assert shipped is not None, "the shipped model (botkit/data/default-model) is missing from this checkout"
    return load_model(shipped, device="cpu")


@pytest.fixture
def batcher(lm: LoadedModel) -> Iterator[TransformersBatcher]:
    engine = TransformersBatcher(lm, max_batch=8)
    yield engine
    engine.close()


def ask(lm: LoadedModel, text: str, params: SamplingParams = GREEDY, **extra: object) -> GenerationJob:
    return GenerationJob(encode_chat(lm.tokenizer, [{"role": "user", "content": text}]), params, **extra)  # type: ignore[arg-type]


def finish(*jobs: GenerationJob) -> list[GenerationJob]:
    for job in jobs:
        assert job.done.wait(60), "no reply within 60 s"
    return list(jobs)


def test_greedy_replies_match_botkit_engine_word_for_word(
    lm: LoadedModel, batcher: TransformersBatcher
) -> None:
    ours = BatchScheduler(lm, max_batch=8)
    try:
        expected = [job.text for job in finish(*(ours.submit(ask(lm, q)) for q in QUESTIONS))]
    finally:
        ours.close()

    theirs = finish(*(batcher.submit(ask(lm, q)) for q in QUESTIONS))

    assert [job.text for job in theirs] == expected
    assert len(set(expected)) > 1, expected  # real, varied replies were compared
    assert all(expected), expected
    assert max(job.batch_size for job in theirs) > 1  # they were decoded together


def test_each_request_keeps_its_stop_sequence_and_token_limit_in_one_batch(
    lm: LoadedModel, batcher: TransformersBatcher
) -> None:
    reference = finish(batcher.submit(ask(lm, QUESTIONS[0])))[0]
    assert len(reference.text) > 8, reference.text
    stop = reference.text[5:8]
    cut, short, full = finish(
        batcher.submit(ask(lm, QUESTIONS[0], SamplingParams(**{**GREEDY.to_dict(), "stop": [stop]}))),
        batcher.submit(ask(lm, QUESTIONS[0], SamplingParams(**{**GREEDY.to_dict(), "max_new_tokens": 3}))),
        batcher.submit(ask(lm, QUESTIONS[0])),
    )

    assert (cut.text, cut.finish_reason) == (reference.text[: reference.text.find(stop)], "stop")
    assert stop not in cut.text
    assert (len(short.completion_ids), short.finish_reason) == (3, "length")
    assert (full.text, full.finish_reason) == (reference.text, reference.finish_reason)


def test_text_streams_in_pieces_that_add_up_to_the_reply(
    lm: LoadedModel, batcher: TransformersBatcher
) -> None:
    pieces: list[str] = []
    job = finish(batcher.submit(ask(lm, QUESTIONS[1], on_delta=pieces.append)))[0]

    assert len(pieces) >= 2
    assert "".join(pieces) == job.text


def test_a_prompt_longer_than_the_context_fails_alone(lm: LoadedModel, batcher: TransformersBatcher) -> None:
    too_long = GenerationJob([5] * (lm.context_window + 1), GREEDY)
    fine = ask(lm, QUESTIONS[2])

    finish(batcher.submit(too_long), batcher.submit(fine))

    assert isinstance(too_long.error, PromptTooLongError)
    assert "/reset" in str(too_long.error)
    assert fine.error is None
    assert fine.text


def test_a_reply_past_its_deadline_is_cut_off(lm: LoadedModel, batcher: TransformersBatcher) -> None:
    long_reply = SamplingParams(max_new_tokens=200, temperature=0.0, repetition_penalty=1.0)
    job = finish(batcher.submit(ask(lm, QUESTIONS[0], long_reply, deadline=time.monotonic())))[0]

    assert job.finish_reason == "timeout"
    assert len(job.completion_ids) <= 1


def test_close_fails_running_and_later_requests(lm: LoadedModel) -> None:
    engine = TransformersBatcher(lm, max_batch=4)
    slow = SamplingParams(max_new_tokens=200, temperature=0.8, repetition_penalty=1.0)
    running = engine.submit(ask(lm, QUESTIONS[0], slow))
    engine.close()
    late = engine.submit(ask(lm, QUESTIONS[1]))

    assert running.done.is_set()
    assert running.finish_reason in ("stop", "length") or isinstance(running.error, RuntimeError)
    assert isinstance(late.error, RuntimeError)
    assert "shut down" in str(late.error)


def test_a_manager_that_dies_fails_its_requests_and_the_next_request_starts_a_new_one(
    tiny_model_dir: Path,
) -> None:
    tiny = load_model(tiny_model_dir, device="cpu")  # random weights: never says end-of-turn
    engine = TransformersBatcher(tiny, max_batch=4)
    endless = SamplingParams(max_new_tokens=200, temperature=0.0, repetition_penalty=1.0)
    try:
        running = engine.submit(ask(tiny, "hi", endless))
        engine._manager.stop(block=True, hard_stop=True)  # its thread ends, as after a fatal error
        finish(running)
        after = finish(engine.submit(ask(tiny, "hi", GREEDY)))[0]
    finally:
        engine.close()

    assert isinstance(running.error, RuntimeError), (running.finish_reason, len(running.completion_ids))
    assert after.error is None
    assert len(after.completion_ids) == GREEDY.max_new_tokens


def test_sampling_parameters_map_to_the_managers_per_request_arguments() -> None:
    assert per_request_sampling(GREEDY) == {"temperature": 1.0, "top_k": 1, "top_p": 1.0}
    assert per_request_sampling(SamplingParams(temperature=0.5, top_k=0, top_p=0.8)) == {
        "temperature": 0.5,
        "top_k": 2**31 - 1,
        "top_p": 0.8,
    }


def test_unsupported_parameters_are_named_once_in_the_log(
    lm: LoadedModel, batcher: TransformersBatcher, caplog: pytest.LogCaptureFixture
) -> None:
    penalised = SamplingParams(max_new_tokens=4, repetition_penalty=1.3, seed=3)
    with caplog.at_level(logging.WARNING, logger="botkit.model"):
        finish(batcher.submit(ask(lm, "a", penalised)), batcher.submit(ask(lm, "b", penalised)))

    warnings = [r.getMessage() for r in caplog.records if "ignores" in r.getMessage()]
    assert sorted(warnings) == [
        "the transformers engine ignores per-request repetition_penalty (the botkit engine honours it)",
        "the transformers engine ignores per-request seed (the botkit engine honours it)",
    ]


def test_engine_names_are_checked_and_auto_is_botkits_scheduler_on_the_cpu(lm: LoadedModel) -> None:
    with pytest.raises(ValueError, match="unknown engine 'vllm'"):
        start_engine(lm, "vllm")
    with pytest.raises(ValueError, match="only with the botkit engine"):
        start_engine(lm, "transformers", runner=lambda model, jobs: None)
    auto = start_engine(lm, "auto", max_batch=4)
    auto.close()
    assert isinstance(auto, BatchScheduler)
    assert auto.chosen_by == "auto, the faster one on the CPU"
    asked = start_engine(lm, "transformers", max_batch=4)
    asked.close()
    assert (asked.name, asked.chosen_by) == ("transformers", "configured")


def test_auto_with_timing_runs_the_winner_and_says_why(lm: LoadedModel) -> None:
    engine = start_engine(lm, "auto", max_batch=8, measure=True)  # what a CUDA device does by default
    try:
        job = finish(engine.submit(ask(lm, QUESTIONS[0])))[0]
    finally:
        engine.close()

    assert job.text
    timed = dict(
        part.rsplit(" ", 2)[:2] for part in engine.chosen_by.removeprefix("auto, timed: ").split(", ")
    )
    assert set(timed) == {"botkit", "transformers"}
    rates = {name: float(rate.replace(",", "")) for name, rate in timed.items()}
    assert rates[engine.name] == max(rates.values())


def test_choose_engine_times_both_and_names_the_faster(
    lm: LoadedModel, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="botkit.model"):
        winner, figures = choose_engine(lm, max_batch=8, requests=8, new_tokens=8)

    assert set(figures) == {"botkit", "transformers"}
    assert all(rate > 0 for rate in figures.values()), figures
    assert figures[winner] == max(figures.values())
    assert any(r.getMessage().startswith(f"engine: {winner} (botkit ") for r in caplog.records)


async def test_the_local_generator_runs_on_the_transformers_engine(lm: LoadedModel) -> None:
    generator = LocalGenerator(lm, max_batch=4, engine="transformers")
    messages = [{"role": "user", "content": QUESTIONS[0]}]
    try:
        pieces = [p async for p in generator.stream(messages, GREEDY)]  # type: ignore[arg-type]
        whole = await generator.generate(messages, GREEDY)  # type: ignore[arg-type]
    finally:
        await generator.close()

    assert isinstance(generator.scheduler, TransformersBatcher)
    assert "".join(pieces) == whole.text
    assert whole.text


def test_auto_never_picks_an_engine_that_would_ignore_the_configured_sampling(lm: LoadedModel) -> None:
    penalised = SamplingParams(repetition_penalty=1.15)
    # Timing would run (as on a GPU), but only botkit's engine honours the penalty: it is not even timed.
    auto = start_engine(lm, "auto", max_batch=4, measure=True, sampling=penalised)
    auto.close()
    assert isinstance(auto, BatchScheduler)
    assert auto.chosen_by == "auto, the only engine that honours repetition_penalty=1.15"
    asked = start_engine(
        lm, "transformers", max_batch=4, sampling=SamplingParams(repetition_penalty=1.0, seed=7)
    )
    asked.close()
    assert asked.chosen_by == "configured; it ignores seed=7"
    plain = start_engine(lm, "auto", max_batch=4, sampling=SamplingParams(repetition_penalty=1.0))
    plain.close()
    assert plain.chosen_by == "auto, the faster one on the CPU"


def test_the_paged_cache_is_sized_by_free_memory_not_by_the_whole_context(lm: LoadedModel) -> None:
    per_block = kv_bytes_per_token(lm) * PAGE_SIZE
    config = lm.model.config
    assert (
        per_block
        == 2
        * config.num_hidden_layers
        * config.num_key_value_heads
        * (config.hidden_size // config.num_attention_heads)
        * 4
        * PAGE_SIZE
    )  # float32 keys and values
    long_context = dataclasses.replace(lm, context_window=131_072)  # a 128k model, as the issue found
    wanted = 32 * 131_072 // PAGE_SIZE
    gib = 2**30
    blocks = cache_blocks(long_context, 32, free_bytes=gib)
    assert blocks < wanted
    assert blocks * per_block <= gib * CACHE_MEMORY_SHARE < (blocks + 1) * per_block
    # Where everything fits, it is max_batch whole contexts, as before.
    assert cache_blocks(lm, 4, free_bytes=64 * gib) == 4 * -(-lm.context_window // PAGE_SIZE)
    too_small = (
        rf"needs {per_block / 2**20:,.1f} MiB per block of 256 tokens and {per_block // 2**20} MiB are free"
    )
    with pytest.raises(
        CacheTooSmallError, match=too_small + r" on cpu; .* \(\[model\] engine = \"botkit\"\)"
    ):
        TransformersBatcher(long_context, max_batch=32, free_bytes=per_block)  # half a block at the share


def test_a_request_longer_than_the_cache_is_refused_and_the_next_one_answered(lm: LoadedModel) -> None:
    one_block = kv_bytes_per_token(lm) * PAGE_SIZE
    # A model that reads 1,024 tokens with memory for one block of 256: a 300-token prompt fits the model,
    # not the cache.
    longer = dataclasses.replace(lm, context_window=4 * PAGE_SIZE)
    small = TransformersBatcher(longer, max_batch=2, free_bytes=int(one_block / CACHE_MEMORY_SHARE))
    try:
        assert small.num_blocks == 1
        too_long = GenerationJob(list(range(5, 305)), GREEDY)
        refused = finish(small.submit(too_long))[0]
        assert isinstance(refused.error, PromptTooLongError)
        assert "too long for the memory this model has" in str(refused.error)
        answered = finish(small.submit(ask(lm, QUESTIONS[0])))[0]
        assert answered.error is None
        assert answered.text
    finally:
        small.close()
