"""The tiny CTs, label maps and datasets the tests are made of — one place for all of them.

* shapes: :func:`ellipsoid`, :func:`ball`;
* CTs: :func:`make_tiny_ct` (an abdomen-like CT with a curved pancreas), :func:`oblique_direction`,
  :func:`add_ball_tumour`, :func:`tiny_case`;
* datasets: :func:`write_msd` (any cases in MSD layout), :func:`make_seg_dataset`, :func:`make_msd`
  and the other layouts (:func:`make_task07_like`, :func:`make_btcv`, :func:`make_nih`,
  :func:`make_totalseg_single`, :func:`make_totalseg_subjects`, :func:`make_folder_pairs`,
  :func:`make_folder_images_labels`);
* models and configs: :func:`tiny_config` (a segmenter config that trains in a second),
  :func:`make_model_folder` (an untrained segmenter folder);
* checks: :func:`snapshot`, :func:`file_digests` (prove that inputs were not modified).

Everything is ≤ 48³ voxels and deterministic per seed. Tests import from here (``from builders
import …``), never from another test file; ``conftest.py`` turns a few of them into fixtures.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from SynTumorLib import Volume, write_volume
from SynTumorLib.data.msd import MSDWriter

LAYOUT_SHAPE = (10, 16, 16)
LAYOUT_SPACING = (1.5, 1.5, 2.0)


# ---------------------------------------------------------------------------- shapes
def ellipsoid(shape: Sequence[int], centre: Sequence[float], semi_axes: Sequence[float],
              spacing: Sequence[float] = (1.0, 1.0, 1.0), inclusive: bool = False) -> np.ndarray:
    """``Σ ((x − c)·s / a)² < 1`` (``≤`` with ``inclusive``) over array index x, spacing s (k, j, i)."""
    g = np.indices(shape, dtype=np.float64)
    q = sum(((g[d] - centre[d]) * spacing[d] / semi_axes[d]) ** 2 for d in range(3))
    return q <= 1 if inclusive else q < 1


def ball(shape: Sequence[int], centre: Sequence[float], radius_mm: float,
         spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """``Σ ((x − c)·s)² ≤ r²`` — a ball of ``radius_mm`` on a grid of spacing s (k, j, i)."""
    g = np.indices(shape, dtype=np.float64)
    return sum(((g[d] - centre[d]) * spacing[d]) ** 2 for d in range(3)) <= radius_mm**2


# ---------------------------------------------------------------------------- CTs
def make_tiny_ct(shape=(40, 48, 48), spacing=(1.5, 1.5, 1.5), seed: int = 0, direction_ras: np.ndarray | None = None,
                 origin_ras=(-30.0, -40.0, 10.0)) -> tuple[Volume, Volume]:
    """A small abdomen-like CT: soft tissue ~40 HU, fat ~-100 HU, a curved pancreas ~100 HU.

    Returns (image in HU as int16, label 0/1 uint8) on the same grid. ``spacing`` is i, j, k.
    """
    rng = np.random.default_rng(seed)
    k, j, i = np.indices(shape, dtype=np.float64)
    sp_kji = np.asarray(spacing[::-1])
    # physical coordinates in mm, centred
    z = (k - shape[0] / 2) * sp_kji[0]
    y = (j - shape[1] / 2) * sp_kji[1]
    x = (i - shape[2] / 2) * sp_kji[2]
    img = np.full(shape, -100.0)
    img[(x / 34) ** 2 + (y / 30) ** 2 < 1] = 40.0
    # pancreas: a tube along x bending in y, radius ~7 mm, spanning most of the width
    centre_y = 6.0 * np.sin(x / 18.0)
    tube = ((y - centre_y) ** 2 + (z / 1.2) ** 2 < 8.0**2) & (np.abs(x) < 28)
    img[tube] = 100.0
    img += rng.normal(0, 12, shape)
    label = tube.astype(np.uint8)
    d = np.eye(3) if direction_ras is None else direction_ras
    image = Volume.from_geometry(np.round(img).astype(np.int16), spacing, origin_ras, d)
    return image, image.with_array(label)


def oblique_direction(angle_deg: float = 20.0) -> np.ndarray:
    """A rotation about the S axis followed by a tilt — an oblique, non-axis-aligned direction."""
    a = np.deg2rad(angle_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    b = np.deg2rad(angle_deg / 2)
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def add_ball_tumour(image: Volume, label: Volume, seed: int, radius_vox: float = 3.5, hu: float = 30.0,
                    noise_hu: float = 8.0) -> tuple[Volume, Volume]:
    """Copy of (image, label) with a ball tumour (label 2, ``hu`` ± ``noise_hu`` HU) of ``radius_vox`` voxels
    centred on a pancreas voxel drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    organ = np.argwhere(label.array == 1)
    c = organ[rng.integers(len(organ))]
    kk, jj, ii = np.indices(label.shape)
    inside = (kk - c[0]) ** 2 + (jj - c[1]) ** 2 + (ii - c[2]) ** 2 < radius_vox**2
    img = image.array.copy()
    values = hu + rng.normal(0, noise_hu, int(inside.sum())) if noise_hu else np.full(int(inside.sum()), hu)
    img[inside] = np.round(values).astype(img.dtype)
    lab = label.array.copy()
    lab[inside] = 2
    return image.with_array(img), label.with_array(lab)


