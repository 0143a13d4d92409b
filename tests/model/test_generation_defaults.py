"""A model's generation_config.json supplies the sampling defaults: what the user set wins, field by field."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from botkit import Bot
from botkit.config import Settings, load_settings
from botkit.model.generation_defaults import read_model_sampling
from botkit.model.loader import ModelLoadError, check_model_dir
from botkit.plugins.chat import EMPTY_REPLY, ChatPlugin
from botkit.runtime import build_generator
from botkit.stores import MemoryStore
from botkit.testing import BotTester
from botkit.types import SamplingParams
from tests.core.installed import clean_env, run_botkit

# What `botkit train tune-generation --write` puts in the file, plus a reply length of the model's own.
TUNED = {"do_sample": True, "temperature": 0.3, "top_p": 0.5, "top_k": 7, "repetition_penalty": 1.3}
FILE_VALUES = {"max_new_tokens": 9, "temperature": 0.3, "top_p": 0.5, "top_k": 7, "repetition_penalty": 1.3}
FROM_FILE = SamplingParams(**FILE_VALUES)  # type: ignore[arg-type]
TUNED_NOTE = (
    "sampling from model: max_new_tokens 9, temperature 0.3, top_p 0.5, top_k 7, repetition_penalty 1.3"
)
HELLO = [{"role": "user", "content": "hello there"}]


def with_generation_config(source: Path, target: Path, **fields: object) -> Path:
    """A copy of the model in ``source`` whose generation_config.json also holds ``fields``."""
    shutil.copytree(source, target)
    path = target / "generation_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def tuned_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("tuned") / "model"
    return with_generation_config(tiny_model_dir, target, **TUNED, max_new_tokens=9)


def _config(tmp_path: Path, model: Path, *lines: str) -> Path:
    config = tmp_path / "botkit.toml"
    config.write_text("\n".join(["[model]", f'path = "{model}"', 'device = "cpu"', *lines]) + "\n")
    return config


def test_fields_the_user_left_unset_come_from_the_model(tuned_model: Path, tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, tuned_model))

    assert read_model_sampling(tuned_model).fill(settings.model.sampling_params()) == FROM_FILE


def test_a_field_set_in_the_file_or_environment_wins_even_at_the_builtin_value(
    tuned_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0.7 is botkit's own default: written down, it is still the user's choice, not the model's.
    monkeypatch.setenv("BOTKIT_MODEL__TOP_K", "3")
    settings = load_settings(_config(tmp_path, tuned_model, "temperature = 0.7"))

    filled = read_model_sampling(tuned_model).fill(settings.model.sampling_params())

    assert filled == SamplingParams(
        max_new_tokens=9, temperature=0.7, top_p=0.5, top_k=3, repetition_penalty=1.3
    )


def test_without_sampling_fields_the_builtin_defaults_stay(tiny_model_dir: Path) -> None:
    model = read_model_sampling(tiny_model_dir)  # transformers' own file: token ids only

    assert model.fill(Settings().model.sampling_params()) == SamplingParams()
    assert model.note() == ""


def test_do_sample_false_means_greedy(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = read_model_sampling(
        with_generation_config(tiny_model_dir, tmp_path / "m", do_sample=False, temperature=0.9)
    )

    assert model.fill(Settings().model.sampling_params()).temperature == 0.0
    assert model.note() == "sampling from model: temperature 0 (do_sample false)"


def test_params_written_in_code_are_not_replaced(tuned_model: Path) -> None:
    asked = SamplingParams(max_new_tokens=160, temperature=0.3)  # e.g. the knowledge base's rephrasing

    assert read_model_sampling(tuned_model).fill(asked) == asked
    assert "from_model" not in asked.to_dict()  # so a worker that predates the field still reads it


def test_which_fields_are_left_to_the_model_travels_with_a_queue_request() -> None:
    params = Settings(model={"temperature": 0.2}).model.sampling_params()

    back = SamplingParams.from_dict(json.loads(json.dumps(params.to_dict())))

    assert back == params
    assert back.from_model == {"max_new_tokens", "top_p", "top_k", "repetition_penalty"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ('["temperature", 0.3]', "should hold a JSON object, not list"),
        ('{"do_sample": "yes"}', "has an unusable do_sample: 'yes' (true or false)"),
        ('{"top_p": 1.5}', "has an unusable sampling value: top_p: Input should be less than or equal to 1"),
        ('{"top_k": "40"}', "has an unusable sampling value: top_k: Input should be a valid integer"),
    ],
)
def test_a_malformed_file_is_an_error_naming_it(
    tiny_model_dir: Path, tmp_path: Path, content: str, problem: str
) -> None:
    broken = shutil.copytree(tiny_model_dir, tmp_path / "broken")
    (broken / "generation_config.json").write_text(content, encoding="utf-8")

    with pytest.raises(ModelLoadError) as info:
        check_model_dir(broken)

    assert str(info.value).startswith(f"{broken / 'generation_config.json'} ")
    assert problem in str(info.value)


async def _reply(settings: Settings, text: str) -> str:
    """What a user sees from the chat plugin on the in-process backend built from ``settings``."""
    bot = Bot([ChatPlugin()], model=build_generator(settings), store=MemoryStore(), settings=settings)
    async with BotTester(bot) as tester:
        await tester.send(text)
        return tester.assert_reply().text


async def test_the_in_process_backend_samples_with_the_models_defaults(tuned_model: Path) -> None:
    settings = Settings(model={"path": tuned_model, "device": "cpu", "seed": 4})
    gen = build_generator(settings)
    try:
        assert getattr(gen, "sampling_note", None) == TUNED_NOTE
        left_to_model = await gen.generate(HELLO, settings.model.sampling_params())  # type: ignore[arg-type]
        spelled_out = await gen.generate(HELLO, dataclasses.replace(FROM_FILE, seed=4))  # type: ignore[arg-type]
        builtin = await gen.generate(HELLO, SamplingParams(seed=4))  # type: ignore[arg-type]
        shorter = Settings(
            model={"path": tuned_model, "seed": 4, "max_new_tokens": 3}
        ).model.sampling_params()
        cut = await gen.generate(HELLO, shorter)  # type: ignore[arg-type]
    finally:
        await gen.close()

    assert left_to_model.completion_tokens == 9, left_to_model  # the file's length, not botkit's 96
    assert left_to_model.text == spelled_out.text
    assert builtin.text != left_to_model.text  # the check can fail: botkit's own defaults sample otherwise
    assert cut.completion_tokens == 3  # max_new_tokens set by the user; the rest still the model's
    assert left_to_model.text.startswith(cut.text)  # same seed, same model sampling: the same first tokens


async def test_a_user_in_chat_sees_the_reply_sampled_as_the_model_asks(tuned_model: Path) -> None:
    model = {"path": tuned_model, "device": "cpu", "seed": 4}
    from_model = await _reply(Settings(model=model), "hello there")
    spelled_out = await _reply(Settings(model={**model, **FILE_VALUES}), "hello there")
    hotter = await _reply(Settings(model={**model, "temperature": 1.0}), "hello there")

    assert from_model != EMPTY_REPLY
    assert from_model == spelled_out
    assert hotter != from_model  # one field set in the configuration changes the reply


def test_botkit_chat_says_the_sampling_came_from_the_model(tuned_model: Path, tmp_path: Path) -> None:
    chat = run_botkit(["chat", "--model", str(tuned_model)], stdin=b"hello\n", cwd=tmp_path)

    assert chat.returncode == 0, chat.stderr.decode()
    assert f"botkit: model ready: {tuned_model}; {TUNED_NOTE}" in chat.stderr.decode().splitlines()
    assert len(chat.stdout.decode().splitlines()) == 1


def test_botkit_chat_with_a_malformed_file_exits_1_naming_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = shutil.copytree(tiny_model_dir, tmp_path / "broken")
    (broken / "generation_config.json").write_text('{"temperature": -1}', encoding="utf-8")

    chat = run_botkit(["chat", "--model", str(broken)], stdin=b"hello\n", cwd=tmp_path, env=clean_env())

    assert chat.returncode == 1
    assert chat.stderr.decode().strip() == (
        f"botkit chat: {broken / 'generation_config.json'} has an unusable sampling value: "
        "temperature: Input should be greater than or equal to 0"
    )
