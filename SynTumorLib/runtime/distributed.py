"""Distributed data parallel through ``torchrun`` (no home-made launcher).

``torchrun`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``; when they
are present (and ``WORLD_SIZE`` > 1) :func:`init_distributed` starts the process group from the
environment (``env://``) — NCCL on CUDA, gloo on the CPU — and pins each process to GPU
``LOCAL_RANK``. Without them training runs in one process and every helper here is a no-op.

Rank-0 rules: every rank trains on its own data (its ``rank`` seeds its draws), gradients are
averaged by DDP, and only rank 0 (:attr:`DistInfo.is_main`) writes checkpoints, logs, samples and the
model folder, with a :func:`barrier` after each save so that no rank runs ahead of a file.

Example (two GPUs on one machine; two nodes: add ``--nnodes 2 --rdzv-backend c10d
--rdzv-endpoint HOST:29500`` on both)::

    torchrun --nproc_per_node 2 -m SynTumorLib train segmenter --config cfg.json --out models/unet

    >>> info = DistInfo()
    >>> info.is_main, info.world_size, all_reduce_mean(2.5, info)
    (True, 1, 2.5)
"""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job: rank, local rank (GPU index on its node), world size."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_distributed() -> bool:
    """Was this process started by ``torchrun`` with more than one process?"""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_distributed(device):
    """Start the process group from torchrun's environment; returns ``(DistInfo, device)``.

    ``device`` is the resolved ``torch.device``; on CUDA each rank gets ``cuda:LOCAL_RANK``.
    A single process gets ``(DistInfo(), device)`` unchanged.
    """
    import torch
    import torch.distributed as dist

    if not env_distributed():
        return DistInfo(), device
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://")
        # one group for the process's lifetime, ended at exit: several trainers in one process (the
        # texture stages, a study) share it — re-creating it on torchrun's store in the same process is fragile
        atexit.register(_destroy)
    log.info("DDP: rank %d/%d (local %d), backend %s", rank, world, local, backend)
    return DistInfo(rank=rank, local_rank=local, world_size=world, enabled=True), device


def _destroy() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def all_reduce_mean(value: float, info: DistInfo, device=None) -> float:
    """Mean of a scalar over ranks (for logging the global loss)."""
    if not info.enabled:
        return float(value)
    import torch
    import torch.distributed as dist

    t = torch.tensor([float(value)], device=device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Send a picklable object from rank 0 to every rank (the resolved config, the splits)."""
    if not info.enabled:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_tensors(tensors: list, info: DistInfo) -> None:
    """Copy rank 0's tensors to every rank in place (state changed outside autograd: a codebook restart)."""
    if info.enabled:
        import torch.distributed as dist

        for t in tensors:
            dist.broadcast(t, src=0)


def all_gather_object(obj: Any, info: DistInfo) -> list:
    """``[obj of rank 0, obj of rank 1, …]`` on every rank (``[obj]`` in one process)."""
    if not info.enabled:
        return [obj]
    import torch.distributed as dist

    out: list = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def wrap_ddp(model, info: DistInfo, device):
    """``DistributedDataParallel(model)`` under torchrun, the model itself in one process."""
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model):
    """The module inside a DDP (or ``torch.compile``) wrapper."""
    for attr in ("module", "_orig_mod"):
        while hasattr(model, attr):
            model = getattr(model, attr)
    return model
