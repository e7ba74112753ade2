"""The real TotalSegmentator CT in ../shared/data: geometry as in its NIfTI header, pancreas 7 → 1."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from SynTumorLib import read_volume
from SynTumorLib.data.check import check_dataset
from SynTumorLib.data.datasets import open_dataset
from SynTumorLib.data.resample import resample_to_spacing

pytestmark = pytest.mark.realdata


def _header_ras(path) -> tuple[np.ndarray, int, int]:
    """(3×4 sform rows, qform_code, sform_code) read from the raw NIfTI-1 header."""
    with gzip.open(path, "rb") as f:
        h = f.read(348)
    qform_code, sform_code = struct.unpack("<hh", h[252:256])
    return np.array(struct.unpack("<12f", h[280:328])).reshape(3, 4), qform_code, sform_code


def test_ct_geometry_matches_the_nifti_header(shared_data):
    ct = read_volume(shared_data / "ct.nii.gz")
    assert ct.shape == (30, 101, 122)  # k, j, i — i.e. 122 × 101 × 30 voxels
    np.testing.assert_allclose(ct.spacing, (3.0, 3.0, 3.0), atol=1e-5)
    assert ct.array.dtype == np.int16
    srows, _, sform_code = _header_ras(shared_data / "ct.nii.gz")
    assert sform_code > 0
    # NIfTI's sform maps (i, j, k) to RAS: our IJK→RAS matrix must be the same matrix
    np.testing.assert_allclose(ct.ijk_to_ras[:3], srows, atol=1e-3)
    # ITK direction diag(-1, -1, 1) in LPS is the identity in RAS
    np.testing.assert_allclose(ct.direction_ras, np.eye(3), atol=1e-6)
    assert -1100 <= ct.array.min() and ct.array.max() > 300  # air to bone, in HU


def test_totalseg_adapter_maps_pancreas_7_to_1(shared_data):
    ds = open_dataset(shared_data)
    assert ds.kind == "totalseg" and len(ds.cases()) == 1
    image, label = ds.load(ds.cases()[0])
    assert label.same_grid(image)
    assert set(np.unique(label.array)) == {0, 1}
    assert int((label.array == 1).sum()) == 644
    raw = read_volume(shared_data / "seg_multilabel.nii.gz").array
    np.testing.assert_array_equal(label.array == 1, raw == 7)
    # the pancreas is soft tissue on this non-contrast CT
    assert -20 < float(np.median(image.array[label.array == 1])) < 120


def test_check_and_resample_real_ct(shared_data):
    report = check_dataset(shared_data)
    assert report.ok, report.errors
    assert report.summary["pancreas_ml"]["max"] == pytest.approx(644 * 27 / 1000, rel=1e-6)
    ds = open_dataset(shared_data)
    image, label = ds.load(ds.cases()[0])
    fine = resample_to_spacing(label, 1.5)
    ml = lambda v: float((v.array == 1).sum()) * v.voxel_volume_mm3 / 1000  # noqa: E731
    assert fine.shape == (60, 202, 244)
    assert ml(fine) == pytest.approx(ml(label), rel=0.1)
    c0 = label.kji_to_ras(np.argwhere(label.array == 1).mean(0))
    c1 = fine.kji_to_ras(np.argwhere(fine.array == 1).mean(0))
    assert np.linalg.norm(c0 - c1) < 1.5
