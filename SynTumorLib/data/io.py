"""Read and write volumes through SimpleITK: NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MHA/MHD and
DICOM series (a folder). Every failure names the file and the problem; writes are atomic.

Example:
    >>> import numpy as np, tempfile, os
    >>> from SynTumorLib import Volume, read_volume, write_volume
    >>> v = Volume.from_geometry(np.arange(24, dtype=np.int16).reshape(2, 3, 4), spacing=(0.5, 0.5, 2))
    >>> p = os.path.join(tempfile.mkdtemp(), "ct.nii.gz")
    >>> read_volume(write_volume(v, p)).same_grid(v)
    True
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..utils.atomic import atomic_path
from ..utils.errors import InputError
from .volume import Volume

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


def is_volume_file(path: str | os.PathLike) -> bool:
    name = str(path).lower()
    return any(name.endswith(s) for s in VOLUME_SUFFIXES)


def _read_dicom_series(folder: Path):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    ids = reader.GetGDCMSeriesIDs(str(folder))
    if not ids:
        raise InputError(f"{folder}: folder holds no DICOM series")
    if len(ids) > 1:
        raise InputError(f"{folder}: folder holds {len(ids)} DICOM series ({', '.join(ids[:3])}...); give one series folder")
    files = reader.GetGDCMSeriesFileNames(str(folder), ids[0])
    reader.SetFileNames(files)
    return reader.Execute()


def read_volume(path: str | os.PathLike, *, allow_nan: bool = False) -> Volume:
    """Read a 3-D scalar image (file or DICOM series folder) into a :class:`Volume`.

    Raises:
        InputError: missing or unreadable file, not 3-D (2-D or 4-D), vector pixels, or NaN values
            (unless ``allow_nan``).
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        if path.is_dir():
            img = _read_dicom_series(path)
        else:
            img = sitk.ReadImage(str(path))
    except InputError:
        raise
    except RuntimeError as e:
        first = str(e).strip().splitlines()[-1] if str(e).strip() else "unknown reader error"
        raise InputError(f"{path}: cannot be read as an image ({first})") from None
    dim = img.GetDimension()
    if dim == 4 and img.GetSize()[3] == 1:
        img = img[:, :, :, 0]
        dim = 3
    if dim != 3:
        raise InputError(f"{path}: expected a 3-D volume, got a {dim}-D image of size {img.GetSize()}")
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path}: expected a scalar image, got {img.GetNumberOfComponentsPerPixel()} components per voxel")
    vol = Volume.from_sitk(img)
    if not allow_nan and np.issubdtype(vol.array.dtype, np.floating) and not np.all(np.isfinite(vol.array)):
        n = int(np.count_nonzero(~np.isfinite(vol.array)))
        raise InputError(f"{path}: contains {n} NaN or infinite voxels")
    return vol


def write_volume(volume: Volume, path: str | os.PathLike, *, compress: bool = True) -> Path:
    """Write atomically (temp file + rename); the format follows the file name."""
    import SimpleITK as sitk

    path = Path(path)
    if not is_volume_file(path):
        raise InputError(f"{path}: unsupported output format (use one of {', '.join(VOLUME_SUFFIXES)})")
    img = volume.to_sitk()
    with atomic_path(path) as tmp:
        sitk.WriteImage(img, str(tmp), useCompression=compress)
    return path
