"""What the two texture trainers share beyond the runtime: tumour crop banks, the run folder, loss logs
and sample PNGs. Device, DDP, AMP, threads and checkpoints come from :mod:`SynTumorLib.runtime`.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data.intensity import window
from ...data.labels import PANCREAS, TUMOUR, tumour_components
from ...runtime.checkpoint import load_checkpoint, save_checkpoint
from ...runtime.session import due
from ...utils.atomic import write_text_atomic
from ...utils.errors import InputError
from ...utils.progress import ProgressCallback
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
                    progress: ProgressCallback | None = None, case_ids: list[str] | None = None) -> CropBank:
    """Extract crops around every tumour (26-connected component of label 2) of ``dataset`` (a path or an
    opened Dataset); ``crop_cfg`` is the config's ``crop`` section."""
    from ...data.datasets import open_dataset
    from .config import section

    ds = open_dataset(dataset) if isinstance(dataset, (str, os.PathLike)) else dataset
    crop_cfg = section("crop", crop_cfg)
    size, sp, jitter = crop_cfg["size"], crop_cfg["spacing_mm"], crop_cfg["jitter_mm"]
    per = crop_cfg["crops_per_tumour"]
    imgs, tums, vols, ids = [], [], [], []
    cases = [c for c in ds.cases() if case_ids is None or c.case_id in case_ids]
    for n, case in enumerate(cases):
        image, label = ds.load(case)
        if label is None:
            continue
        spk = tuple(float(s) for s in image.array_spacing)
        hu, lab = np.asarray(image.array, np.float32), np.asarray(label.array)
        comps = tumour_components(lab == TUMOUR, spk)
        ncomp = comps.count
        rng = np.random.default_rng(child_seed(seed, "crops", case.case_id))
        for c, comp in comps.masks():
            vol = float(comps.voxels[c - 1] * np.prod(spk))
            for _ in range(per):
                g = CropGrid.around(comp, spk, size, sp, rng.uniform(-jitter, jitter, 3))
                imgs.append(window(g.sample(hu)))
                tums.append(g.sample(lab == TUMOUR, order=0) > 0.5)
                vols.append(vol)
                ids.append(case.case_id)
        n_ctx = int(round(per * ncomp * crop_cfg["context_fraction"])) if with_context else 0
        organ = np.argwhere(lab == PANCREAS)
        for _ in range(n_ctx if len(organ) else 0):
            centre = np.zeros(lab.shape, bool)
            centre[tuple(organ[rng.integers(len(organ))])] = True
            g = CropGrid.around(centre, spk, size, sp)
            imgs.append(window(g.sample(hu)))
            tums.append(g.sample(lab == TUMOUR, order=0) > 0.5)
            vols.append(0.0)
            ids.append(case.case_id)
        if progress:
            progress((n + 1) / max(len(cases), 1), f"crops from {case.case_id}")
    if not any(v > 0 for v in vols):
        raise InputError(f"{getattr(ds, 'root', dataset)}: no case has a tumour (label 2); the texture models "
                         "learn from real tumours (e.g. MSD Task07 or `syntumor phantom --tumours 1`)")
    return CropBank(np.stack(imgs)[:, None], np.stack(tums)[:, None].astype(np.uint8), np.asarray(vols), ids)


# ---------------------------------------------------------------------------- runs, checkpoints, logs, PNGs
def prepare_out(out: Path, resume: bool, kind: str) -> dict[str, Any] | None:
    """The checkpoint to resume from (None: start); refuses to overwrite a run without ``--resume``."""
    out = Path(out)
    ckpt = out / "checkpoint.pt"
    if ckpt.exists() and not resume:
        raise InputError(f"{out} already holds a training run; pass --resume to continue it or choose another --out")
    return load_checkpoint(ckpt, kind) if (resume and ckpt.exists()) else None


@dataclass
class StepHooks:
    """What a texture trainer does after each step: report progress (rank 0) and — on rank 0, every
    ``log_every`` / ``sample_every`` / ``checkpoint_every`` steps of its training section and at the
    last step — add a loss-log row, draw a sample PNG and write ``checkpoint.pt``."""

    rt: Any
    out: Path
    kind: str
    total: int
    every: dict[str, Any]  # the config's training section
    log: LossLog | None
    progress: ProgressCallback | None

    def after(self, done: int, values: dict[str, float], message: str, sample, checkpoint) -> None:
        """``sample(done)`` draws the PNG; ``checkpoint(done)`` returns the checkpoint payload."""
        if self.progress and self.rt.is_main:
            self.progress(done / self.total, message)
        if not self.rt.is_main:
            return
        if due(done, self.every["log_every"], self.total):
            self.log.add(done, values)
        if due(done, self.every["sample_every"], self.total):
            sample(done)
        if due(done, self.every["checkpoint_every"], self.total):
            save_checkpoint(self.out / "checkpoint.pt", self.kind, checkpoint(done))


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
    from ...viz import pyplot, save_figure

    plt = pyplot()  # Agg backend, imported only when a figure is drawn

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


def training_threads(world_size: int) -> int:
    """The texture trainers' default CPU threads: torch's current setting (the caller's choice, e.g. the
    demo's one thread); ``SYNTUMOR_CPU_THREADS`` overrides it (:mod:`SynTumorLib.runtime.threads`)."""
    return torch.get_num_threads()
