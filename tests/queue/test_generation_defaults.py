"""Through Redis and a real worker: the fields a bot leaves unset take the served model's
generation_config.json values; the ones it sets win."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from botkit.config import load_settings
from botkit.queue.client import CeleryGenerator
from botkit.types import SamplingParams
from tests.queue.servers import RedisServer, WorkerProcess, write_config

MODEL_SAYS = {"temperature": 0.3, "top_p": 0.5, "top_k": 7, "repetition_penalty": 1.3, "max_new_tokens": 9}
FROM_MODEL = SamplingParams(seed=4, **MODEL_SAYS)  # type: ignore[arg-type]
NOTE = "sampling from model: max_new_tokens 9, temperature 0.3, top_p 0.5, top_k 7, repetition_penalty 1.3"
HELLO = [{"role": "user", "content": "hello there"}]


async def test_a_worker_fills_what_the_bot_left_unset_from_its_model(
    tiny_model_dir: Path, own_redis: RedisServer, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    served = shutil.copytree(tiny_model_dir, tmp_path / "served")
    config_path = served / "generation_config.json"
    config_path.write_text(
        json.dumps({**json.loads(config_path.read_text()), "do_sample": True, **MODEL_SAYS})
    )
    worker_config = write_config(tmp_path / "worker.toml", own_redis.url, served)
    workers.append(WorkerProcess(tmp_path, worker_config, served).wait_ready())
    # The bots name no model directory of theirs: they count tokens with what the worker publishes.
    bot_config = write_config(tmp_path / "bot.toml", own_redis.url, tmp_path / "absent")
    plain = load_settings(bot_config, model={"seed": 4})
    hotter = load_settings(bot_config, model={"seed": 4, "temperature": 1.0})
    generator = CeleryGenerator.from_settings(plain)
    try:
        left_to_model = await generator.generate(HELLO, plain.model.sampling_params())  # type: ignore[arg-type]
        spelled_out = await generator.generate(HELLO, FROM_MODEL)  # type: ignore[arg-type]
        set_by_bot = await generator.generate(HELLO, hotter.model.sampling_params())  # type: ignore[arg-type]
        spelled_hotter = await generator.generate(HELLO, dataclasses.replace(FROM_MODEL, temperature=1.0))  # type: ignore[arg-type]
    finally:
        await generator.close()

    assert left_to_model.completion_tokens == 9, left_to_model  # the model's length, not botkit's 96
    assert left_to_model.text == spelled_out.text
    assert set_by_bot.text == spelled_hotter.text  # the bot's temperature, the model's other fields
    assert set_by_bot.completion_tokens == 9
    assert set_by_bot.text != left_to_model.text  # so the bot's setting did reach the worker
    ready = next(line for line in workers[0].log.splitlines() if "model ready:" in line)
    assert ready.endswith(f"; {NOTE} where a request leaves it unset")
