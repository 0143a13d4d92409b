"""Process-group setup for DDP under ``torchrun`` (gloo on CPU; gloo and nccl on CUDA), and rank helpers.

A stage calls :func:`setup` once; without ``torchrun``'s environment it is a one-process run and
nothing is initialised.

The loop's bookkeeping collectives (token counts, losses, the time-budget vote) reduce a few Python
floats, so they run on CPU tensors; NCCL takes CUDA tensors only, so a CUDA run starts its group with a
backend per device type (``cpu:gloo,cuda:nccl``, as ``torch.distributed`` does by default): gradients,
which live on the GPU, go over NCCL, the scalars over gloo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the job."""

    rank: int = 0
    world_size: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> DistInfo:
    """Initialise the process group if launched by ``torchrun`` and pick this rank's device.

    Args:
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    """
    import torch
    import torch.distributed as dist

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend=backend_for(device))
    return DistInfo(rank=rank, world_size=world, device=device)


def backend_for(device: str, cuda_backend: str = "nccl") -> str:
    """The process-group backend of a run whose model lives on ``device``.

    Every group serves CPU tensors (gloo), which :func:`all_reduce_sum` uses; a CUDA run adds
    ``cuda_backend`` for the GPU tensors (a test passes a stand-in registered for CUDA only).
    """
    return f"cpu:gloo,cuda:{cuda_backend}" if device.startswith("cuda") else "gloo"


def teardown() -> None:
    """Destroy the process group if one was set up."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    """Sum ``values`` over ranks (identity for one process).

    The sum runs on a CPU tensor whatever the training device: the values are host floats already,
    and the group of every run has a CPU backend (:func:`backend_for`).
    """
    if not info.enabled:
        return values
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def barrier(info: DistInfo) -> None:
    """Wait for all ranks (no-op for one process)."""
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()
