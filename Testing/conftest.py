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


# One tiny training run through the SynTumorTrain CLI script, shared by the CLI-module and the
# Segmentation-logic tests (torch and MONAI load in the worker processes only: the suite stays fast).
@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """A 4-case segmentation dataset of 24³ phantoms (MSD layout)."""
    from slicer_support import tiny_cli_dataset

    return tiny_cli_dataset(tmp_path_factory.mktemp("cli") / "data")


@pytest.fixture(scope="session")
def cli_trained_model(tmp_path_factory, dataset):
    """(model folder, completed process) of one tiny training run of the CLI script, as Slicer starts it."""
    pytest.importorskip("torch")
    from slicer_support import run_cli, slicer_style_args, write_config

    work = tmp_path_factory.mktemp("cli-train")
    result = run_cli(*slicer_style_args(dataset, work / "model", write_config(work, dataset)))
    return work / "model", result
