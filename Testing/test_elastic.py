"""The one elastic deformation (geometry/elastic.py): determinism, mm semantics, region handling."""

from __future__ import annotations

import numpy as np
import pytest

from SynTumorLib.geometry.elastic import (
    control_point_displacements,
    deformation_box,
    elastic_deform_mask,
    field_from_control_points,
)
from SynTumorLib.utils.errors import InputError


def ball(shape, centre, radius_mm, spacing=(1.0, 1.0, 1.0)):
    g = np.indices(shape, dtype=np.float64)
    return sum(((g[a] - centre[a]) * spacing[a]) ** 2 for a in range(3)) <= radius_mm**2


def test_identity_determinism_and_input_untouched():
    m = ball((32, 32, 32), (16, 16, 16), 8)
    before = m.copy()
    assert np.array_equal(elastic_deform_mask(m, 0.0, (1, 1, 1), seed=1), m)
    a = elastic_deform_mask(m, 2.0, (1, 1, 1), seed=1)
    b = elastic_deform_mask(m, 2.0, (1, 1, 1), seed=1)
    c = elastic_deform_mask(m, 2.0, (1, 1, 1), seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(m, before) and a.dtype == bool and a.shape == m.shape
    # an explicit Generator gives the same result as the seed it was made from
    assert np.array_equal(elastic_deform_mask(m, 2.0, (1, 1, 1), rng=np.random.default_rng(1)), a)
    # empty masks stay empty
    assert not elastic_deform_mask(np.zeros((8, 8, 8), bool), 3.0, (1, 1, 1), seed=0).any()


@pytest.mark.parametrize("mode", ["independent", "pairs"])
def test_deformation_changes_boundary_and_grows_with_sigma(mode):
    m = ball((40, 40, 40), (20, 20, 20), 9)
    changed = []
    for sigma in (0.5, 3.0):
        changed.append(np.mean([np.count_nonzero(elastic_deform_mask(m, sigma, (1, 1, 1), seed=s, mode=mode) ^ m)
                                for s in range(4)]))
    assert 0 < changed[0] < changed[1]
    # the core of the ball is never touched by a small deformation
    out = elastic_deform_mask(m, 1.0, (1, 1, 1), seed=0, mode=mode)
    assert out[20, 20, 20] and out[16:24, 16:24, 16:24].all()


def test_field_interpolates_control_points():
    rng = np.random.default_rng(0)
    ctrl = control_point_displacements(rng, (1.0, 2.0, 3.0), 3, (0, 1, 2))
    f = field_from_control_points(ctrl, (21, 11, 31))
    # control points sit on the region's corners and centre
    for k, j, i in [(0, 0, 0), (10, 5, 15), (20, 10, 30)]:
        idx = (k // 10, j // 5, i // 15)
        assert f[(slice(None), k, j, i)] == pytest.approx(ctrl[(slice(None), *idx)], abs=1e-9)
    # smooth: neighbouring voxels differ by far less than the control-point spread
    assert np.abs(np.diff(f, axis=1)).max() < 0.5 * np.abs(ctrl).max()


def test_sigma_is_in_millimetres():
    """Control-point shifts in voxels are σ / spacing per axis; their spread in mm is the same on every axis."""
    rng = np.random.default_rng(0)
    spacing = np.array([2.5, 0.8, 0.8])
    d = control_point_displacements(rng, 2.0 / spacing, 3, (0, 1, 2)).reshape(3, -1)
    d = np.concatenate([d] + [control_point_displacements(rng, 2.0 / spacing, 3, (0, 1, 2)).reshape(3, -1)
                              for _ in range(300)], axis=1)
    std_mm = d.std(axis=1) * spacing
    assert std_mm == pytest.approx([2.0, 2.0, 2.0], rel=0.08)


def test_same_physical_object_same_change_on_anisotropic_grid():
    """A ball of 8 mm deformed at σ = 2 mm loses about the same fraction of volume whatever the grid."""
    iso = ball((32, 32, 32), (16, 16, 16), 8.0)
    sp = (2.5, 1.0, 1.0)
    aniso = ball((14, 32, 32), (7, 16, 16), 8.0, sp)

    def mean_change(m, spacing):
        return np.mean([np.count_nonzero(elastic_deform_mask(m, 2.0, spacing, seed=s) ^ m) / m.sum() for s in range(6)])

    assert mean_change(iso, (1, 1, 1)) == pytest.approx(mean_change(aniso, sp), abs=0.08)


def test_default_region_is_twice_the_object_and_may_leave_the_array():
    m = np.zeros((30, 30, 30), bool)
    m[0:10, 10:14, 10:20] = True
    lo, hi = deformation_box(m, 0.5, (1.0, 1.0, 1.0))
    assert lo[0] < 0  # zero-padded beyond the edge
    ext = np.array([10, 4, 10])
    assert np.all(hi - lo >= 2 * ext) and np.all(hi - lo <= 2 * ext + 6)
    lo2, hi2 = deformation_box(m, 5.0, (1.0, 1.0, 1.0))
    assert np.all(hi2 - lo2 >= ext + 40)  # 4σ wins for small objects and large σ
    lo3, hi3 = deformation_box(m, 0.5, (1.0, 1.0, 1.0), margin_mm=3.0)
    assert np.all(hi3 - lo3 == ext + 2 * 5)


def test_result_does_not_depend_on_position_in_the_array():
    big = ball((48, 48, 48), (24, 24, 24), 6)
    edge = ball((48, 48, 48), (7, 24, 24), 6)  # the region reaches past the array's edge
    a = elastic_deform_mask(big, 1.5, (1, 1, 1), seed=4)
    b = elastic_deform_mask(edge, 1.5, (1, 1, 1), seed=4)
    assert np.array_equal(np.roll(a, -17, axis=0)[:30], b[:30])


def test_bad_arguments():
    m = ball((16, 16, 16), (8, 8, 8), 4)
    with pytest.raises(InputError, match="3-D"):
        elastic_deform_mask(m[0], 1.0, (1, 1, 1))
    with pytest.raises(InputError, match="sigma"):
        elastic_deform_mask(m, -1.0, (1, 1, 1))
    with pytest.raises(InputError, match="sigma"):
        elastic_deform_mask(m, float("nan"), (1, 1, 1))
    with pytest.raises(InputError, match="control_points"):
        elastic_deform_mask(m, 1.0, (1, 1, 1), points=1)
    with pytest.raises(InputError, match="mode"):
        elastic_deform_mask(m, 1.0, (1, 1, 1), mode="xy")
    with pytest.raises(InputError, match="spacing"):
        elastic_deform_mask(m, 1.0, (1, 0, 1))
    with pytest.raises(InputError, match="margin"):
        elastic_deform_mask(m, 1.0, (1, 1, 1), margin_mm=-2)


def test_large_label_works_only_around_the_object():
    """The result on a large grid equals the result on a crop around the object (the work is local;
    its speed is measured in benchmarks/bench_locality.py)."""
    m = np.zeros((60, 256, 256), bool)
    m[30:40, 100:115, 140:152] = True
    out = elastic_deform_mask(m, 2.0, (2.5, 0.8, 0.8), seed=0)
    box = (slice(10, 60), slice(60, 160), slice(100, 200))
    crop = elastic_deform_mask(np.ascontiguousarray(m[box]), 2.0, (2.5, 0.8, 0.8), seed=0)
    assert out.any() and not out[:, :60].any()
    assert np.array_equal(out[box], crop) and out.sum() == crop.sum()


@pytest.mark.parametrize("mode", ["independent", "pairs"])
def test_fast_paths_equal_the_dense_reference(mode):
    """deform_region's fast paths (no dense coordinate grids, only the reachable box evaluated) give
    the same mask, voxel for voxel, as map_coordinates on the dense field of the same draws."""
    from SynTumorLib.geometry.elastic import PAIRS, deform_region, displacement_field, warp_nearest

    rng = np.random.default_rng(11)
    for case in range(12):
        shape = tuple(int(x) for x in rng.integers(9, 40, 3))
        m = np.zeros(shape, np.uint8)
        c = np.array(shape) / 2 + rng.uniform(-1, 1, 3)
        r = rng.uniform(2, min(shape) / 2 - 2, 3)
        g = np.indices(shape, dtype=np.float64)
        m[sum(((g[a] - c[a]) / r[a]) ** 2 for a in range(3)) <= 1] = 1
        m[0], m[-1], m[:, 0], m[:, -1], m[:, :, 0], m[:, :, -1] = 0, 0, 0, 0, 0, 0
        sigma = tuple(float(s) for s in rng.uniform(0.3, 6.0, 3))
        fast = deform_region(m, sigma, np.random.default_rng(case), 3, mode)
        ref_rng = np.random.default_rng(case)
        if mode == "independent":
            ref = warp_nearest(m, displacement_field(shape, sigma, ref_rng, 3), (0, 1, 2))
        else:
            ref = m
            for pair in PAIRS:
                ref = warp_nearest(ref, displacement_field(shape, sigma, ref_rng, 3, pair), pair)
        assert np.array_equal(fast, ref), (case, shape, sigma)
