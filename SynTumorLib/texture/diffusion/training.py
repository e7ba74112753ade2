"""Shared training machinery: tumour crop banks, DDP set-up, AMP, checkpoints, loss logs, sample PNGs.

Both stages train on crops around real tumours (label 2) of a labelled dataset; the autoencoder
also sees a fraction of "context" crops centred in the pancreas. Crops are extracted once into
memory (a *crop bank*), then batches are drawn with random flips from a generator seeded by
``(seed, step, rank)`` — so a resumed run draws the same batches as an uninterrupted one.

Example:
    >>> import numpy as np
    >>> bank = CropBank(np.zeros((3, 1, 8, 8, 8), np.float32), np.zeros((3, 1, 8, 8, 8), np.uint8),
    ...                 np.array([10.0, 0.0, 500.0]), ["a", "a", "b"])
    >>> x, m, idx = bank.batch(2, seed=0, step=0)
    >>> x.shape, m.shape, len(idx)
    (torch.Size([2, 1, 8, 8, 8]), torch.Size([2, 1, 8, 8, 8]), 2)
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data.intensity import window
from ...utils.atomic import atomic_path, write_text_atomic
from ...utils.errors import InputError
from ...utils.seeding import child_seed
from .crops import CropGrid


@dataclass
class CropBank:
    """Windowed crops ``images`` (N,1,S,S,S) in [0,1], ``tumours`` masks, tumour ``volumes_mm3``
    (0 for context crops) and the ``case_ids`` they came from."""

    images: np.ndarray
    tumours: np.ndarray
    volumes_mm3: np.ndarray
    case_ids: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, keep: np.ndarray) -> CropBank:
        keep = np.asarray(keep)
        return CropBank(self.images[keep], self.tumours[keep], self.volumes_mm3[keep],
                        [self.case_ids[i] for i in np.flatnonzero(keep)] if keep.dtype == bool
                        else [self.case_ids[i] for i in keep])

    def batch(self, size: int, seed: int, step: int, rank: int = 0, pool: np.ndarray | None = None):
        """A random batch (images, masks, indices) with random flips, reproducible from (seed, step, rank)."""
        rng = np.random.default_rng(child_seed(seed, "batch", step, rank))
        pool = np.arange(len(self)) if pool is None else pool
        idx = rng.choice(pool, size=size, replace=len(pool) < size)
        x, m = self.images[idx].copy(), self.tumours[idx].copy()
        for b in range(size):
            for ax in np.flatnonzero(rng.random(3) < 0.5):
                x[b] = np.flip(x[b], axis=1 + ax)
                m[b] = np.flip(m[b], axis=1 + ax)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(m)).float(), idx


def build_crop_bank(dataset, crop_cfg: dict[str, Any], seed: int, with_context: bool,
                    progress: Callable[[float, str], None] | None = None, case_ids: list[str] | None = None) -> CropBank:
    """Extract crops around every tumour (label 2) of ``dataset`` (a path or an opened Dataset)."""
    from scipy import ndimage

    from ...data.datasets import open_dataset

    ds = open_dataset(dataset) if isinstance(dataset, (str, os.PathLike)) else dataset
    size, sp, jitter = int(crop_cfg["size"]), float(crop_cfg["spacing_mm"]), float(crop_cfg.get("jitter_mm", 0))
    per = int(crop_cfg.get("crops_per_tumour", 8))
    if size % 4:
        raise InputError(f"crop size must be a multiple of 4 (the autoencoder downsamples 4×), got {size}")
    imgs, tums, vols, ids = [], [], [], []
    cases = [c for c in ds.cases() if case_ids is None or c.case_id in case_ids]
    for n, case in enumerate(cases):
        image, label = ds.load(case)
        if label is None:
            continue
        spk = tuple(float(s) for s in image.array_spacing)
        hu, lab = np.asarray(image.array, np.float32), np.asarray(label.array)
        comps, ncomp = ndimage.label(lab == 2)
        rng = np.random.default_rng(child_seed(seed, "crops", case.case_id))
        for c in range(1, ncomp + 1):
            comp = comps == c
            vol = float(comp.sum() * np.prod(spk))
            for _ in range(per):
                g = CropGrid.around(comp, spk, size, sp, rng.uniform(-jitter, jitter, 3))
                imgs.append(window(g.sample(hu)))
                tums.append(g.sample(lab == 2, order=0) > 0.5)
                vols.append(vol)
                ids.append(case.case_id)
        n_ctx = int(round(per * ncomp * float(crop_cfg.get("context_fraction", 0.0)))) if with_context else 0
        organ = np.argwhere(lab == 1)
        for _ in range(n_ctx if len(organ) else 0):
            centre = np.zeros(lab.shape, bool)
            centre[tuple(organ[rng.integers(len(organ))])] = True
            g = CropGrid.around(centre, spk, size, sp)
            imgs.append(window(g.sample(hu)))
            tums.append(g.sample(lab == 2, order=0) > 0.5)
            vols.append(0.0)
            ids.append(case.case_id)
        if progress:
            progress((n + 1) / max(len(cases), 1), f"crops from {case.case_id}")
    if not any(v > 0 for v in vols):
        raise InputError(f"{getattr(ds, 'root', dataset)}: no case has a tumour (label 2); the texture models "
                         "learn from real tumours (e.g. MSD Task07 or `syntumor phantom --tumours 1`)")
    return CropBank(np.stack(imgs)[:, None], np.stack(tums)[:, None].astype(np.uint8), np.asarray(vols), ids)


# ---------------------------------------------------------------------------- devices, DDP, AMP
@dataclass
class Dist:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str = "auto") -> Dist:
    """One process per GPU under ``torchrun`` (NCCL), or several CPU processes (gloo); else a single process."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if device not in ("auto", "cuda", "cpu"):
        raise InputError(f"device must be auto, cuda or cpu, got {device!r}")
    dev = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(dev)
    return Dist(int(os.environ.get("RANK", "0")) if world > 1 else 0, world, dev)


