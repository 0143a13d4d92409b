"""Load a local Hugging Face causal-LM directory, offline, with one clear error when it is unusable."""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botkit.model.chat_format import CHAT_TEMPLATE
from botkit.model.generation_defaults import GenerationConfigError, ModelSampling, read_model_sampling

if TYPE_CHECKING:
    import torch

log = logging.getLogger("botkit.model")

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "data" / "default-model"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
MODEL_STACK = ("torch", "transformers", "safetensors")  # the `model` extra

NO_MODEL_EXTRA = "{what} needs the model extra: pip install 'botkit[model]'"
NO_DEFAULT_MODEL = (
    "no default model is installed yet: name one with --model DIR (or [model] path in botkit.toml, or "
    "BOTKIT_MODEL__PATH); train one with `botkit train pipeline --config "
    "training/presets/default_model.toml`"
)


class ModelLoadError(RuntimeError):
    """The model directory is missing, incomplete or unreadable. The message is one line for the user."""


@dataclass
class LoadedModel:
    """A model and its tokenizer, ready to generate.

    Attributes:
        model: the ``PreTrainedModel`` in eval mode on ``device``.
        tokenizer: its tokenizer, with a chat template.
        device: where the weights live.
        context_window: tokens the model attends to (prompt plus reply).
        eos_ids: token ids that end a reply.
        path: the directory it came from.
        compression: how a compressed checkpoint was stored ("" for an ordinary one).
        sampling: the sampling defaults its ``generation_config.json`` asks for.
    """

    model: Any
    tokenizer: Any
    device: torch.device
    context_window: int
    eos_ids: frozenset[int]
    path: Path
    compression: str = ""
    sampling: ModelSampling = field(default_factory=ModelSampling)

    def describe(self) -> str:
        """The directory, and how it was compressed if it was (for ready lines)."""
        return f"{self.path} ({self.compression})" if self.compression else str(self.path)


def default_model_dir() -> Path | None:
    """The model shipped with botkit, or None when this install has none."""
    return DEFAULT_MODEL_DIR if (DEFAULT_MODEL_DIR / "config.json").is_file() else None


def resolve_model_dir(path: str | Path | None) -> Path:
    """The model directory to load: ``path`` when given, else the shipped default; checked.

    Raises:
        ModelLoadError: no path and no shipped model, or the directory is unusable.
    """
    chosen = path or default_model_dir()
    if chosen is None:
        raise ModelLoadError(NO_DEFAULT_MODEL)
    return check_model_dir(chosen)


def require_model_stack(what: str = "the in-process model") -> None:
    """Check that torch, transformers and safetensors are installed, before anything imports them.

    A queue-mode bot installs botkit without them; asking it for the in-process model is a setup
    mistake that deserves one line, not an ImportError's traceback.

    Args:
        what: what needs them, for the message ("the in-process model", "an inference worker").

    Raises:
        ModelLoadError: :data:`NO_MODEL_EXTRA` when one of them is missing.
    """
    if any(importlib.util.find_spec(name) is None for name in MODEL_STACK):
        raise ModelLoadError(NO_MODEL_EXTRA.format(what=what))


def check_model_dir(path: str | Path) -> Path:
    """Check that ``path`` looks like a loadable model directory, before importing torch.

    Raises:
        ModelLoadError: naming the path and what is missing, or its unusable ``generation_config.json``.
    """
    where = Path(path).expanduser()
    if not where.exists():
        raise ModelLoadError(f"model directory {where} does not exist")
    if not where.is_dir():
        raise ModelLoadError(f"model path {where} is a file; name the directory that holds config.json")
    missing = []
    if not (where / "config.json").is_file():
        missing.append("config.json")
    if not any((where / name).is_file() for name in WEIGHT_FILES) and not any(where.glob("*.safetensors")):
        missing.append("weights (model.safetensors)")
    if not any((where / name).is_file() for name in TOKENIZER_FILES):
        missing.append("tokenizer (tokenizer.json / tokenizer_config.json)")
    if missing:
        raise ModelLoadError(f"model directory {where} is missing {', '.join(missing)}")
    _sampling(where)  # a broken generation_config.json stops a worker or `botkit chat` before any load
    return where


def _sampling(where: Path) -> ModelSampling:
    try:
        return read_model_sampling(where)
    except GenerationConfigError as exc:
        raise ModelLoadError(str(exc)) from exc


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: the first CUDA device when present, else the CPU."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as exc:
        raise ModelLoadError(f"unknown device {device!r} (use auto, cpu, cuda or cuda:N)") from exc
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} was asked for but this torch build sees no CUDA device")
    return chosen


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``"auto"``: bfloat16 on CUDA (when supported), float32 on the CPU."""
    import torch

    if dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise ModelLoadError(f"unknown dtype {dtype!r} (use auto, float32, bfloat16 or float16)")
    return value


def load_model(path: str | Path, *, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load the model and tokenizer in ``path`` without touching the network.

    Raises:
        ModelLoadError: one line naming the path and the problem.
    """
    where = check_model_dir(path)
    require_model_stack()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub, even by accident
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from botkit.model.compressed import (
        CompressedCheckpointError,
        describe,
        is_compressed,
        load_compressed_model,
    )

    transformers.utils.logging.disable_progress_bar()
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    compression = ""
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=True)
        if is_compressed(where):  # written by `botkit train vae`: decoded here, served as usual
            model, manifest = load_compressed_model(where, torch_dtype)
            compression = describe(manifest)
        else:
            model = AutoModelForCausalLM.from_pretrained(where, local_files_only=True, dtype=torch_dtype)
    except CompressedCheckpointError as exc:
        raise ModelLoadError(str(exc)) from exc
    except (OSError, ValueError, KeyError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"model directory {where} could not be loaded: {first_line}") from exc
    model.to(torch_device)
    model.eval()
    if tokenizer.chat_template is None:
        log.warning("%s has no chat template; using botkit's ChatML-style template", where)
        tokenizer.chat_template = CHAT_TEMPLATE
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=torch_device,
        context_window=_context_window(model.config, tokenizer),
        eos_ids=_eos_ids(model, tokenizer),
        path=where,
        compression=compression,
        sampling=_sampling(where),
    )


def _context_window(config: Any, tokenizer: Any) -> int:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", 0)
    return int(limit) if 0 < limit < 1_000_000 else 2048


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, list):
        ids.update(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    return frozenset(ids)
