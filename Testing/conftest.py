"""Shared pytest fixtures: tiny synthetic CTs (≤ 48³), the real-CT folder (skipped when absent).

The builders behind them live in ``builders.py``; tests import builders from there, never from here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests run on 2 cores beside each other: at most 2 OpenMP threads per test process (torch tests set
# 1 or 2 themselves), so a test never oversubscribes the machine.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from builders import make_tiny_ct, oblique_direction  # noqa: E402,F401 - fixtures below; kept importable

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "totalsegmentator-example"


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
