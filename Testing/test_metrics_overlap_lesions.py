"""Dice, volume and lesion-wise detection."""

from __future__ import annotations

import numpy as np
import pytest

from SynTumorLib.metrics import dice, equivalent_radius_mm, lesion_detection, volume_ml
from SynTumorLib.utils.errors import InputError


def cube(shape, lo, hi):
    m = np.zeros(shape, bool)
    m[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))] = True
    return m


def test_dice_values_and_empty_cases():
    a = cube((10, 10, 10), (0, 0, 0), (4, 10, 10))
    b = cube((10, 10, 10), (2, 0, 0), (6, 10, 10))
    assert dice(a, b) == pytest.approx(0.5)
    assert dice(a, a) == 1.0
    empty = np.zeros_like(a)
    assert dice(empty, empty) == 1.0
    assert dice(a, empty) == 0.0 and dice(empty, a) == 0.0
    # integer labels: non-zero is foreground; inputs untouched
    lab = a.astype(np.uint8) * 2
    before = lab.copy()
    assert dice(lab, a) == 1.0 and np.array_equal(lab, before)


def test_dice_matches_deepmind():
    sdm = pytest.importorskip("surface_distance")
    rng = np.random.default_rng(0)
    a, b = rng.random((12, 12, 12)) > 0.5, rng.random((12, 12, 12)) > 0.6
    assert dice(a, b) == pytest.approx(sdm.compute_dice_coefficient(a, b))


def test_volume_ml_and_radius():
    m = cube((10, 10, 10), (0, 0, 0), (5, 4, 2))  # 40 voxels
    assert volume_ml(m, (2.0, 1.0, 0.5)) == pytest.approx(0.04)
    assert equivalent_radius_mm(4.0 / 3.0 * np.pi * 27.0) == pytest.approx(3.0)


def test_bad_inputs():
    a = np.zeros((5, 5, 5), bool)
    with pytest.raises(InputError, match="shapes differ"):
        dice(a, np.zeros((5, 5, 4), bool))
    with pytest.raises(InputError, match="3-D"):
        dice(a[0], a[0])
    with pytest.raises(InputError, match="spacing"):
        volume_ml(a, (1, -1, 1))
    with pytest.raises(InputError, match="min_overlap_voxels"):
        lesion_detection(a, a, (1, 1, 1), min_overlap_voxels=0)
    with pytest.raises(InputError, match="min_dice"):
        lesion_detection(a, a, (1, 1, 1), min_dice=2)


def test_lesion_detection_counts_and_sizes():
    shape = (30, 30, 30)
    ref = cube(shape, (2, 2, 2), (8, 8, 8)) | cube(shape, (18, 18, 18), (24, 24, 24)) | cube(shape, (2, 20, 2), (4, 22, 4))
    pred = cube(shape, (4, 4, 4), (9, 9, 9)) | cube(shape, (12, 2, 20), (15, 5, 23))
    r = lesion_detection(pred, ref, (2.0, 1.0, 1.0))
    assert (r["n_ref"], r["n_pred"], r["tp"], r["fn"], r["fp"]) == (3, 2, 1, 2, 1)
    assert r["sensitivity"] == pytest.approx(1 / 3) and r["precision"] == pytest.approx(0.5)
    big = max(r["lesions"], key=lambda les: les["voxels"])
    assert big["voxels"] == 216 and big["volume_ml"] == pytest.approx(0.432)
    assert big["radius_mm"] == pytest.approx(equivalent_radius_mm(432.0))
    fp = r["false_positives"][0]
    assert fp["voxels"] == 27
    import json

    json.dumps(r)  # JSON-able as records require


def test_lesion_26_connectivity_and_thresholds():
    shape = (12, 12, 12)
    # two voxels touching only at a corner are ONE lesion with 26-connectivity
    ref = np.zeros(shape, bool)
    ref[3, 3, 3] = ref[4, 4, 4] = True
    assert lesion_detection(ref, ref, (1, 1, 1))["n_ref"] == 1
    # a one-voxel touch detects at min_overlap 1, not at 2; min_dice also filters
    ref = cube(shape, (2, 2, 2), (6, 6, 6))
    pred = cube(shape, (5, 5, 5), (9, 9, 9))
    assert lesion_detection(pred, ref, (1, 1, 1))["tp"] == 1
    r2 = lesion_detection(pred, ref, (1, 1, 1), min_overlap_voxels=2)
    assert r2["tp"] == 0 and r2["fp"] == 1
    assert lesion_detection(pred, ref, (1, 1, 1), min_dice=0.5)["tp"] == 0


def test_one_blob_covering_two_lesions():
    shape = (20, 20, 20)
    ref = cube(shape, (2, 2, 2), (5, 5, 5)) | cube(shape, (2, 10, 2), (5, 13, 5))
    pred = cube(shape, (2, 2, 2), (5, 13, 5))
    r = lesion_detection(pred, ref, (1, 1, 1))
    assert (r["tp"], r["fp"], r["n_pred"]) == (2, 0, 1)


def test_empty_masks():
    e = np.zeros((8, 8, 8), bool)
    r = lesion_detection(e, e, (1, 1, 1))
    assert r["sensitivity"] is None and r["precision"] is None and r["fp"] == 0
    m = cube((8, 8, 8), (1, 1, 1), (3, 3, 3))
    assert lesion_detection(e, m, (1, 1, 1))["sensitivity"] == 0.0
    assert lesion_detection(m, e, (1, 1, 1))["fp"] == 1
