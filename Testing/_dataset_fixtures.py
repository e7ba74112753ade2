"""Builders of tiny datasets in each supported layout (used by the dataset, check and export tests)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from conftest import make_tiny_ct

from SynTumorLib import Volume, write_volume
from SynTumorLib.data.io import write_dicom_series
from SynTumorLib.data.msd import MSDWriter

SHAPE = (10, 16, 16)
SPACING = (1.5, 1.5, 2.0)


def tiny_case(seed: int = 0, tumour: bool = True, shape=SHAPE) -> tuple[Volume, Volume]:
    """A small CT (int16 HU) + canonical label: pancreas 1 and, optionally, a 2×2×2-voxel tumour."""
    image, label = make_tiny_ct(shape=shape, spacing=SPACING, seed=seed)
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


def make_msd(root: Path, n: int = 2) -> Path:
    w = MSDWriter(root, name="tiny")
    for c in range(n):
        image, label = tiny_case(seed=c, tumour=c % 2 == 0)
        w.add_case(f"pancreas_{c:03d}", image, label)
    return root


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


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """mtime (ns) and SHA-256 of every file under ``root`` — to prove nothing was modified."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out
