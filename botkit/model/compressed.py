"""Load a compressed checkpoint (``botkit train vae``) back into an ordinary transformers model.

A compressed directory holds the usual ``config.json`` and tokenizer files, plus:

* ``compressed.safetensors``: codes, codebooks, scales and the tensors left uncompressed;
* ``compressed.json``: the manifest: method, bits per weight, how each model tensor is stored, and a
  SHA-256 per stored tensor.

Every stored tensor's bytes are checked against the manifest before any is used, so a truncated file or
a changed byte is refused with an error naming the tensor, never loaded as garbage. The weights are
decoded once, at load time: the saving is on disk, download and load, not in memory or compute.

Stored forms (``kind`` in the manifest, per model tensor ``NAME``):

* ``raw``: ``NAME`` as it was (norms, biases).
* ``scalar``: ``NAME.codes`` (``bits``-bit integers packed little-endian into uint8),
  ``NAME.scales`` (float16, rows x groups) and ``NAME.zeros`` (uint8, rows x groups);
  ``w = (q - zero) * scale`` per group of ``group_size`` input columns (round-to-nearest and GPTQ).
* ``vq``: ``NAME.codes`` (uint8, codebooks x vectors) indexing the shared ``codebooks`` tensor
  (float16, codebooks x entries x dim) and ``NAME.scales`` (float16, one per row); a row's consecutive
  ``dim``-long pieces are the sum of one entry per codebook, times the row's scale.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

MANIFEST = "compressed.json"
TENSORS = "compressed.safetensors"
FORMAT = "botkit-compressed-1"
_DTYPES = {"U8": np.uint8, "F16": np.float16, "F32": np.float32, "I32": np.int32, "I64": np.int64}


class CompressedCheckpointError(RuntimeError):
    """The compressed checkpoint is incomplete or damaged; the message names the file or tensor.

    ``botkit.model.loader.load_model`` turns it into its ``ModelLoadError`` (kept apart so that this
    module does not import the loader that imports it)."""


def is_compressed(path: str | Path) -> bool:
    """Whether ``path`` is a compressed checkpoint directory (it has a manifest)."""
    return (Path(path) / MANIFEST).is_file()


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of the compressed checkpoint in ``path``.

    Raises:
        CompressedCheckpointError: missing, not JSON, or of another format.
    """
    where = Path(path) / MANIFEST
    try:
        manifest = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CompressedCheckpointError(
            f"compressed checkpoint manifest {where} is unreadable: {exc}"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CompressedCheckpointError(f"{where} is not a {FORMAT} manifest")
    return manifest


def describe(manifest: dict[str, Any]) -> str:
    """One phrase for a ready line, e.g. ``compressed checkpoint: vq, 4.09 bits/weight``."""
    return f"compressed checkpoint: {manifest['method']}, {manifest['bits_per_weight']:.2f} bits/weight"


def read_verified_tensors(path: str | Path, checksums: dict[str, str]) -> dict[str, np.ndarray]:
    """Read ``compressed.safetensors`` in ``path``, checking every tensor against ``checksums``.

    The header is parsed here rather than by the safetensors library so that a short or damaged file is
    reported per tensor: a tensor whose bytes run past the end of the file is named as truncated, one
    whose SHA-256 differs from the manifest's is named as corrupted.

    Raises:
        CompressedCheckpointError: naming the file and, where it is one tensor's fault, the tensor.
    """
    where = Path(path) / TENSORS
    try:
        blob = where.read_bytes()
    except OSError as exc:
        raise CompressedCheckpointError(f"compressed checkpoint {where} is unreadable: {exc}") from exc
    if len(blob) < 8:
        raise CompressedCheckpointError(f"{where} is truncated: {len(blob)} bytes, no header")
    (header_len,) = struct.unpack("<Q", blob[:8])
    try:
        header = json.loads(blob[8 : 8 + header_len])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CompressedCheckpointError(f"{where} has a damaged or truncated header: {exc}") from exc
    header.pop("__metadata__", None)
    data = memoryview(blob)[8 + header_len :]
    missing = sorted(set(checksums) - set(header))
    if missing:
        raise CompressedCheckpointError(f"{where} lacks tensor {missing[0]} named in the manifest")
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        if end > len(data):
            raise CompressedCheckpointError(
                f"{where} is truncated: tensor {name} needs bytes up to {end}, the file has {len(data)}"
            )
        raw = data[start:end]
        if hashlib.sha256(raw).hexdigest() != checksums.get(name):
            raise CompressedCheckpointError(
                f"{where}: tensor {name} is corrupted (its SHA-256 differs from the manifest's)"
            )
        tensors[name] = np.frombuffer(raw, dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors


def unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """The first ``count`` ``bits``-bit integers packed little-endian into ``packed`` (uint8)."""
    unpacked = np.unpackbits(packed, bitorder="little")[: count * bits].reshape(count, bits)
    weights = (1 << np.arange(bits, dtype=np.int64)).astype(np.int64)
    return (unpacked.astype(np.int64) @ weights).astype(np.int64)


def decode_tensor(name: str, spec: dict[str, Any], tensors: dict[str, np.ndarray]) -> np.ndarray:
    """Rebuild model tensor ``name`` (float32) from its stored form ``spec``."""
    kind = spec["kind"]
    if kind == "raw":
        return tensors[name].astype(np.float32)
    rows, cols = spec["shape"]
    scales = tensors[f"{name}.scales"].astype(np.float32)
    if kind == "scalar":
        group = spec["group_size"]
        codes = unpack_bits(tensors[f"{name}.codes"], spec["bits"], rows * cols).reshape(rows, cols)
        zeros = tensors[f"{name}.zeros"].astype(np.float32)
        columns_group = np.arange(cols) // group  # which group each input column belongs to
        return (codes - zeros[:, columns_group]) * scales[:, columns_group]
    if kind == "vq":
        books = tensors["codebooks"].astype(np.float32)  # (M, K, dim)
        codes = tensors[f"{name}.codes"].astype(np.int64)  # (M, rows * cols / dim)
        pieces = sum(books[m][codes[m]] for m in range(codes.shape[0]))
        return np.asarray(pieces).reshape(rows, cols) * scales[:, None]
    raise CompressedCheckpointError(f"tensor {name} has an unknown storage kind {kind!r}")


def decode_state_dict(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every model tensor of the compressed checkpoint in ``path``, decoded, and the manifest.

    Raises:
        CompressedCheckpointError: the manifest or a tensor is missing, truncated or corrupted.
    """
    manifest = read_manifest(path)
    tensors = read_verified_tensors(path, manifest["checksums"])
    try:
        decoded = {name: decode_tensor(name, spec, tensors) for name, spec in manifest["weights"].items()}
    except KeyError as exc:
        raise CompressedCheckpointError(f"{Path(path) / TENSORS} lacks tensor {exc.args[0]}") from exc
    return decoded, manifest


def load_compressed_model(path: str | Path, dtype: torch.dtype) -> tuple[Any, dict[str, Any]]:
    """A transformers causal LM built from ``config.json`` in ``path`` with the decoded weights.

    Returns:
        The model (eval mode, on the CPU, in ``dtype``) and the manifest.

    Raises:
        CompressedCheckpointError: the checkpoint is damaged, or its tensors do not fit the config.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    decoded, manifest = decode_state_dict(path)
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    state = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in decoded.items()}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise CompressedCheckpointError(f"{path}: tensors do not fit config.json: {exc}") from exc
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
        missing = [name for name in missing if name != "lm_head.weight"]
    missing = [name for name in missing if not name.endswith("rotary_emb.inv_freq")]
    if missing or unexpected:
        raise CompressedCheckpointError(
            f"{path}: tensors do not fit config.json (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.to(dtype).eval(), manifest
