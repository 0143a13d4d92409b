"""Batched decoding and the batching scheduler, on a tiny real model."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from botkit.model.chat_format import encode_chat
from botkit.model.decoding import generate_batch
from botkit.model.jobs import GenerationJob, PromptTooLongError, token_budget
from botkit.model.loader import LoadedModel, load_model
from botkit.model.local import LocalGenerator
from botkit.model.scheduler import BatchScheduler
from botkit.types import SamplingParams

GREEDY = SamplingParams(max_new_tokens=24, temperature=0.0, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def lm(tiny_model_dir: Path) -> LoadedModel:
    return load_model(tiny_model_dir, device="cpu")


def prompt(lm: LoadedModel, text: str) -> list[int]:
    return encode_chat(lm.tokenizer, [{"role": "user", "content": text}])


def run(lm: LoadedModel, *jobs: GenerationJob) -> list[GenerationJob]:
    generate_batch(lm, jobs)
    assert all(job.done.is_set() for job in jobs)
    return list(jobs)


def test_batched_greedy_rows_match_the_same_rows_alone(lm: LoadedModel) -> None:
    texts = ["hi", "hello there, how are you today?", "botkit"]  # different lengths: left padding
    alone = [run(lm, GenerationJob(prompt(lm, t), GREEDY))[0].text for t in texts]

    batched = run(lm, *(GenerationJob(prompt(lm, t), GREEDY) for t in texts))

    assert [job.text for job in batched] == alone
    assert all(job.batch_size == 3 for job in batched)


def test_each_row_keeps_its_own_stop_sequence_and_token_limit(lm: LoadedModel) -> None:
    reference = run(lm, GenerationJob(prompt(lm, "hi"), GREEDY))[0]
    assert len(reference.text) > 6
    stop = reference.text[4:6]
    cut, short, full = run(
        lm,
        GenerationJob(prompt(lm, "hi"), SamplingParams(**{**GREEDY.to_dict(), "stop": [stop]})),
        GenerationJob(prompt(lm, "hi"), SamplingParams(**{**GREEDY.to_dict(), "max_new_tokens": 3})),
        GenerationJob(prompt(lm, "hi"), GREEDY),
    )

    assert (cut.text, cut.finish_reason) == (reference.text[: reference.text.find(stop)], "stop")
    assert (len(short.completion_ids), short.finish_reason) == (3, "length")
    assert full.text == reference.text


def test_streamed_deltas_add_up_and_never_show_a_stop_sequence(lm: LoadedModel) -> None:
    reference = run(lm, GenerationJob(prompt(lm, "hi"), GREEDY))[0]
    stop = reference.text[5:8]
    pieces: list[str] = []
    params = SamplingParams(**{**GREEDY.to_dict(), "stop": [stop]})

    (job,) = run(lm, GenerationJob(prompt(lm, "hi"), params, on_delta=pieces.append))

    assert "".join(pieces) == job.text
    assert stop not in "".join(pieces)


def test_a_finished_row_leaves_the_batch_at_once(lm: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    widths: list[int] = []
    forward = lm.model.forward

    def counting_forward(*args: Any, **kwargs: Any) -> Any:
        widths.append(int(kwargs["input_ids"].shape[0]))
        return forward(*args, **kwargs)

    monkeypatch.setattr(lm.model, "forward", counting_forward)
    finished_at: list[int] = []
    short = GenerationJob(prompt(lm, "hi"), SamplingParams(**{**GREEDY.to_dict(), "max_new_tokens": 2}))
    long = GenerationJob(
        prompt(lm, "hi"),
        SamplingParams(**{**GREEDY.to_dict(), "max_new_tokens": 12}),
        on_delta=lambda _d: finished_at.append(int(short.done.is_set())),
    )

    run(lm, short, long)

    assert widths[:2] == [2, 2]  # prefill and the first decode step carry both rows
    assert set(widths[2:]) == {1}  # then only the long row is computed
    assert len(widths) == 12  # one prefill + 11 decode steps for the long row's 12 tokens
    assert finished_at
    assert finished_at[-1] == 1


def test_a_seeded_reply_does_not_depend_on_its_batch_companions(lm: LoadedModel) -> None:
    seeded = SamplingParams(max_new_tokens=20, temperature=1.0, top_p=0.9, top_k=0, seed=1234)
    alone = run(lm, GenerationJob(prompt(lm, "hello"), seeded))[0].text
    companions = [
        GenerationJob(prompt(lm, "a much longer prompt than the seeded one, to shift the padding"), GREEDY),
        GenerationJob(prompt(lm, "x"), SamplingParams(max_new_tokens=3, temperature=1.3)),
        GenerationJob(prompt(lm, "hello"), SamplingParams(max_new_tokens=20, temperature=1.0, seed=99)),
    ]

    together = run(lm, companions[0], GenerationJob(prompt(lm, "hello"), seeded), *companions[1:])[1].text

    assert together == alone


def test_a_prompt_too_long_fails_alone_and_the_batch_goes_on(lm: LoadedModel) -> None:
    too_long = GenerationJob(list(range(10, 10 + lm.context_window)), GREEDY)
    fine = GenerationJob(prompt(lm, "hi"), GREEDY)

    run(lm, too_long, fine)

    assert isinstance(too_long.error, PromptTooLongError)
    assert "/reset" in str(too_long.error)
    assert fine.error is None
    assert fine.completion_ids
    assert token_budget(lm, lm.context_window - 5, GREEDY) == 5  # the context caps max_new_tokens


def test_a_deadline_cuts_a_reply_short(lm: LoadedModel) -> None:
    (job,) = run(lm, GenerationJob(prompt(lm, "hi"), GREEDY, deadline=time.monotonic() - 1))

    assert job.finish_reason == "timeout"
    assert len(job.completion_ids) <= 1


def test_scheduler_batches_what_waits_while_the_model_is_busy(lm: LoadedModel) -> None:
    release = threading.Event()
    sizes: list[int] = []

    def runner(model: LoadedModel, jobs: list[GenerationJob]) -> None:
        sizes.append(len(jobs))
        release.wait(5)
        for job in jobs:
            job.complete("stop")

    scheduler = BatchScheduler(lm, max_batch=4, runner=runner)
    try:
        first = scheduler.submit(GenerationJob([1], GREEDY))
        while not sizes:  # the first batch is running (and blocked)
            time.sleep(0.01)
        waiting = [scheduler.submit(GenerationJob([1], GREEDY)) for _ in range(6)]
        release.set()
        for job in [first, *waiting]:
            assert job.done.wait(5)
    finally:
        scheduler.close()

    assert sizes == [1, 4, 2]  # capped at max_batch
    late = scheduler.submit(GenerationJob([1], GREEDY))
    assert isinstance(late.error, RuntimeError)


async def test_local_generator_streams_and_generates_through_the_scheduler(lm: LoadedModel) -> None:
    generator = LocalGenerator(lm, max_batch=4)
    messages = [{"role": "user", "content": "hi"}]
    try:
        pieces = [p async for p in generator.stream(messages, GREEDY)]  # type: ignore[arg-type]
        whole = await generator.generate(messages, GREEDY)  # type: ignore[arg-type]
    finally:
        await generator.close()

    assert "".join(pieces) == whole.text
    assert whole.completion_tokens > 0


def test_a_seeded_top_k_reply_does_not_depend_on_companions_top_k(lm: LoadedModel) -> None:
    seeded = SamplingParams(max_new_tokens=16, temperature=1.0, top_p=1.0, top_k=20, seed=7)
    alone = run(lm, GenerationJob(prompt(lm, "hello"), seeded))[0].text
    wide = GenerationJob(prompt(lm, "x"), SamplingParams(max_new_tokens=16, temperature=1.0, top_k=0))
    wider = GenerationJob(prompt(lm, "y"), SamplingParams(max_new_tokens=16, temperature=1.0, top_k=300))

    assert run(lm, GenerationJob(prompt(lm, "hello"), seeded), wide)[0].text == alone  # full sort
    assert run(lm, GenerationJob(prompt(lm, "hello"), seeded), wider)[0].text == alone  # wider top-k


def test_a_request_arriving_mid_batch_joins_it_and_decodes_as_if_alone(lm: LoadedModel) -> None:
    long_prompt = prompt(lm, "a much longer prompt than the one that joins later, to make it left-padded")
    alone_first = run(lm, GenerationJob(long_prompt, GREEDY))[0].text
    alone_late = run(lm, GenerationJob(prompt(lm, "hi"), GREEDY))[0].text
    late = GenerationJob(prompt(lm, "hi"), GREEDY)
    offered: list[int] = []

    def admit(running: int) -> list[GenerationJob]:
        offered.append(running)
        return [late] if len(offered) == 1 else []

    first = GenerationJob(long_prompt, GREEDY)
    generate_batch(lm, [first], admit=admit, admit_every=2)

    assert offered[0] == 1  # asked after two steps, while the first row was still running
    assert late.batch_size == 2
    assert (first.text, late.text) == (alone_first, alone_late)


def test_a_request_longer_than_the_running_rows_joins_too(lm: LoadedModel) -> None:
    short_prompt = prompt(lm, "hi")
    long_prompt = prompt(lm, "hello there, how are you today? " * 3)
    late = GenerationJob(long_prompt, GREEDY)
    first = GenerationJob(short_prompt, GREEDY)
    calls: list[int] = []

    def admit(running: int) -> list[GenerationJob]:
        calls.append(running)
        return [late] if len(calls) == 1 else []

    generate_batch(lm, [first], admit=admit, admit_every=1)

    assert late.batch_size == 2
    assert first.text == run(lm, GenerationJob(short_prompt, GREEDY))[0].text
    assert late.text == run(lm, GenerationJob(long_prompt, GREEDY))[0].text


def test_scheduler_lets_late_requests_join_the_running_batch(lm: LoadedModel) -> None:
    scheduler = BatchScheduler(lm, max_batch=8)
    slow = SamplingParams(**{**GREEDY.to_dict(), "max_new_tokens": 200})
    started = threading.Event()
    try:
        first = scheduler.submit(GenerationJob(prompt(lm, "hi"), slow, on_delta=lambda _d: started.set()))
        assert started.wait(10)
        late = scheduler.submit(GenerationJob(prompt(lm, "hello"), GREEDY))
        assert late.done.wait(10)
        assert first.done.wait(10)
    finally:
        scheduler.close()

    assert scheduler.batches_run == 1
    assert late.batch_size == 2
