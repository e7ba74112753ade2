"""Volume I/O: geometry round trips (NIfTI, NRRD, NHDR, MHA, MHD, DICOM series), LPS↔RAS against
hand-computed matrices, and bad-input errors that name the file."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import SimpleITK as sitk
from builders import make_tiny_ct, oblique_direction

from SynTumorLib import InputError, Volume, read_volume, write_volume
from SynTumorLib.data.io import write_dicom_series

FORMATS = ["ct.nii.gz", "ct.nii", "ct.nrrd", "ct.nhdr", "ct.mha", "ct.mhd", "dicom_series"]


@pytest.fixture(scope="module")
def aniso_oblique():
    return make_tiny_ct(shape=(10, 16, 20), spacing=(0.7, 0.9, 2.5), direction_ras=oblique_direction(25.0))[0]


@pytest.mark.parametrize("name", FORMATS)
def test_round_trip_keeps_geometry_and_values(tmp_path, aniso_oblique, name):
    path = write_volume(aniso_oblique, tmp_path / name)
    back = read_volume(path)
    assert back.shape == aniso_oblique.shape
    # NIfTI keeps the matrix as float32; DICOM as decimal strings: sub-micrometre either way
    np.testing.assert_allclose(back.ijk_to_ras, aniso_oblique.ijk_to_ras, atol=1e-4)
    np.testing.assert_array_equal(back.array, aniso_oblique.array)
    assert back.array.dtype == np.int16
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"temporary files left behind: {leftovers}"


def test_lps_ras_sign_flips_against_hand_computed_matrix():
    d_lps = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # i → +P(LPS y), j → -L(LPS x)... as columns
    v = Volume.from_lps(np.zeros((4, 5, 6), np.int16), spacing=(2.0, 3.0, 4.0), origin_lps=(10.0, 20.0, 30.0),
                        direction_lps=d_lps)
    # RAS = diag(-1,-1,1) · LPS for points and direction columns; columns scaled by spacing i, j, k
    expected = np.array([
        [0.0, 3.0, 0.0, -10.0],
        [-2.0, 0.0, 0.0, -20.0],
        [0.0, 0.0, 4.0, 30.0],
        [0.0, 0.0, 0.0, 1.0],
    ])
    np.testing.assert_allclose(v.ijk_to_ras, expected)
    img = v.to_sitk()
    assert img.GetOrigin() == (10.0, 20.0, 30.0)
    np.testing.assert_allclose(np.reshape(img.GetDirection(), (3, 3)), d_lps)
    # index (i, j, k) = (1, 2, 3) ↔ array [3, 2, 1]: ITK's LPS point flipped to RAS equals ours
    lps = np.asarray(img.TransformIndexToPhysicalPoint((1, 2, 3)))
    np.testing.assert_allclose(v.kji_to_ras((3, 2, 1)), lps * [-1, -1, 1])
    np.testing.assert_allclose(Volume.from_sitk(img).ijk_to_ras, expected)


def _nifti_srows(path) -> np.ndarray:
    """The sform rows (RAS by NIfTI definition) straight from the header bytes."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        header = f.read(348)
    return np.array(struct.unpack("<12f", header[280:328])).reshape(3, 4)


def test_nifti_header_holds_our_ras_matrix(tmp_path, aniso_oblique):
    path = write_volume(aniso_oblique, tmp_path / "ct.nii.gz")
    np.testing.assert_allclose(_nifti_srows(path), aniso_oblique.ijk_to_ras[:3], atol=1e-4)


def test_left_handed_grid_through_dicom_keeps_physical_positions(tmp_path):
    img, _ = make_tiny_ct(shape=(6, 10, 12), spacing=(1.0, 1.2, 3.0), direction_ras=np.diag([1.0, 1.0, -1.0]))
    back = read_volume(write_dicom_series(img, tmp_path / "s"))
    # readers stack slices along row × column, so k comes back reversed — same voxels, same places
    np.testing.assert_array_equal(back.array, img.array[::-1])
    kji = np.array([[0, 3, 4], [5, 9, 11], [2, 0, 7]])
    flipped = kji.copy()
    flipped[:, 0] = img.shape[0] - 1 - kji[:, 0]
    np.testing.assert_allclose(back.kji_to_ras(flipped), img.kji_to_ras(kji), atol=1e-4)


def test_dicom_float_values_use_rescale_slope(tmp_path):
    v = Volume.from_geometry(np.linspace(-3.3, 7.7, 4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6), spacing=(1, 1, 2))
    back = read_volume(write_dicom_series(v, tmp_path / "s"))
    assert np.abs(back.array - v.array).max() < 1e-3


def test_dicom_refuses_non_empty_folder(tmp_path, aniso_oblique):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="new or empty folder"):
        write_dicom_series(aniso_oblique, tmp_path / "s")
    assert (tmp_path / "s" / "keep.txt").read_text() == "x"


