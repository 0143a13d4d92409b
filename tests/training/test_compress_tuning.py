"""End-to-end tuning of a coded model: closer to the float model on dialogues it never saw, same codes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from botkit.model.compressed import MANIFEST, TENSORS, load_compressed_model
from botkit.training.compress.finetune import batches, kl_to_teacher
from botkit.training.compress.stage import run_vae
from botkit.training.config import DataConfig, VAEConfig
from botkit.training.corpora import iter_dialogues


@pytest.fixture(scope="module")
def sharp_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with its matrices scaled up: a random tiny model predicts nearly uniformly, so
    coding errors would barely move its predictions and there would be little for tuning to recover."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with torch.no_grad():
        for _, weight in model.named_parameters():
            if weight.ndim == 2:
                weight.mul_(6.0)
    out = tmp_path_factory.mktemp("sharp-model")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def calibration(corpus_dir: Path) -> DataConfig:
    return DataConfig(dialogue_files=[corpus_dir / "dialogues.jsonl"], validation_fraction=0.2)


def held_out_kl(model_dir: Path, compressed_dir: Path, calibration: DataConfig) -> float:
    """KL(float model || compressed model) per token on the held-out split (never used for tuning)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    teacher = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    student, _ = load_compressed_model(compressed_dir, torch.float32)
    dialogues = list(iter_dialogues(calibration, "validation"))
    assert len(dialogues) >= 10
    total, count = 0.0, 0.0
    with torch.no_grad():
        for ids, mask, weight in batches(tokenizer, dialogues, batch_size=16, max_tokens=256):
            kl = kl_to_teacher(student(input_ids=ids, attention_mask=mask).logits,
                               teacher(input_ids=ids, attention_mask=mask).logits, weight)  # fmt: skip
            total, count = total + float(kl) * float(weight.sum()), count + float(weight.sum())
    return total / count


@pytest.mark.parametrize(("method", "bits"), [("vq", 2), ("gptq", 3)])
def test_tuning_brings_the_coded_model_closer_to_the_float_one_with_the_same_codes(
    sharp_model_dir: Path, tmp_path: Path, calibration: DataConfig, method: str, bits: int
) -> None:
    settings = {"method": method, "bits": bits, "iterations": 4, "fine_tune_steps": 5, "tune_lr": 3e-3}
    settings |= {"calibration": calibration, "calibration_dialogues": 64, "tune_baselines": True}
    plain = run_vae(
        VAEConfig(model_dir=sharp_model_dir, output_dir=tmp_path / "plain", tune_steps=0, **settings)
    )
    tuned = run_vae(
        VAEConfig(model_dir=sharp_model_dir, output_dir=tmp_path / "tuned", tune_steps=40, **settings)
    )

    before = held_out_kl(sharp_model_dir, tmp_path / "plain", calibration)
    after = held_out_kl(sharp_model_dir, tmp_path / "tuned", calibration)
    assert after < 0.8 * before, (before, after)
    # Same codes, so the same bits: only the continuous parameters moved.
    stored_plain, stored_tuned = (
        load_file(tmp_path / "plain" / TENSORS),
        load_file(tmp_path / "tuned" / TENSORS),
    )
    assert stored_plain.keys() == stored_tuned.keys()
    codes = [name for name in stored_plain if name.endswith(".codes")]
    assert codes
    for name in codes:
        assert torch.equal(stored_plain[name], stored_tuned[name]), name
    moved = [name for name in stored_plain if not torch.equal(stored_plain[name], stored_tuned[name])]
    assert any(name.endswith(".scales") for name in moved)
    assert any(name.endswith("norm.weight") for name in moved)
    assert ("codebooks" in moved) == (method == "vq")
    assert tuned["bits_per_weight"] == plain["bits_per_weight"]
    assert tuned["method"] == plain["method"] + ("" if method == "vq" else " + tuned")
    # The manifest's checksums are those of the tuned tensors (the loader above checked every one).
    manifest = json.loads((tmp_path / "tuned" / MANIFEST).read_text())
    for name in moved:
        digest = hashlib.sha256(stored_tuned[name].numpy().tobytes()).hexdigest()
        assert (
            manifest["checksums"][name]
            == digest
            != hashlib.sha256(stored_plain[name].numpy().tobytes()).hexdigest()
        )


def test_tuning_without_calibration_batches_is_refused(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    from botkit.training.compress.stage import compress

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    cfg = VAEConfig(method="rtn", bits=4, tune_baselines=True, tune_steps=3)

    with pytest.raises(ValueError, match="end-to-end tuning needs calibration batches"):
        compress(model, {}, cfg)
