"""``botkit train vae``: compress a model directory's weights into a checkpoint botkit serves.

One function per method produces the encoded matrices; :func:`compress` runs one on a loaded model and
:func:`run_vae` is the stage: load, calibrate on dialogues from the training split, compress, write,
check that the written checkpoint loads, and record what it cost.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from botkit.training.compress import checkpoint, finetune, scalar, vq
from botkit.training.compress.calibration import MAX_TOKENS, compressible, hessians
from botkit.training.config import VAEConfig
from botkit.training.corpora import iter_dialogues
from botkit.training.outputs import check_writable, mark_complete

log = logging.getLogger(__name__)


def model_state(model: Any) -> dict[str, torch.Tensor]:
    """Every tensor of ``model`` once (a head tied to the embedding is left out: it is the same tensor)."""
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    return {
        name: value.detach().float()
        for name, value in model.state_dict().items()
        if not (tied and name == "lm_head.weight")
    }


def calibration_dialogues(cfg: VAEConfig) -> list[list[dict[str, str]]]:
    """The first ``cfg.calibration_dialogues`` dialogues of the training split (never the held-out one)."""
    chosen = []
    for messages in iter_dialogues(cfg.calibration, "train"):
        chosen.append(messages)
        if len(chosen) >= cfg.calibration_dialogues:
            break
    if not chosen:
        raise ValueError("no calibration dialogues: [calibration] names no dialogue source with data")
    return chosen


def tuning_batches(
    tokenizer: Any, dialogues: list[list[dict[str, str]]], cfg: VAEConfig
) -> list[finetune.Batch]:
    """The calibration dialogues in the end-to-end tuning's batches (cut to the calibration length)."""
    return finetune.batches(tokenizer, dialogues, batch_size=cfg.tune_batch, max_tokens=MAX_TOKENS)


def compress(
    model: Any, hs: dict[str, torch.Tensor], cfg: VAEConfig, tuning: list[finetune.Batch] | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Encode ``model``'s matrices by ``cfg.method`` at ``cfg.bits``: the stored tensors and manifest.

    Args:
        model: the float model.
        hs: ``X^T X`` per compressible weight (see ``calibration.hessians``).
        cfg: the stage's settings.
        tuning: calibration batches for the end-to-end tuning (``finetune.batches``); needed when
            ``cfg`` asks for it.
    """
    state = model_state(model)
    names = compressible(model)
    encoded: dict[str, scalar.ScalarCodes | vq.VQCodes] = {}
    books = None
    if cfg.method == "vq":
        fits = [n for n in names if state[n].shape[1] % cfg.dim == 0]
        matrices = {n: state[n] for n in fits}
        books, vq_codes = vq.encode(
            matrices,
            hs,
            codebooks=cfg.bits,
            dim=cfg.dim,
            iterations=cfg.iterations,
            refine_rounds=cfg.refine_rounds,
            seed=cfg.seed,
        )
        if cfg.error_feedback:
            for n in fits:
                vq_codes[n] = vq.encode_with_feedback(matrices[n], hs[n], books, cfg.dim)
        if cfg.fine_tune_steps:
            books, losses = vq.fine_tune(books, vq_codes, matrices, hs, steps=cfg.fine_tune_steps)
            log.info("fine-tuning: relative output error %.5f -> %.5f", losses[0], losses[-1])
        encoded.update(vq_codes)
    elif cfg.method in ("gptq", "rtn"):
        for n in names:
            if cfg.method == "gptq":
                encoded[n] = scalar.gptq(state[n], hs[n], cfg.bits, cfg.group_size)
            else:
                encoded[n] = scalar.rtn(state[n], cfg.bits, cfg.group_size)
    label = cfg.method if cfg.method == "float" else f"{cfg.method} {cfg.bits}-bit"
    if cfg.method in ("gptq", "rtn"):
        label += f" g{cfg.group_size}" if cfg.group_size else " per-channel"
    if wants_tuning(cfg):
        if not tuning:
            raise ValueError("end-to-end tuning needs calibration batches (tune_steps = 0 turns it off)")
        books, _ = finetune.tune(model, state, encoded, books, tuning, steps=cfg.tune_steps, lr=cfg.tune_lr)
        label += " + tuned" if cfg.method != "vq" else ""
    raw = torch.float32 if cfg.method == "float" else torch.float16
    return checkpoint.build(state, encoded, method=label, codebooks=books, raw_dtype=raw)


def wants_tuning(cfg: VAEConfig) -> bool:
    """Whether ``cfg`` asks for end-to-end tuning (the codec by default; the baselines only if told)."""
    tunable = cfg.method == "vq" or (cfg.method in ("gptq", "rtn") and cfg.tune_baselines)
    return tunable and cfg.tune_steps > 0


def run_vae(cfg: VAEConfig) -> dict[str, Any]:
    """Compress ``cfg.model_dir`` into ``cfg.output_dir`` and check that the result loads.

    Returns:
        The manifest written (method, bits per weight and its breakdown, sizes on disk, checksums),
        with the wall time and the load check's figures added.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from botkit.model.compressed import load_compressed_model

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    out = check_writable(cfg.output_dir)
    t0 = time.perf_counter()
    source = Path(cfg.model_dir)
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype=torch.float32).eval()
    dialogues = calibration_dialogues(cfg) if cfg.method != "float" else []
    hs = hessians(model, tokenizer, dialogues) if dialogues else {}
    tuning = tuning_batches(tokenizer, dialogues, cfg) if wants_tuning(cfg) else None
    stored, manifest = compress(model, hs, cfg, tuning)
    manifest = checkpoint.write(stored, manifest, source, out)
    rebuilt, _ = load_compressed_model(out, torch.float32)
    manifest["relative_weight_error"] = relative_error(model, rebuilt)
    manifest["wall_s"] = round(time.perf_counter() - t0, 1)
    summary = {k: v for k, v in manifest.items() if k not in ("weights", "checksums")}
    (out / "compression.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    mark_complete(out, "vae", {"bits_per_weight": manifest["bits_per_weight"]})
    log.info(
        "%s: %.3f bits/weight, %d -> %d bytes on disk",
        manifest["method"],
        manifest["bits_per_weight"],
        manifest["original_size_on_disk_bytes"],
        manifest["size_on_disk_bytes"],
    )
    return manifest


def relative_error(original: Any, rebuilt: Any) -> float:
    """``||W' - W|| / ||W||`` over every matrix of the model (Frobenius norms, summed over matrices)."""
    a, b = model_state(original), model_state(rebuilt)
    num = sum(float((b[n] - a[n]).pow(2).sum()) for n in compressible(original))
    den = sum(float(a[n].pow(2).sum()) for n in compressible(original))
    return (num / den) ** 0.5
