"""Shared pytest fixtures: tiny synthetic CTs (≤ 48³), the real-CT folder (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Tests run on 2 cores beside each other; one thread per test process keeps timings stable.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from SynTumorLib.data.volume import Volume  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "totalsegmentator-example"


def make_tiny_ct(
    shape=(40, 48, 48),
    spacing=(1.5, 1.5, 1.5),
    seed: int = 0,
    direction_ras: np.ndarray | None = None,
    origin_ras=(-30.0, -40.0, 10.0),
) -> tuple[Volume, Volume]:
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


@pytest.fixture
def tiny_ct():
    """(image, label) — 40×48×48 at 1.5 mm isotropic, pancreas = 1."""
    return make_tiny_ct()


@pytest.fixture
def tiny_ct_aniso_oblique():
    """(image, label) — anisotropic (0.8, 0.8, 2.5) mm spacing and an oblique direction."""
    return make_tiny_ct(shape=(24, 48, 48), spacing=(1.4, 1.4, 2.5), direction_ras=oblique_direction())


@pytest.fixture
def shared_data() -> Path:
    """The real TotalSegmentator CT folder; skips the test when it is absent (a user's fresh clone)."""
    if not (SHARED_DATA / "ct.nii.gz").exists():
        pytest.skip(f"real CT example not found at {SHARED_DATA} (only present on the project's machines)")
    return SHARED_DATA
