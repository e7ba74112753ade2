"""Tiny segmentation datasets for the test_seg_* suites: MSD folders of make_tiny_ct cases with a
hypodense tumour blob (label 2) inside the pancreas, and tiny training configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import make_tiny_ct

from SynTumorLib.data.msd import MSDWriter


def add_tumour(image, label, seed: int, radius_vox: float = 3.5):
    """Copy of (image, label) with a spherical tumour (≈ 30 HU, label 2) centred on a pancreas voxel."""
    rng = np.random.default_rng(seed)
    organ = np.argwhere(label.array == 1)
    c = organ[rng.integers(len(organ))]
    kk, jj, ii = np.indices(label.shape)
    ball = (kk - c[0]) ** 2 + (jj - c[1]) ** 2 + (ii - c[2]) ** 2 <= radius_vox**2
    img = image.array.copy()
    img[ball] = np.round(30 + rng.normal(0, 8, int(ball.sum()))).astype(img.dtype)
    lab = label.array.copy()
    lab[ball] = 2
    return image.with_array(img), label.with_array(lab)


def make_seg_dataset(root: Path, n_cases: int = 5, tumours: bool = True, shape=(32, 32, 32),
                     spacing=(1.5, 1.5, 1.5), seed: int = 0, prefix: str = "case") -> Path:
    """An MSD folder of ``n_cases`` tiny CTs (with tumours unless ``tumours=False``)."""
    w = MSDWriter(root, name="tiny-seg")
    for n in range(n_cases):
        image, label = make_tiny_ct(shape=shape, spacing=spacing, seed=seed + n)
        if tumours:
            image, label = add_tumour(image, label, seed=seed + 100 + n)
        w.add_case(f"{prefix}_{n:03d}", image, label)
    return Path(root)


def tiny_config(real: Path, **overrides) -> dict:
    """A config that trains a 3-level U-Net on 16³ crops in well under a second per step."""
    cfg = {
        "model": {"name": "unet", "args": {"channels": [4, 8, 16], "num_res_units": 1}},
        "data": {"real": str(real)},
        "split": {"seed": 0, "test_fraction": 0.2, "val_fraction": 0.25},
        "spacing": [1.5, 1.5, 1.5],
        "crop_size": [16, 16, 16],
        "batch_size": 2,
        "iterations": 4,
        "val_every": 2,
        "checkpoint_every": 2,
        "lr": 1e-3,
        "seed": 0,
        "device": "cpu",
    }
    cfg.update(overrides)
    return cfg


def make_model_folder(folder: Path, spacing=(1.5, 1.5, 1.5), crop=(16, 16, 16), channels=(4, 8, 16), seed: int = 0) -> Path:
    """A model folder with a randomly initialised tiny U-Net (no training: for loading/inference tests)."""
    import torch

    from SynTumorLib.segmentation.config import TrainConfig
    from SynTumorLib.segmentation.model_folder import write_model_folder
    from SynTumorLib.segmentation.networks import build_network, resolve_network_spec

    spec = resolve_network_spec({"name": "unet", "args": {"channels": list(channels), "num_res_units": 1}},
                                crop, spacing[::-1])
    cfg = TrainConfig.from_dict({"model": spec, "data": {"real": "unused"}, "spacing": list(spacing),
                                 "crop_size": list(crop), "seed": seed})
    torch.manual_seed(seed)
    net = build_network(spec)
    return write_model_folder(Path(folder), cfg, net.state_dict(), {"train": [], "val": [], "test": []},
                              {"steps": 0, "seed": seed})
