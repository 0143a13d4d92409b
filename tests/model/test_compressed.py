"""A compressed checkpoint served as any model is: close logits, damaged files refused, chat, a worker."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from botkit.config import load_settings
from botkit.model.compressed import TENSORS
from botkit.model.loader import ModelLoadError, load_model
from botkit.queue.client import CeleryGenerator
from botkit.training.compress.stage import run_vae
from botkit.training.config import DataConfig, VAEConfig
from botkit.types import SamplingParams
from tests.queue.servers import RedisServer, WorkerProcess, write_config

BOTKIT = Path(sys.executable).parent / "botkit"
DIALOGUES = [
    [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi, how are you today?"}],
    [
        {"role": "user", "content": "what is botkit?"},
        {"role": "assistant", "content": "it builds chat bots."},
    ],
    [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！我是一个小模型。"}],
]


def compressed(model: Path, out: Path, **settings: object) -> Path:
    data = out.parent / f"{out.name}-calibration.jsonl"
    data.write_text("".join(json.dumps({"messages": d}, ensure_ascii=False) + "\n" for d in DIALOGUES * 8))
    calibration = DataConfig(dialogue_files=[data], validation_fraction=0.0)
    knobs = {"iterations": 2, "fine_tune_steps": 5, "tune_steps": 5, **settings}
    run_vae(VAEConfig(model_dir=model, output_dir=out, calibration=calibration, **knobs))  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def vq_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compressed(tiny_model_dir, tmp_path_factory.mktemp("vq") / "vq4", bits=4)


def tensor_span(path: Path, name: str) -> tuple[int, int]:
    """Where tensor ``name``'s bytes lie in the safetensors file ``path``."""
    blob = path.read_bytes()
    (header_len,) = struct.unpack("<Q", blob[:8])
    start, end = json.loads(blob[8 : 8 + header_len])[name]["data_offsets"]
    return 8 + header_len + start, 8 + header_len + end


def logits(directory: Path, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return load_model(directory, device="cpu", dtype="float32").model(input_ids=ids).logits


def test_the_compressed_model_gives_logits_close_to_the_originals(tiny_model_dir: Path, vq_dir: Path) -> None:
    ids = torch.tensor([[5, 17, 42, 99, 3, 150, 7, 64, 12, 200]])
    original = logits(tiny_model_dir, ids)

    rebuilt = logits(vq_dir, ids)

    assert load_model(vq_dir, device="cpu").compression.startswith("compressed checkpoint: vq 4-bit, ")
    # A random tiny model's logits are small and nearly flat, so 4-bit noise shows as ~15 % of their
    # norm (round-to-nearest 4-bit: 12 %); the next token a greedy decoder picks stays the same.
    assert float((rebuilt - original).norm() / original.norm()) < 0.2
    assert torch.equal(rebuilt.argmax(-1), original.argmax(-1))


def test_a_float_checkpoint_gives_the_same_logits(tiny_model_dir: Path, tmp_path: Path) -> None:
    ids = torch.tensor([[5, 17, 42, 99, 3]])

    exact = logits(compressed(tiny_model_dir, tmp_path / "float", method="float"), ids)

    assert torch.equal(exact, logits(tiny_model_dir, ids))


def test_one_changed_byte_is_refused_naming_the_tensor(vq_dir: Path, tmp_path: Path) -> None:
    damaged = shutil.copytree(vq_dir, tmp_path / "damaged")
    name = "model.layers.1.mlp.down_proj.weight.codes"
    start, _ = tensor_span(damaged / TENSORS, name)
    blob = bytearray((damaged / TENSORS).read_bytes())
    blob[start + 3] ^= 0x01
    (damaged / TENSORS).write_bytes(bytes(blob))

    with pytest.raises(ModelLoadError, match=rf"tensor {name} is corrupted \(its SHA-256 differs"):
        load_model(damaged, device="cpu")
    chat = subprocess.run(
        [str(BOTKIT), "chat", "--model", str(damaged)],
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # botkit chat keeps its history in ./.botkit: not the checkout's, shared by every run
    )
    assert chat.returncode == 1
    assert f"tensor {name} is corrupted" in chat.stderr


def test_a_truncated_file_is_refused_naming_the_tensor_cut_short(vq_dir: Path, tmp_path: Path) -> None:
    damaged = shutil.copytree(vq_dir, tmp_path / "truncated")
    blob = (damaged / TENSORS).read_bytes()
    header = json.loads(blob[8 : 8 + struct.unpack("<Q", blob[:8])[0]])
    header.pop("__metadata__", None)
    last = max(header, key=lambda n: header[n]["data_offsets"][1])
    (damaged / TENSORS).write_bytes(blob[:-100])

    with pytest.raises(ModelLoadError, match=rf"is truncated: tensor {last} needs bytes up to"):
        load_model(damaged, device="cpu")


def test_chat_says_it_serves_a_compressed_checkpoint(vq_dir: Path, tmp_path: Path) -> None:
    chat = subprocess.run(
        [str(BOTKIT), "chat", "--model", str(vq_dir)],
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # as above: its own ./.botkit
    )

    assert chat.returncode == 0, chat.stderr
    assert f"botkit: model ready: {vq_dir} (compressed checkpoint: vq 4-bit, " in chat.stderr
    assert len(chat.stdout.splitlines()) == 1


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_queue_worker_serves_a_compressed_model(
    vq_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "botkit.toml", redis_server.url, vq_dir)
    worker = WorkerProcess(tmp_path, config, vq_dir)
    try:
        worker.wait_ready()
        generator = CeleryGenerator.from_settings(load_settings(config))
        try:
            reply = await generator.generate(
                [{"role": "user", "content": "hello there"}],  # type: ignore[list-item]
                SamplingParams(max_new_tokens=8, temperature=0.0),
            )
        finally:
            await generator.close()
    finally:
        worker.stop()

    assert f"model ready: {vq_dir} (compressed checkpoint: vq 4-bit, " in worker.log
    assert 0 < reply.completion_tokens <= 8
    assert reply.finish_reason in ("stop", "length")
