"""Distributed data parallel through ``torchrun`` (no home-made launcher).

``torchrun`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``; when
they are present :func:`init_distributed` starts the process group — NCCL on CUDA, gloo on the
CPU — and pins each process to GPU ``LOCAL_RANK``. Without them training runs in one process.
Each rank draws its own crops (see ``data.CropSampler``), gradients are averaged by DDP, and only
rank 0 writes checkpoints, logs and the model folder (with barriers around saves).

Example (two GPUs on one machine; two nodes: add ``--nnodes 2 --rdzv-backend c10d
--rdzv-endpoint HOST:29500`` on both)::

    torchrun --nproc_per_node 2 -m SynTumorLib train segmenter --config cfg.json --out models/unet
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_distributed(device_type: str) -> DistInfo:
    """Initialise the process group from torchrun's environment (no-op for a single process)."""
    import torch
    import torch.distributed as dist

    if not env_distributed():
        return DistInfo()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    log.info("DDP: rank %d/%d (local %d), backend %s", rank, world, local, backend)
    return DistInfo(rank=rank, local_rank=local, world_size=world, enabled=True)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def all_reduce_mean(value: float, info: DistInfo, device) -> float:
    """Mean of a scalar over ranks (for logging the global loss)."""
    if not info.enabled:
        return float(value)
    import torch
    import torch.distributed as dist

    t = torch.tensor([float(value)], device=device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def broadcast_object(obj, info: DistInfo):
    """Send a picklable object from rank 0 to every rank (used for the resolved config / splits)."""
    if not info.enabled:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def cleanup(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
