"""The 1 mm RAS crop of the DiffTumor texture: physical positions survive any input grid and the way back."""

from __future__ import annotations

import numpy as np
import pytest
from builders import oblique_direction

from SynTumorLib.data.volume import Volume
from SynTumorLib.texture.difftumor.crop import RasCrop, axis_aligned, kji_to_ras_matrix
from SynTumorLib.utils.errors import InputError

SHAPE = (14, 36, 36)
A, B = np.array([0.7, -1.3, 2.1]), 40.0  # f(p) = A·p + B: trilinear interpolation reproduces it exactly


def _oblique_grid():
    """An oblique grid with anisotropic spacing (i, j 1.4 mm, k 2.5 mm) and its kji → RAS matrix."""
    vol = Volume.from_geometry(np.zeros(SHAPE, np.float32), (1.4, 1.4, 2.5), (-12.0, 30.0, -5.0), oblique_direction(25.0))
    return vol, kji_to_ras_matrix(vol.ijk_to_ras)


def _linear_field(L):
    kji = np.indices(SHAPE).reshape(3, -1).astype(np.float64)
    return (A @ (L @ kji) + B).reshape(SHAPE).astype(np.float32)


def _tumour():
    m = np.zeros(SHAPE, bool)
    m[6:9, 15:21, 16:20] = True
    return m


def test_matrix_matches_the_volume_geometry():
    vol, L = _oblique_grid()
    p, q = np.array([3.0, 5.0, 7.0]), np.array([4.0, 9.0, 2.0])
    assert np.allclose(vol.kji_to_ras(q) - vol.kji_to_ras(p), L @ (q - p))
    assert np.allclose(axis_aligned((2.0, 1.0, 0.5)) @ [1, 0, 0], [0, 0, 2.0])  # k → S


def test_crop_is_a_1mm_ras_grid_centred_on_the_tumour():
    _, L = _oblique_grid()
    g = RasCrop.around(_tumour(), L, size=16)
    idx = np.argwhere(_tumour())
    centre = (idx.min(0) + idx.max(0)) / 2.0
    assert np.allclose(g.to_crop(centre[:, None])[:, 0], [7.5, 7.5, 7.5])
    # one crop voxel along array axis 0 is 1 mm along R, axis 1 along A, axis 2 along S
    a = g.to_region(np.array([[7.5, 8.5, 7.5, 7.5], [7.5, 7.5, 8.5, 7.5], [7.5, 7.5, 7.5, 8.5]]))
    steps = (L @ (a[:, 1:] - a[:, :1])).T
    assert np.allclose(steps, np.eye(3))
    pts = np.random.default_rng(0).uniform(0, 10, (3, 20))
    assert np.allclose(g.to_region(g.to_crop(pts)), pts)


def test_round_trip_keeps_physical_positions_on_an_oblique_anisotropic_grid():
    _, L = _oblique_grid()
    field = _linear_field(L)
    g = RasCrop.around(_tumour(), L, size=16)
    crop = g.sample(field)
    assert crop.shape == (16, 16, 16) and crop.dtype == np.float32
    # every crop voxel whose centre lies inside the region holds f at its own RAS position
    ras = g.crop_ras().reshape(3, -1)
    src = np.linalg.solve(L, ras)
    interior = np.all((src >= 0) & (src <= np.array(SHAPE)[:, None] - 1), axis=0)
    assert interior.sum() > 1000
    expected = A @ ras + B
    assert np.abs(crop.reshape(-1)[interior] - expected[interior]).max() < 1e-3
    # and back: region voxels inside the crop's interior get f at their own position again
    pts = np.indices(SHAPE).reshape(3, -1).astype(np.float64)
    c = g.to_crop(pts)
    deep = np.all((c >= 0) & (c <= 15), axis=0) & interior_of_crop(g, pts, SHAPE)
    back = g.sample_back(crop, pts[:, deep])
    assert deep.sum() > 500
    assert np.abs(back - field.reshape(-1)[deep]).max() < 2e-3


def interior_of_crop(g: RasCrop, pts: np.ndarray, shape) -> np.ndarray:
    """Region points whose 8 crop neighbours were all sampled from inside the region (no edge clamping)."""
    c = g.to_crop(pts)
    ok = np.ones(pts.shape[1], bool)
    for corner in np.array(np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij")).reshape(3, -1).T:
        nb = np.clip(np.floor(c) + corner[:, None], 0, g.size - 1)
        src = g.to_region(nb)
        ok &= np.all((src >= 0) & (src <= np.array(shape)[:, None] - 1), axis=0)
    return ok


def test_inside_marks_the_crop_cube():
    _, L = _oblique_grid()
    g = RasCrop.around(_tumour(), L, size=8)
    inside = g.inside(SHAPE)
    pts = np.argwhere(inside).T.astype(np.float64)
    c = g.to_crop(pts)
    assert inside.any() and np.all((c >= -0.5) & (c <= 7.5))
    assert _tumour()[inside].mean() > 0  # the tumour is in its own crop
    outside = np.argwhere(~inside).T.astype(np.float64)
    co = g.to_crop(outside)
    assert np.all(np.any((co < -0.5) | (co > 7.5), axis=0))


def test_bad_grids_are_refused():
    with pytest.raises(InputError, match="empty"):
        RasCrop.around(np.zeros(SHAPE, bool), np.eye(3))
    with pytest.raises(InputError, match="invertible"):
        RasCrop.around(_tumour(), np.zeros((3, 3)))
    with pytest.raises(InputError, match="positive"):
        RasCrop.around(_tumour(), np.eye(3), size=0)
