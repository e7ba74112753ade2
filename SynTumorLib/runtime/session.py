"""``TrainingRuntime``: what a trainer enters once — device, DDP, threads, determinism, AMP, compile.

Every trainer (segmenter, texture autoencoder, denoiser) starts the same way::

    with TrainingRuntime.start(cfg.device, amp=cfg.amp, compile=cfg.compile,
                               threads=lambda world: step_threads(voxels, world)) as rt:
        model = rt.wrap(net)                     # DDP under torchrun, then torch.compile on CUDA
        with rt.autocast():                      # AMP on CUDA, float32 on the CPU
            loss = ...
        rt.scaler.scale(loss).backward()
        if rt.is_main: ...                       # rank 0 writes files
        rt.barrier()

and leaves the caller's process as it found it (torch threads, the deterministic-algorithms flag);
a process group it starts stays up until the process exits, for the next trainer in the process. The rules themselves live in the sibling modules: the device rule in
:mod:`.devices`, the thread policy in :mod:`.threads`, DDP in :mod:`.distributed`, AMP/compile and
their CPU fallbacks in :mod:`.precision`.

Example:
    >>> with TrainingRuntime.start("cpu", amp="fp16", threads=1) as rt:
    ...     rt.device.type, rt.amp, rt.is_main, rt.dist.world_size
    ('cpu', 'none', True, 1)
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import distributed as dist_mod
from .devices import resolve_device
from .precision import amp_mode, autocast, check_amp, compile_enabled, grad_scaler, maybe_compile
from .threads import cpu_threads


def seed_everything(seed: int) -> None:
    """Seed torch, numpy's legacy global RNG and Python's ``random`` (what a resume restores)."""
    import torch

    torch.manual_seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    random.seed(int(seed))


def due(step: int, every: int, total: int) -> bool:
    """Is 1-based ``step`` a periodic one (every ``every`` steps) or the last of ``total``?"""
    return step % every == 0 or step == total


def set_deterministic(enabled: bool) -> None:
    """Deterministic algorithms (warn-only where torch has none) and no cuDNN autotuning."""
    import torch

    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


@dataclass
class TrainingRuntime:
    """The resolved runtime of one training process (see the module doc)."""

    device: Any
    dist: dist_mod.DistInfo
    amp: str = "none"
    compile: bool = False

    @classmethod
    @contextmanager
    def start(cls, device: Any = "auto", *, amp: Any = "none", compile: bool = False,
              threads: int | Callable[[int], int] | None = None, deterministic: bool = False,
              warn: bool = False) -> Iterator[TrainingRuntime]:
        """Resolve and set up everything; restore the process on exit.

        Args:
            device: ``auto | cpu | cuda | cuda:N`` (or a ``torch.device``), by the rule of :mod:`.devices`.
            amp: ``none | fp16 | bf16`` (or a boolean); CPU → float32.
            compile: ``torch.compile`` on CUDA; CPU → eager.
            threads: CPU intra-op threads when the device is the CPU — an int, or a function of the
                world size; ``SYNTUMOR_CPU_THREADS`` overrides it. None leaves torch's setting.
            deterministic: :func:`set_deterministic` for the run.
            warn: warn (``RuntimeWarning``) when amp/compile fall back on the CPU.
        """
        import torch

        dev = resolve_device(device)
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        was_threads = torch.get_num_threads()
        try:
            info, dev = dist_mod.init_distributed(dev)
            if dev.type == "cpu" and threads is not None:
                default = threads(info.world_size) if callable(threads) else threads
                torch.set_num_threads(cpu_threads(default))
            if warn and dev.type != "cuda" and (check_amp(amp) != "none" or compile):
                import warnings

                warnings.warn("amp/compile are CUDA-only options: ignored on the CPU", RuntimeWarning, stacklevel=3)
            set_deterministic(deterministic)
            yield cls(device=dev, dist=info, amp=amp_mode(amp, dev), compile=compile_enabled(compile, dev))
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            torch.set_num_threads(was_threads)

    # ------------------------------------------------------------------ rank rules
    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    @property
    def rank(self) -> int:
        return self.dist.rank

    @property
    def world_size(self) -> int:
        return self.dist.world_size

    def barrier(self) -> None:
        dist_mod.barrier(self.dist)

    def mean(self, value: float) -> float:
        return dist_mod.all_reduce_mean(value, self.dist, self.device)

    def gather(self, obj: Any) -> list:
        return dist_mod.all_gather_object(obj, self.dist)

    def broadcast_tensors(self, tensors: list) -> None:
        dist_mod.broadcast_tensors(tensors, self.dist)

    # ------------------------------------------------------------------ models and precision
    def wrap(self, model, compile: bool | None = None):
        """DDP under torchrun (in one process: the model), then ``torch.compile`` when enabled."""
        wrapped = dist_mod.wrap_ddp(model, self.dist, self.device)
        return maybe_compile(wrapped, self.compile if compile is None else compile)

    def autocast(self):
        return autocast(self.amp, self.device)

    def grad_scaler(self):
        return grad_scaler(self.amp, self.device)