def tiny_case(seed: int = 0, tumour: bool = True, shape=LAYOUT_SHAPE) -> tuple[Volume, Volume]:
    """A small CT (int16 HU) + canonical label: pancreas 1 and, optionally, a 2×2×2-voxel tumour."""
    image, label = make_tiny_ct(shape=shape, spacing=LAYOUT_SPACING, seed=seed)
    lab = label.array.copy()
    if tumour:
        k, j, i = np.argwhere(lab == 1)[len(np.argwhere(lab == 1)) // 2]
        lab[k : k + 2, j : j + 2, i : i + 2] = 2
    return image, label.with_array(lab)


def with_values(label: Volume, mapping: dict[int, int]) -> Volume:
    """Re-encode a canonical label map with source values (e.g. {1: 11} for BTCV)."""
    out = np.zeros(label.shape, np.uint8)
    for canonical, src in mapping.items():
        out[label.array == canonical] = src
    return label.with_array(out)


# ---------------------------------------------------------------------------- datasets
def write_msd(root: Path, cases: Iterable[tuple[str, Volume, Volume]], name: str = "tiny") -> Path:
    """An MSD-layout dataset of ``(case id, image, label)``."""
    w = MSDWriter(root, name=name)
    for case_id, image, label in cases:
        w.add_case(case_id, image, label)
    return Path(root)


def make_seg_dataset(root: Path, n_cases: int = 5, tumours: bool = True, shape=(32, 32, 32),
                     spacing=(1.5, 1.5, 1.5), seed: int = 0, prefix: str = "case") -> Path:
    """An MSD folder of ``n_cases`` tiny CTs (with a ball tumour each unless ``tumours=False``)."""

    def case(n: int):
        image, label = make_tiny_ct(shape=shape, spacing=spacing, seed=seed + n)
        if tumours:
            image, label = add_ball_tumour(image, label, seed=seed + 100 + n)
        return f"{prefix}_{n:03d}", image, label

    return write_msd(root, (case(n) for n in range(n_cases)), name="tiny-seg")


def make_msd(root: Path, n: int = 2) -> Path:
    return write_msd(root, ((f"pancreas_{c:03d}", *tiny_case(seed=c, tumour=c % 2 == 0)) for c in range(n)))


def make_task07_like(root: Path) -> Path:
    """The original Task07 dataset.json style: labels by name, a test list, macOS '._' junk files."""
    images, labels = root / "imagesTr", root / "labelsTr"
    image, label = tiny_case(seed=3)
    write_volume(image, images / "pancreas_004.nii.gz")
    write_volume(label, labels / "pancreas_004.nii.gz")
    write_volume(image, root / "imagesTs" / "pancreas_010.nii.gz")
    (images / "._pancreas_004.nii.gz").write_bytes(b"\x00\x05\x16\x07junk")
    meta = {"name": "Pancreas", "labels": {"0": "background", "1": "pancreas", "2": "cancer"},
            "modality": {"0": "CT"}, "numTraining": 1, "numTest": 1,
            "training": [{"image": "./imagesTr/pancreas_004.nii.gz", "label": "./labelsTr/pancreas_004.nii.gz"}],
            "test": ["./imagesTs/pancreas_010.nii.gz"]}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def make_btcv(root: Path) -> Path:
    base = root / "RawData" / "Training"
    image, label = tiny_case(seed=1, tumour=False)
    lab = with_values(label, {1: 11}).array.copy()
    lab[:2] = 3  # another organ (left kidney) that must become background
    write_volume(image, base / "img" / "img0001.nii.gz")
    write_volume(label.with_array(lab), base / "label" / "label0001.nii.gz")
    write_volume(image, base / "img" / "img0002.nii.gz")  # no label: unlabelled case
    return root


def make_nih(root: Path) -> Path:
    from SynTumorLib.data.io import write_dicom_series

    image, label = tiny_case(seed=2, tumour=False)
    series = root / "Pancreas-CT" / "PANCREAS_0001" / "11-24-2015-PANCREAS0001-Pancreas-18957" / "Pancreas-99667"
    series.parent.mkdir(parents=True)
    write_dicom_series(image, series)
    write_volume(label, root / "TCIA_pancreas_labels-02-05-2017" / "label0001.nii.gz")
    return root


def make_totalseg_single(root: Path) -> Path:
    image, label = tiny_case(seed=4, tumour=False)
    lab = with_values(label, {1: 7}).array.copy()
    lab[-2:] = 5  # liver
    write_volume(image, root / "ct.nii.gz")
    write_volume(label.with_array(lab), root / "seg_multilabel.nii.gz")
    return root


def make_totalseg_subjects(root: Path) -> Path:
    image, label = tiny_case(seed=5, tumour=False)
    multi = with_values(label, {1: 7})
    write_volume(image, root / "s0001" / "ct.nii.gz")
    write_volume(multi, root / "s0001" / "segmentations.nii.gz")
    write_volume(image, root / "s0002" / "ct.nii.gz")
    write_volume(multi, root / "s0002" / "seg.nii.gz")
    write_volume(image, root / "s0003" / "ct.nii.gz")
    write_volume(label, root / "s0003" / "segmentations" / "pancreas.nii.gz")  # binary 0/1 mask
    return root


def make_folder_pairs(root: Path, pancreas: int = 1, tumour: int = 2) -> Path:
    image, label = tiny_case(seed=6)
    write_volume(image, root / "a01.nii.gz")
    write_volume(with_values(label, {1: pancreas, 2: tumour}), root / "a01_seg.nii.gz")
    write_volume(image, root / "a02.nrrd")
    write_volume(with_values(label, {1: pancreas, 2: tumour}), root / "a02_label.nrrd")
    return root


def make_folder_images_labels(root: Path) -> Path:
    image, label = tiny_case(seed=7)
    write_volume(image, root / "images" / "x_0000.nii.gz")
    write_volume(label, root / "labels" / "x.nii.gz")
    write_volume(image, root / "images" / "y.mha")
    write_volume(label, root / "labels" / "y.mha")
    write_volume(image, root / "images" / "z.nii.gz")  # unlabelled
    return root


# ---------------------------------------------------------------------------- models and configs
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


# ---------------------------------------------------------------------------- checks
def file_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """mtime (ns) and SHA-256 of every file under ``root`` — to prove nothing was modified."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out
