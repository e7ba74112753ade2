"""Surface metrics against DeepMind's ``surface-distance`` package (the reference evaluation)."""

from __future__ import annotations

import numpy as np
import pytest

from SynTumorLib.metrics import (
    hausdorff_distance,
    mean_surface_distance,
    normalized_surface_dice,
    surface_distances,
)
from SynTumorLib.utils.errors import InputError

sdm = pytest.importorskip("surface_distance")


def ellipsoid(shape, centre, radii_mm, spacing):
    g = np.indices(shape, dtype=np.float64)
    return sum(((g[a] - centre[a]) * spacing[a] / radii_mm[a]) ** 2 for a in range(3)) <= 1.0


def lumpy(shape, seed):
    """A random irregular blob (thresholded smoothed noise) — many surfel codes, holes, pieces."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.standard_normal(shape), 2.0) > 0.15


def reference(pred, ref, spacing, tol=2.0):
    sd = sdm.compute_surface_distances(ref.astype(bool), pred.astype(bool), list(spacing))
    return (
        sd,
        sdm.compute_surface_dice_at_tolerance(sd, tol),
        float(np.mean(sdm.compute_average_surface_distance(sd))),
        sdm.compute_robust_hausdorff(sd, 95),
    )


CASES = {
    "spheres_iso": ((32, 32, 32), (1.0, 1.0, 1.0), (16, 16, 16), (8, 8, 8), (17, 15, 16), (7, 7, 9)),
    "offset_aniso": ((24, 40, 40), (2.5, 0.8, 0.8), (12, 20, 20), (12, 9, 11), (13, 22, 18), (10, 10, 8)),
    "small_far": ((30, 30, 30), (1.5, 1.2, 0.9), (8, 8, 8), (4, 3, 3), (22, 20, 18), (3, 4, 5)),
    "touching_border": ((20, 24, 24), (1.0, 1.0, 1.0), (0, 12, 12), (6, 6, 6), (2, 11, 12), (5, 7, 6)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_deepmind_on_ellipsoids(name):
    shape, sp, c1, r1, c2, r2 = CASES[name]
    pred, ref = ellipsoid(shape, c1, r1, sp), ellipsoid(shape, c2, r2, sp)
    sd_ref, nsd_ref, msd_ref, hd_ref = reference(pred, ref, sp)
    sd = surface_distances(pred, ref, sp)
    for key in sd_ref:
        np.testing.assert_allclose(sd[key], sd_ref[key], atol=1e-9)
    for tol in (0.0, 1.0, 2.0, 5.0):
        assert normalized_surface_dice(pred, ref, sp, tol) == pytest.approx(
            sdm.compute_surface_dice_at_tolerance(sd_ref, tol), abs=1e-6)
    assert normalized_surface_dice(pred, ref, sp) == pytest.approx(nsd_ref, abs=1e-6)
    assert mean_surface_distance(pred, ref, sp) == pytest.approx(msd_ref, abs=1e-6)
    assert hausdorff_distance(pred, ref, sp) == pytest.approx(hd_ref, abs=1e-6)
    for pct in (50, 100):
        assert hausdorff_distance(pred, ref, sp, pct) == pytest.approx(sdm.compute_robust_hausdorff(sd_ref, pct), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_deepmind_on_irregular_blobs(seed):
    sp = (2.0, 0.7, 1.1)
    pred, ref = lumpy((20, 28, 24), seed), lumpy((20, 28, 24), seed + 10)
    _, nsd_ref, msd_ref, hd_ref = reference(pred, ref, sp)
    assert normalized_surface_dice(pred, ref, sp) == pytest.approx(nsd_ref, abs=1e-6)
    assert mean_surface_distance(pred, ref, sp) == pytest.approx(msd_ref, abs=1e-6)
    assert hausdorff_distance(pred, ref, sp) == pytest.approx(hd_ref, abs=1e-6)


def test_identical_masks_are_perfect_and_shift_is_measured():
    sp = (1.0, 1.0, 1.0)
    a = ellipsoid((24, 24, 24), (12, 12, 12), (6, 6, 6), sp)
    assert normalized_surface_dice(a, a, sp) == 1.0
    assert mean_surface_distance(a, a, sp) == 0.0 and hausdorff_distance(a, a, sp) == 0.0
    b = np.roll(a, 4, axis=1)
    assert hausdorff_distance(a, b, sp, 100) == pytest.approx(4.0)
    assert normalized_surface_dice(a, b, sp, 2.0) < normalized_surface_dice(a, b, sp, 5.0) == 1.0


def test_empty_cases_defined(monkeypatch):
    # the package still spells np.Inf, which numpy 2 removed; give it back for the comparison
    monkeypatch.setattr(np, "Inf", np.inf, raising=False)
    sp = (1.0, 1.0, 1.0)
    empty = np.zeros((10, 10, 10), bool)
    full = empty.copy()
    full[3:6, 3:6, 3:6] = True
    assert normalized_surface_dice(empty, empty, sp) == 1.0
    assert mean_surface_distance(empty, empty, sp) == 0.0
    assert hausdorff_distance(empty, empty, sp) == 0.0
    for p, r in ((empty, full), (full, empty)):
        # DeepMind gives 0 for NSD here too; distances are infinite.
        sd_ref = sdm.compute_surface_distances(r, p, sp)
        assert normalized_surface_dice(p, r, sp) == 0.0 == sdm.compute_surface_dice_at_tolerance(sd_ref, 2.0)
        assert mean_surface_distance(p, r, sp) == np.inf
        assert hausdorff_distance(p, r, sp) == np.inf == sdm.compute_robust_hausdorff(sd_ref, 95)


def test_inputs_not_modified_and_integer_labels_accepted():
    sp = (1.0, 1.0, 1.0)
    a = ellipsoid((16, 16, 16), (8, 8, 8), (5, 5, 5), sp).astype(np.uint8) * 2
    b = np.roll(a, 1, axis=0)
    a0, b0 = a.copy(), b.copy()
    v = normalized_surface_dice(a, b, sp)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)
    assert v == normalized_surface_dice(a > 0, b > 0, sp)


def test_bad_input_messages():
    a = np.zeros((8, 8, 8), bool)
    with pytest.raises(InputError, match="shapes differ"):
        normalized_surface_dice(a, np.zeros((8, 8, 9), bool), (1, 1, 1))
    with pytest.raises(InputError, match="spacing_kji"):
        normalized_surface_dice(a, a, (1, 0, 1))
    with pytest.raises(InputError, match="3-D"):
        normalized_surface_dice(a[0], a[0], (1, 1, 1))
    with pytest.raises(InputError, match="tolerance"):
        normalized_surface_dice(a, a, (1, 1, 1), -1.0)
    with pytest.raises(InputError, match="percentile"):
        hausdorff_distance(a, a, (1, 1, 1), 101)


def test_monai_default_surface_dice_differs():
    """Why we do not use MONAI: its default NSD counts voxels, not surfel areas — another number."""
    torch = pytest.importorskip("torch")
    from monai.metrics import compute_surface_dice

    a = np.zeros((20, 20, 20), bool)
    a[5:15, 5:15, 5:15] = True
    b = np.roll(a, 3, axis=2)

    def onehot(m):
        t = torch.from_numpy(m.astype(np.float32))[None, None]
        return torch.cat([1 - t, t], 1)

    ours = normalized_surface_dice(b, a, (1, 1, 1), 2.0)
    deepmind = sdm.compute_surface_dice_at_tolerance(sdm.compute_surface_distances(a, b, (1, 1, 1)), 2.0)
    monai_default = float(compute_surface_dice(onehot(b), onehot(a), [2.0], spacing=(1, 1, 1)))
    assert ours == pytest.approx(deepmind, abs=1e-9)
    assert abs(monai_default - deepmind) > 1e-3


def test_large_grid_small_object_gives_the_cropped_value():
    """NSD on a large grid equals NSD on a crop around the objects (it works on the objects' box; its
    speed is measured in benchmarks/bench_locality.py)."""
    big = np.zeros((60, 256, 256), bool)
    big[30:40, 100:115, 140:150] = True
    shifted = np.roll(big, 2, axis=0)
    v = normalized_surface_dice(big, shifted, (2.5, 0.8, 0.8))
    box = (slice(20, 50), slice(90, 125), slice(130, 160))
    assert 0.0 < v < 1.0
    assert v == pytest.approx(normalized_surface_dice(big[box], shifted[box], (2.5, 0.8, 0.8)), abs=1e-12)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.7, 0.9)])
def test_surfel_area_table_equals_the_reference(spacing):
    from surface_distance import lookup_tables

    from SynTumorLib.metrics._surfel_table import neighbour_code_to_surface_area

    ref = lookup_tables.create_table_neighbour_code_to_surface_area(spacing)
    np.testing.assert_allclose(neighbour_code_to_surface_area(spacing), ref, atol=1e-12)