def wrap_ddp(model: torch.nn.Module, d: Dist) -> torch.nn.Module:
    if d.world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(model, device_ids=[d.device.index] if d.device.type == "cuda" else None)


def broadcast_buffers(tensors: list[torch.Tensor], d: Dist) -> None:
    """Copy rank 0's tensors to every rank (state changed outside autograd, e.g. a codebook restart)."""
    if d.world > 1:
        for t in tensors:
            torch.distributed.broadcast(t, src=0)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def amp_context(enabled: bool, device: torch.device):
    """float16 autocast on CUDA; on the CPU AMP is off and training runs in float32 (the fallback)."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return nullcontext()


def grad_scaler(enabled: bool, device: torch.device) -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cuda", enabled=bool(enabled and device.type == "cuda"))


# ---------------------------------------------------------------------------- checkpoints, logs, PNGs
def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomic ``torch.save`` of tensors/ints/dicts only (so that ``weights_only=True`` can read it)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is the same user problem
        raise InputError(f"{path}: checkpoint cannot be read ({type(e).__name__}: {e}); "
                         "delete it to start again") from None


def prepare_out(out: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (or None); refuses to overwrite a run without ``--resume``."""
    out = Path(out)
    ckpt = out / "checkpoint.pt"
    if ckpt.exists() and not resume:
        raise InputError(f"{out} already holds a training run; pass --resume to continue it or choose another --out")
    return ckpt if (resume and ckpt.exists()) else None


class LossLog:
    """``loss_log.csv`` (step + one column per loss), rewritten atomically; truncated on resume."""

    def __init__(self, path: Path, columns: list[str], resume_step: int = 0) -> None:
        self.path, self.columns, self.rows = Path(path), ["step", *columns], []
        if resume_step and self.path.exists():
            with open(self.path, newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]

    def add(self, step: int, values: dict[str, float]) -> None:
        self.rows.append({"step": step, **{k: f"{float(v):.6g}" for k, v in values.items()}})
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(self.rows)
        write_text_atomic(self.path, buf.getvalue())


def save_sample_png(path: Path, rows: list[tuple[str, np.ndarray]], mask: np.ndarray | None = None) -> Path:
    """A PNG grid: one column per crop, one row per named (B,1,S,S,S) array in [0,1], mid-tumour slices."""
    from ...viz.overlay import _mpl, save_figure

    plt = _mpl()  # Agg backend, imported only when a figure is drawn

    n = rows[0][1].shape[0]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.6 * n, 1.6 * len(rows)), squeeze=False)
    for b in range(n):
        k = rows[0][1].shape[2] // 2
        if mask is not None and mask[b].any():
            k = int(np.argwhere(mask[b, 0]).mean(0)[0])
        for r, (name, arr) in enumerate(rows):
            ax = axes[r, b]
            ax.imshow(arr[b, 0, k], cmap="gray", vmin=0, vmax=1)
            if mask is not None and mask[b, 0, k].any():
                ax.contour(mask[b, 0, k], levels=[0.5], colors="r", linewidths=0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if b == 0:
                ax.set_ylabel(name, fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)
