"""Resampling keeps physical positions (oblique, anisotropic grids), labels stay labels."""

from __future__ import annotations

import numpy as np
import pytest
from builders import oblique_direction

from SynTumorLib import InputError, Volume
from SynTumorLib.data.resample import resample_like, resample_to_spacing

BLOB_RAS = np.array([3.0, -4.0, 12.0])


def _grid(shape=(14, 30, 28), spacing=(0.9, 1.1, 2.5), direction=None) -> Volume:
    d = oblique_direction(30.0) if direction is None else direction
    v = Volume.from_geometry(np.zeros(shape, np.float32), spacing, (0, 0, 0), d)
    centre = v.kji_to_ras((np.asarray(shape) - 1) / 2.0)
    return Volume.from_geometry(v.array, spacing, -centre, d)  # centred on RAS (0, 0, 0)


def _blob(v: Volume, sigma_mm: float = 3.0) -> Volume:
    ras = v.kji_to_ras(np.indices(v.shape).reshape(3, -1).T)
    d2 = ((ras - BLOB_RAS) ** 2).sum(1)
    return v.with_array(np.exp(-d2 / (2 * sigma_mm**2)).reshape(v.shape).astype(np.float32))


def _centroid_ras(v: Volume, weights: np.ndarray) -> np.ndarray:
    kji = np.indices(v.shape).reshape(3, -1).T
    w = weights.ravel().astype(np.float64)
    return v.kji_to_ras((kji * w[:, None]).sum(0) / w.sum())


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.6, 1.7, 1.3)])
def test_blob_centroid_stays_within_half_a_voxel(spacing):
    src = _blob(_grid())
    out = resample_to_spacing(src, spacing)
    np.testing.assert_allclose(out.spacing, spacing)
    np.testing.assert_allclose(out.direction_ras, src.direction_ras, atol=1e-9)
    err = np.linalg.norm(_centroid_ras(out, out.array) - _centroid_ras(src, src.array))
    assert err < 0.5 * min(spacing), f"centroid moved {err:.3f} mm"
    assert out.array.dtype == np.float32


def test_field_of_view_is_kept():
    src = _grid()
    out = resample_to_spacing(src, (1.8, 2.2, 1.25))
    assert out.shape == (28, 15, 14)
    # the outer corner of the first voxel stays put
    corner = lambda v: v.kji_to_ras((-0.5, -0.5, -0.5))  # noqa: E731
    np.testing.assert_allclose(corner(out), corner(src), atol=1e-9)


def test_same_spacing_is_identity():
    src = _blob(_grid())
    out = resample_to_spacing(src, src.spacing)
    assert out.same_grid(src, atol=1e-9)
    np.testing.assert_allclose(out.array, src.array, atol=1e-5)


def test_labels_use_nearest_and_keep_dtype_and_position():
    src = _blob(_grid())
    label = src.with_array(np.where(src.array > 0.5, 2, np.where(src.array > 0.1, 1, 0)).astype(np.uint8))
    out = resample_to_spacing(label, 0.8)
    assert out.array.dtype == np.uint8
    assert set(np.unique(out.array)) == {0, 1, 2}
    err = np.linalg.norm(_centroid_ras(out, out.array == 2) - _centroid_ras(label, label.array == 2))
    assert err < 0.5 * max(label.spacing)
    # linear interpolation of the same map would create in-between values; nearest must not
    lin = resample_to_spacing(label.with_array(label.array.astype(np.float32)), 0.8, interpolation="linear")
    assert np.any((lin.array > 0) & (lin.array < 1))


def test_integer_images_are_rounded_back_to_their_dtype():
    src = _blob(_grid())
    ct = src.with_array((src.array * 1000 - 100).astype(np.int16))
    out = resample_to_spacing(ct, 1.5)
    assert out.array.dtype == np.int16
    assert out.array.min() >= -100 and out.array.max() <= 900


def test_onto_reference_grid_axis_aligned():
    src = _blob(_grid())
    ref = Volume.from_geometry(np.zeros((20, 24, 24), np.int16), (1.0, 1.0, 1.5), BLOB_RAS - [12, 12, 15])
    out = resample_like(src, ref)
    assert out.same_grid(ref)
    err = np.linalg.norm(_centroid_ras(out, out.array) - BLOB_RAS)
    assert err < 0.5
    label = resample_like(src.with_array((src.array > 0.3).astype(np.uint8)), ref)
    assert label.array.dtype == np.uint8 and set(np.unique(label.array)) <= {0, 1}


def test_outside_values_and_input_untouched():
    src = _grid()
    ct = src.with_array(np.full(src.shape, 40, np.int16))
    ct.array[0, 0, 0] = -1000
    before = ct.array.copy()
    far = Volume.from_geometry(np.zeros((4, 4, 4), np.uint8), (1, 1, 1), (500.0, 500.0, 500.0))
    out = resample_like(ct, far)
    assert np.all(out.array == -1000)  # outside the field of view: the image minimum (air)
    np.testing.assert_array_equal(ct.array, before)


def test_bad_arguments():
    src = _grid()
    with pytest.raises(InputError, match="spacing must be positive"):
        resample_to_spacing(src, (1.0, 0.0, 1.0))
    with pytest.raises(InputError, match="interpolation must be one of"):
        resample_to_spacing(src, 1.0, interpolation="cubic")