def test_nhdr_header_points_at_its_data_file(tmp_path, aniso_oblique):
    write_volume(aniso_oblique, tmp_path / "a.nhdr")
    text = (tmp_path / "a.nhdr").read_bytes().decode("latin-1")
    assert "data file: a.raw.gz" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nhdr", "a.raw.gz"]


# ------------------------------------------------------------------ errors name the file
def _write_sitk(img, path):
    sitk.WriteImage(img, str(path))
    return path


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nothere\.nii\.gz: file not found"):
        read_volume(tmp_path / "nothere.nii.gz")


def test_unreadable_file(tmp_path):
    p = tmp_path / "junk.nii.gz"
    p.write_bytes(b"this is not an image")
    with pytest.raises(InputError, match=r"junk\.nii\.gz: cannot be read"):
        read_volume(p)


def test_2d_image(tmp_path):
    p = _write_sitk(sitk.GetImageFromArray(np.zeros((8, 8), np.int16)), tmp_path / "flat.nii.gz")
    with pytest.raises(InputError, match=r"flat\.nii\.gz: expected a 3-D volume, got a 2-D"):
        read_volume(p)


def test_single_slice_3d_image(tmp_path):
    p = write_volume(Volume.from_geometry(np.zeros((1, 8, 8), np.int16)), tmp_path / "one.nii.gz")
    with pytest.raises(InputError, match=r"one\.nii\.gz: .*single 2-D slice"):
        read_volume(p)
    assert read_volume(p, allow_single_slice=True).shape == (1, 8, 8)


def test_4d_image(tmp_path):
    p = _write_sitk(sitk.GetImageFromArray(np.zeros((2, 3, 4, 5), np.int16), isVector=False), tmp_path / "t.nii.gz")
    with pytest.raises(InputError, match=r"t\.nii\.gz: expected a 3-D volume, got a 4-D"):
        read_volume(p)


def test_vector_image(tmp_path):
    p = _write_sitk(sitk.GetImageFromArray(np.zeros((3, 4, 5, 3), np.uint8), isVector=True), tmp_path / "rgb.nrrd")
    with pytest.raises(InputError, match=r"rgb\.nrrd: expected a scalar image"):
        read_volume(p)


@pytest.mark.parametrize("name", ["nan.mha", "nan.nrrd", "nan.nii.gz", "nan.nii"])
def test_nan_values(tmp_path, name):
    a = np.zeros((3, 4, 5), np.float32)
    a[1, 2, 3] = np.nan
    a[0, 0, 0] = np.inf
    p = write_volume(Volume.from_geometry(a), tmp_path / name)
    # ITK's NIfTI reader silently turns NaN into 0; the raw data is checked for NIfTI
    with pytest.raises(InputError, match=rf"{name}: contains 2 NaN or infinite"):
        read_volume(p)
    read_volume(p, allow_nan=True)


def test_folder_without_dicom(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="holds no DICOM series"):
        read_volume(tmp_path)


def test_unsupported_output_suffix(tmp_path, aniso_oblique):
    with pytest.raises(InputError, match=r"ct\.png: unsupported output format"):
        write_volume(aniso_oblique, tmp_path / "ct.png")


def test_input_array_not_modified_by_write(tmp_path, aniso_oblique):
    before = aniso_oblique.array.copy()
    write_volume(aniso_oblique, tmp_path / "x.nii.gz")
    write_dicom_series(aniso_oblique, tmp_path / "d")
    np.testing.assert_array_equal(aniso_oblique.array, before)


def test_4d_with_one_volume_is_read_as_3d(tmp_path):
    p = _write_sitk(sitk.GetImageFromArray(np.ones((1, 3, 4, 5), np.int16), isVector=False), tmp_path / "one4d.nii.gz")
    assert read_volume(p).shape == (3, 4, 5)


def test_folder_with_two_dicom_series(tmp_path, aniso_oblique):
    a = write_dicom_series(aniso_oblique, tmp_path / "a")
    b = write_dicom_series(aniso_oblique, tmp_path / "b", series_description="second")
    for f in b.iterdir():
        f.rename(a / f"b_{f.name}")
    with pytest.raises(InputError, match=r"a: folder holds 2 DICOM series"):
        read_volume(a)


def test_dicom_refuses_values_outside_int16(tmp_path):
    v = Volume.from_geometry(np.full((3, 4, 5), 40000, np.int32))
    with pytest.raises(InputError, match=r"big: values 40000\.\.40000 do not fit"):
        write_dicom_series(v, tmp_path / "big")
    assert not (tmp_path / "big").exists()


def test_dicom_io_keeps_the_process_locale(tmp_path):
    """GDCM switches the locale to "C"; we restore it so later UTF-8 text I/O keeps working."""
    import locale

    from SynTumorLib.data.io import write_dicom_series

    before = locale.setlocale(locale.LC_ALL)
    v = Volume.from_geometry(np.zeros((3, 4, 5), np.int16))
    read_volume(write_dicom_series(v, tmp_path / "series"))
    assert locale.setlocale(locale.LC_ALL) == before
