"""The compression stage on a tiny model: the codec, the baselines, the accounting and the command."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from botkit.model.compressed import MANIFEST, TENSORS, unpack_bits
from botkit.training.compress.checkpoint import pack_bits
from botkit.training.compress.scalar import gptq, rtn
from botkit.training.compress.stage import run_vae
from botkit.training.config import DataConfig, PipelineConfig, VAEConfig
from botkit.training.pipeline import _order, wire

ROOT = Path(__file__).resolve().parents[2]
BOTKIT = Path(sys.executable).parent / "botkit"


@pytest.fixture(scope="module")
def calibration(corpus_dir: Path) -> DataConfig:
    return DataConfig(dialogue_files=[corpus_dir / "dialogues.jsonl"], validation_fraction=0.1)


def vae(model: Path, out: Path, calibration: DataConfig, **kw: object) -> VAEConfig:
    settings = {"iterations": 4, "fine_tune_steps": 5, "tune_steps": 3, "calibration_dialogues": 24, **kw}
    return VAEConfig(model_dir=model, output_dir=out, calibration=calibration, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8])
def test_packed_codes_unpack_to_the_same_integers(bits: int) -> None:
    codes = torch.randint(0, 2**bits, (37, 11))

    packed = pack_bits(codes, bits)

    assert packed.numel() == math.ceil(codes.numel() * bits / 8)
    assert np.array_equal(unpack_bits(packed.numpy(), bits, codes.numel()), codes.reshape(-1).numpy())


def test_reconstruction_error_falls_as_bits_rise(
    tiny_model_dir: Path, tmp_path: Path, calibration: DataConfig
) -> None:
    errors = {}
    for method, bits in [("vq", 1), ("vq", 2), ("vq", 3), ("rtn", 2), ("rtn", 4), ("rtn", 8)]:
        cfg = vae(tiny_model_dir, tmp_path / f"{method}{bits}", calibration, method=method, bits=bits)
        errors[method, bits] = run_vae(cfg)["relative_weight_error"]

    assert errors["vq", 1] > errors["vq", 2] > errors["vq", 3], errors
    assert errors["rtn", 2] > errors["rtn", 4] > errors["rtn", 8], errors
    assert errors["rtn", 8] < 0.01


def test_gptq_beats_round_to_nearest_on_a_layers_output_error() -> None:
    gen = torch.Generator().manual_seed(0)
    # Correlated inputs, as a layer's real inputs are: what GPTQ's error feedback exploits.
    x = torch.randn(2048, 16, generator=gen) @ torch.randn(16, 64, generator=gen) + 0.1 * torch.randn(
        2048, 64, generator=gen
    )
    w = torch.randn(48, 64, generator=gen)
    h = x.T @ x

    def output_error(q: torch.Tensor) -> float:
        return float(((q - w) @ x.T).pow(2).sum() / (w @ x.T).pow(2).sum())

    for bits, group in [(3, 0), (4, 0), (3, 32)]:
        by_rtn = output_error(rtn(w, bits, group).dequantize())
        by_gptq = output_error(gptq(w, h, bits, group, block_size=16).dequantize())
        assert by_gptq < 0.7 * by_rtn, (bits, group, by_gptq, by_rtn)


def test_bits_per_weight_counted_by_hand(
    tiny_model_dir: Path, tmp_path: Path, calibration: DataConfig
) -> None:
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(tiny_model_dir)
    v, d, f, n = c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers
    # (rows, cols) of every matrix: q, k, v, o; gate, up (f x d); down (d x f); the tied embedding.
    matrices = [(d, d)] * 4 * n + [(f, d)] * 2 * n + [(d, f)] * n + [(v, d)]
    norms = (2 * n + 1) * d  # two RMSNorms per block and the final one, stored as float16
    weights = sum(r * k for r, k in matrices) + norms

    rtn4 = run_vae(vae(tiny_model_dir, tmp_path / "rtn", calibration, method="rtn", bits=4))
    # 4-bit codes packed (each matrix's byte count rounded up), a float16 scale and a uint8 zero per row.
    rtn_bytes = sum(math.ceil(r * k * 4 / 8) + 2 * r + r for r, k in matrices) + 2 * norms
    assert rtn4["stored_bytes"] == rtn_bytes
    assert rtn4["bits_per_weight"] == pytest.approx(8 * rtn_bytes / weights)

    vq2 = run_vae(vae(tiny_model_dir, tmp_path / "vq", calibration, method="vq", bits=2))
    # Two 8-bit codes per 8 weights, a float16 scale per row, two shared codebooks of 256 x 8 float16.
    vq_bytes = sum(2 * r * k // 8 + 2 * r for r, k in matrices) + 2 * 256 * 8 * 2 + 2 * norms
    assert vq2["stored_bytes"] == vq_bytes
    assert vq2["bits_per_weight"] == pytest.approx(8 * vq_bytes / weights)
    parts = vq2["breakdown_bits_per_weight"]
    assert parts["codes"] == pytest.approx(2 * 8 * sum(r * k // 8 for r, k in matrices) / weights)
    assert sum(parts.values()) == pytest.approx(vq2["bits_per_weight"])
    # Size on disk: the whole safetensors file (its header too), beside the original's.
    assert vq2["size_on_disk_bytes"] == (tmp_path / "vq" / TENSORS).stat().st_size > vq_bytes
    assert vq2["original_size_on_disk_bytes"] == (tiny_model_dir / "model.safetensors").stat().st_size


def test_the_command_compresses_a_model_directory(
    tiny_model_dir: Path, tmp_path: Path, corpus_dir: Path
) -> None:
    config = tmp_path / "vae.toml"
    config.write_text(
        "iterations = 2\nfine_tune_steps = 1\ntune_steps = 2\n"
        f'[calibration]\ndialogue_files = ["{corpus_dir}/dialogues.jsonl"]\n'
    )
    out = tmp_path / "out"
    cmd = [str(BOTKIT), "train", "vae", "--model", str(tiny_model_dir), "--bits", "3", "--out", str(out)]

    done = subprocess.run(
        [*cmd, "--config", str(config)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )

    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / MANIFEST).read_text())
    # A tiny model pays for its codebooks: 2 x 256 x 8 float16 values are spread over few weights.
    bits, size = manifest["bits_per_weight"], manifest["size_on_disk_bytes"]
    assert done.stdout.startswith(f"vq 3-bit: {bits:.3f} bits/weight, {size:,} bytes on disk")
    assert done.stdout.strip().endswith(f"-> {out}")
    assert (out / "tokenizer.json").is_file()
    assert (out / "config.json").is_file()
    missing = subprocess.run(
        [str(BOTKIT), "train", "vae", "--model", str(tmp_path / "nowhere"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert (
        missing.stderr.strip()
        == f"botkit train: {tmp_path / 'nowhere'} is not a model directory (it has no config.json)"
    )


def test_the_pipeline_compresses_its_final_model_last(tmp_path: Path) -> None:
    cfg = wire(PipelineConfig(output_dir=tmp_path, vae=VAEConfig(bits=3)))

    assert _order(cfg)[-1] == "vae"
    assert cfg.vae is not None
    assert (cfg.vae.model_dir, cfg.vae.output_dir) == (tmp_path / "sft", tmp_path / "vae")
    assert _order(wire(PipelineConfig(output_dir=tmp_path)))[-1] == "eval"
