"""One rank of ``test_ddp.py::test_cuda_group_serves_the_loops_collectives`` (run under torchrun).

NCCL cannot run here (no GPU), so a stand-in plays it: gloo registered for the ``cuda`` device type
only, which refuses CPU tensors exactly as NCCL does ("No backend type associated with device type
cpu"). With ``old``, the rank starts a group of that backend alone (what a CUDA run used to start) and
tries the loop's first collective; with ``new``, it starts the group a CUDA run starts now and trains two
DDP steps through the real ``Trainer``. It prints one JSON line of what happened. (One group per process:
destroying and starting groups in one job races in gloo's connection set-up.)
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.distributed as dist

from botkit.training.distributed import DistInfo, all_reduce_sum, backend_for
from botkit.training.loop import Trainer
from botkit.training.packing import TokenBlocks
from tests.training.conftest import tiny_loop

STAND_IN = "cuda_only_gloo"


def _gloo(store: dist.Store, rank: int, size: int, timeout: object) -> dist.ProcessGroup:
    return dist.ProcessGroupGloo(store, rank, size, timeout)


class _Bigram(torch.nn.Module):
    """The smallest causal LM the loop takes (``forward(input_ids=...).logits``), without transformers."""

    def __init__(self, vocab: int = 64) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(vocab, vocab)

    def forward(self, input_ids: torch.Tensor, **_: object) -> SimpleNamespace:
        return SimpleNamespace(logits=self.table(input_ids))


def main(phase: str, out_dir: Path) -> None:
    torch.set_num_threads(1)
    dist.Backend.register_backend(STAND_IN, _gloo, devices=["cuda"])
    # The model stays on the CPU here; only the group is the one a CUDA run starts.
    info = DistInfo(rank=int(os.environ["RANK"]), world_size=int(os.environ["WORLD_SIZE"]), device="cpu")
    report: dict[str, object] = {"rank": info.rank, "phase": phase}
    backend = STAND_IN if phase == "old" else backend_for("cuda", cuda_backend=STAND_IN)
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=60))
    if phase == "old":  # nccl alone, as a CUDA run used to start
        try:
            all_reduce_sum([1.0], info)
            report["error"] = None
        except RuntimeError as exc:
            report["error"] = str(exc)
        print(json.dumps(report), flush=True)
        return  # the group cannot even barrier on the CPU; the process exit ends it
    report["sum"] = all_reduce_sum([float(info.rank + 1), 0.5], info)
    torch.manual_seed(0)
    model = _Bigram()
    ids = np.random.default_rng(0).integers(0, 64, size=(16, 16))
    loop = tiny_loop(max_steps=2, micro_batch_size=2, eval_every=1, max_minutes=60.0)
    trainer = Trainer(model, TokenBlocks(ids), TokenBlocks(ids[:4]), loop, out_dir, dist=info)
    summary = trainer.fit()
    report["steps"], report["val_tokens"] = summary["steps"], summary["val_tokens"]
    dist.destroy_process_group()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
