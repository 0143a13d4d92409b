"""Loading local model directories: the real transformers code on a tiny model, and clear errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from botkit.config import QueueSettings, Settings
from botkit.model import loader
from botkit.model.chat_format import encode_chat
from botkit.model.loader import ModelLoadError, load_model, resolve_device, resolve_dtype
from botkit.model.local import LocalGenerator
from botkit.runtime import build_generator
from botkit.types import SamplingParams

ROOT = Path(__file__).resolve().parents[2]


def test_loads_tiny_model_on_cpu_float32(tiny_model_dir: Path) -> None:
    lm = load_model(tiny_model_dir)
    assert lm.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert lm.context_window == 256
    assert lm.tokenizer.convert_tokens_to_ids("<|im_end|>") in lm.eos_ids
    ids = encode_chat(lm.tokenizer, [{"role": "user", "content": "hi"}])
    assert lm.tokenizer.decode(ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    if lm.device.type == "cpu":
        assert next(lm.model.parameters()).dtype == torch.float32


def test_device_and_dtype_overrides(tiny_model_dir: Path) -> None:
    lm = load_model(tiny_model_dir, device="cpu", dtype="bfloat16")
    assert next(lm.model.parameters()).dtype == torch.bfloat16
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    with pytest.raises(ModelLoadError, match="unknown dtype 'float7'"):
        resolve_dtype("float7", torch.device("cpu"))
    with pytest.raises(ModelLoadError, match="unknown device"):
        resolve_device("tpu:banana")
    if not torch.cuda.is_available():
        with pytest.raises(ModelLoadError, match="sees no CUDA device"):
            resolve_device("cuda")


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("config.json", "is missing config.json"),
        ("model.safetensors", "is missing weights (model.safetensors)"),
        (
            "tokenizer.json+tokenizer_config.json",
            "is missing tokenizer (tokenizer.json / tokenizer_config.json)",
        ),
    ],
)
def test_incomplete_directory_names_what_is_missing(
    tiny_model_dir: Path, tmp_path: Path, remove: str, message: str
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    for name in remove.split("+"):
        (broken / name).unlink()
    with pytest.raises(ModelLoadError) as info:
        load_model(broken)
    assert str(info.value) == f"model directory {broken} {message}"
    assert "\n" not in str(info.value)


def test_missing_and_corrupt_directories(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"model directory .*/nowhere does not exist"):
        load_model(tmp_path / "nowhere")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_model_dir, corrupt)
    (corrupt / "config.json").write_text("{ not json")
    with pytest.raises(ModelLoadError, match=r"could not be loaded"):
        load_model(corrupt)
    with pytest.raises(ModelLoadError, match="is a file"):
        load_model(corrupt / "config.json")


def test_no_default_model_message_names_the_preset_that_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(loader, "DEFAULT_MODEL_DIR", tmp_path / "absent")
    with pytest.raises(
        ModelLoadError, match="no default model is installed yet: name one with --model DIR"
    ) as info:
        build_generator(Settings())
    preset = re.search(r"--config (\S+)`", str(info.value))
    assert preset is not None, info.value
    assert (ROOT / preset.group(1)).is_file(), f"the message names {preset.group(1)}, which does not exist"


def test_the_in_process_model_without_the_model_extra_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # what an install without botkit[model] looks like
    settings = Settings(model={"path": tiny_model_dir}, queue=QueueSettings(backend="local"))

    with pytest.raises(ModelLoadError) as info:
        build_generator(settings)

    assert str(info.value) == "the in-process model needs the model extra: pip install 'botkit[model]'"


def test_botkit_chat_without_the_model_extra_exits_1_with_that_line(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "botkit.toml"
    config.write_text(f'[model]\npath = "{tiny_model_dir}"\n', encoding="utf-8")
    hide_model_stack = "import sys; sys.modules.update(torch=None, transformers=None, safetensors=None)"
    run_cli = "from botkit.cli import main; raise SystemExit(main(['chat', '--config', sys.argv[1]]))"
    done = subprocess.run(
        [sys.executable, "-c", f"{hide_model_stack}; {run_cli}", str(config)],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )

    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "botkit chat: the in-process model needs the model extra: pip install 'botkit[model]'"
    ]


async def test_generation_respects_max_tokens_and_is_seeded(tiny_model_dir: Path) -> None:
    gen = LocalGenerator.from_path(tiny_model_dir, device="cpu")
    params = SamplingParams(max_new_tokens=7, temperature=1.0, seed=11)
    messages = [{"role": "user", "content": "hello"}]
    first = await gen.generate(messages, params)  # type: ignore[arg-type]
    again = await gen.generate(messages, params)  # type: ignore[arg-type]
    assert first.completion_tokens <= 7
    assert first.text == again.text
    streamed = [d async for d in gen.stream(messages, params)]  # type: ignore[arg-type]
    assert "".join(streamed) == first.text
    await gen.close()
