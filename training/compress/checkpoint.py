"""Writing a compressed checkpoint, and counting what it costs honestly.

``build`` turns a model's tensors and a chosen method into the stored tensors and manifest that
``botkit.model.compressed`` reads back; ``write`` saves them beside the config and tokenizer files. The
accounting counts every stored byte (codes, codebooks, scales, zero points and the tensors kept whole)
and divides by the number of weights of the original model, so bits per weight are never flattered by
leaving embeddings or norms out of the count.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from botkit.model.compressed import FORMAT, MANIFEST, TENSORS
from botkit.training.compress.scalar import ScalarCodes
from botkit.training.compress.vq import VQCodes

# Everything in a model directory but its weights: the compressed directory must load like the original.
_COPIED = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
           "chat_template.jinja", "special_tokens_map.json")  # fmt: skip


def pack_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """``bits``-bit integers packed little-endian into uint8 (the inverse of ``unpack_bits``)."""
    values = codes.reshape(-1).numpy().astype(np.int64)
    bit_matrix = ((values[:, None] >> np.arange(bits)) & 1).astype(np.uint8)
    return torch.from_numpy(np.packbits(bit_matrix.reshape(-1), bitorder="little"))


def build(
    state: dict[str, torch.Tensor],
    encoded: dict[str, ScalarCodes | VQCodes],
    *,
    method: str,
    codebooks: torch.Tensor | None = None,
    raw_dtype: torch.dtype = torch.float16,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The stored tensors and the manifest for ``state`` with the matrices in ``encoded`` compressed.

    Args:
        state: every tensor of the model (a tied head left out), name -> tensor.
        encoded: the compressed matrices; every other tensor of ``state`` is stored whole.
        method: a label for the manifest and ready lines (``vq``, ``gptq``, ``rtn``, ``float``).
        codebooks: the shared codebooks of ``vq`` codes.
        raw_dtype: the dtype of tensors stored whole (float16 halves them; float32 keeps them exact).
    """
    stored: dict[str, torch.Tensor] = {}
    weights: dict[str, dict[str, Any]] = {}
    if codebooks is not None:
        stored["codebooks"] = codebooks.half().contiguous()
    for name, tensor in state.items():
        codes = encoded.get(name)
        if isinstance(codes, ScalarCodes):
            stored[f"{name}.codes"] = pack_bits(codes.codes, codes.bits)
            stored[f"{name}.scales"] = codes.scales.contiguous()
            stored[f"{name}.zeros"] = codes.zeros.contiguous()
            spec = {"kind": "scalar", "bits": codes.bits, "group_size": codes.group_size}
        elif isinstance(codes, VQCodes):
            stored[f"{name}.codes"] = codes.codes.contiguous()
            stored[f"{name}.scales"] = codes.scales.contiguous()
            spec = {"kind": "vq"}
        else:
            stored[name] = tensor.detach().to(raw_dtype).contiguous()
            spec = {"kind": "raw"}
        weights[name] = {**spec, "shape": list(tensor.shape)}
    n_weights = sum(t.numel() for t in state.values())
    stored_bits = 8 * sum(t.numel() * t.element_size() for t in stored.values())
    manifest = {
        "format": FORMAT,
        "method": method,
        "weights_count": n_weights,
        "stored_bytes": stored_bits // 8,
        "bits_per_weight": stored_bits / n_weights,
        "breakdown_bits_per_weight": breakdown(stored, n_weights),
        "weights": weights,
    }
    return stored, manifest


def breakdown(stored: dict[str, torch.Tensor], n_weights: int) -> dict[str, float]:
    """Bits per weight by what the bytes are: codes, codebooks, scales (with zero points), whole tensors."""
    parts = {"codes": 0, "codebooks": 0, "scales": 0, "uncompressed": 0}
    for name, tensor in stored.items():
        if name == "codebooks":
            part = "codebooks"
        elif name.endswith(".codes"):
            part = "codes"
        elif name.endswith((".scales", ".zeros")):
            part = "scales"
        else:
            part = "uncompressed"
        parts[part] += 8 * tensor.numel() * tensor.element_size()
    return {part: bits / n_weights for part, bits in parts.items()}


def write(
    stored: dict[str, torch.Tensor], manifest: dict[str, Any], source_dir: Path, out_dir: Path
) -> dict[str, Any]:
    """Save a compressed checkpoint into ``out_dir``, with the configuration and tokenizer of ``source_dir``.

    Returns:
        The manifest as written (with a SHA-256 per stored tensor and the sizes on disk).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in _COPIED:
        if (source_dir / name).is_file():
            shutil.copy2(source_dir / name, out_dir / name)
    save_file(stored, str(out_dir / TENSORS))
    manifest = {
        **manifest,
        "checksums": {name: hashlib.sha256(t.numpy().tobytes()).hexdigest() for name, t in stored.items()},
        "size_on_disk_bytes": (out_dir / TENSORS).stat().st_size,
        "original_size_on_disk_bytes": _weights_size(source_dir),
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _weights_size(model_dir: Path) -> int:
    return sum(p.stat().st_size for p in model_dir.glob("*.safetensors"))
