"""Read and write volumes through SimpleITK: NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MHA/MHD and
DICOM series (a folder). Every failure names the file and the problem; writes are atomic — for the
two-file formats (.nhdr/.mhd + raw data) and DICOM folders too: everything is written into a hidden
temporary folder beside the target first and renamed into place (data files before headers).

Example:
    >>> import numpy as np, tempfile, os
    >>> from SynTumorLib import Volume, read_volume, write_volume
    >>> v = Volume.from_geometry(np.arange(24, dtype=np.int16).reshape(2, 3, 4), spacing=(0.5, 0.5, 2))
    >>> p = os.path.join(tempfile.mkdtemp(), "ct.nii.gz")
    >>> read_volume(write_volume(v, p)).same_grid(v)
    True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..utils.atomic import atomic_path
from ..utils.errors import InputError
from ..utils.paths import VOLUME_SUFFIXES, is_hidden
from .integrity import check_dicom_series, verify_nifti
from .volume import Volume

__all__ = ["VOLUME_SUFFIXES", "is_volume_file", "list_volume_files", "read_label_map", "read_volume", "write_volume",
           "write_dicom_series"]

def is_volume_file(path: str | os.PathLike) -> bool:
    name = str(path).lower()
    return any(name.endswith(s) for s in VOLUME_SUFFIXES)


def list_volume_files(folder: str | os.PathLike) -> list[Path]:
    """The volume files of a folder, sorted — hidden files skipped: the temporary files of killed
    writes (``.ct.nii.gz.ab12cd34.tmp.nii.gz``), macOS ``._`` files. Every reader of folders uses it."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not is_hidden(p) and is_volume_file(p))


@contextlib.contextmanager
def _keep_locale():
    """GDCM (ITK's DICOM library) switches the process locale to "C" while it reads or writes DICOM
    and does not switch it back; Python's default text encoding then becomes ASCII and any later
    ``open()`` of a UTF-8 file without an explicit encoding fails. Restore the caller's locale."""
    import locale

    saved = locale.setlocale(locale.LC_ALL)
    try:
        yield
    finally:
        try:
            locale.setlocale(locale.LC_ALL, saved)
        except locale.Error:  # a composite locale string the platform cannot re-apply
            pass


def _read_dicom_series(folder: Path, allow_gaps: bool | None = None):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    ids = reader.GetGDCMSeriesIDs(str(folder))
    if not ids:
        raise InputError(f"{folder}: folder holds no DICOM series")
    if len(ids) > 1:
        raise InputError(f"{folder}: folder holds {len(ids)} DICOM series ({', '.join(ids[:3])}...); give one series folder")
    files = reader.GetGDCMSeriesFileNames(str(folder), ids[0])
    check_dicom_series(folder, files, allow_gaps=allow_gaps)
    reader.SetFileNames(files)
    return reader.Execute()


def read_volume(path: str | os.PathLike, *, allow_nan: bool = False, allow_single_slice: bool = False,
                allow_gaps: bool | None = None) -> Volume:
    """Read a 3-D scalar image (file or DICOM series folder) into a :class:`Volume`.

    NIfTI files are verified to be complete (gzip CRC and length, the data size the header
    promises) and DICOM series to be consistent (see :mod:`.integrity`); ``allow_gaps`` (default:
    the ``SYNTUMOR_ALLOW_DICOM_GAPS`` setting, ``syntumor --allow-gaps``) turns a gap in a series
    into a warning.

    Raises:
        InputError: missing or unreadable file, a truncated file, a DICOM series with gaps, not 3-D
            (2-D or 4-D, or a single slice stored as 3-D unless ``allow_single_slice``), vector
            pixels, or NaN values (unless ``allow_nan``).
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        if path.is_dir():
            with _keep_locale():
                img = _read_dicom_series(path, allow_gaps)
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
    if not allow_single_slice and min(img.GetSize()) < 2:
        # A lone DICOM file or a one-slice NIfTI is a 2-D image in disguise: no 3-D algorithm applies.
        raise InputError(f"{path}: expected a 3-D volume, got a single 2-D slice of size {img.GetSize()}")
    vol = Volume.from_sitk(img)
    is_float = np.issubdtype(vol.array.dtype, np.floating)
    n = int(np.count_nonzero(~np.isfinite(vol.array))) if (is_float and not allow_nan) else 0
    if path.is_file() and path.name.lower().endswith((".nii", ".nii.gz")):
        # ITK zero-fills a file that ends early and turns NaN into 0: check the stored bytes themselves
        stored = verify_nifti(path, count_nonfinite=is_float and not allow_nan and n == 0)
        n = n or stored
    if n:
        raise InputError(f"{path}: contains {n} NaN or infinite voxels")
    return vol




def _label_value_text(v) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def read_label_map(path: str | os.PathLike, *, value: int | None = None, **kwargs) -> Volume:
    """:func:`read_volume` for a label map: the values must be whole numbers ≥ 0, and ``value`` (e.g.
    the organ's label) must occur. Every error names the file; float values are shown as floats.

    Raises:
        InputError: unreadable (see :func:`read_volume`), non-integer or negative values, ``value`` absent.
    """
    vol = read_volume(path, **kwargs)
    values = np.unique(vol.array)
    if np.issubdtype(values.dtype, np.floating):
        frac = values[np.mod(values, 1) != 0]
        if frac.size:
            raise InputError(f"{path}: label map has non-integer values (e.g. {float(frac[0])!r}); is it an image "
                             "rather than a label map?")
    if values.size and values[0] < 0:
        raise InputError(f"{path}: label map has negative values (min {_label_value_text(values[0])}); labels are ≥ 0")
    if value is not None and not np.any(values == value):
        present = ", ".join(_label_value_text(v) for v in values[values != 0][:12]) or "none"
        raise InputError(f"{path}: no voxels with label value {value} (values present: {present})")
    return vol


@contextlib.contextmanager
def _temp_folder_beside(path: Path):
    """A hidden temporary folder in ``path``'s parent (same file system, so renames are atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_two_file(img, path: Path, compress: bool) -> None:
    """.nhdr/.mhd: the header names its data file (``<name>.raw.gz`` / ``<name>.zraw``) relative to
    itself, so write both under the *final* names in a temporary folder, then move the data file(s)
    first and the header last — a reader never sees a header whose data is missing or half written.
    """
    import SimpleITK as sitk

    with _temp_folder_beside(path) as tmp:
        sitk.WriteImage(img, str(tmp / path.name), useCompression=compress)
        header = tmp / path.name
        for f in sorted(tmp.iterdir()):
            if f != header:
                os.replace(f, path.parent / f.name)
        os.replace(header, path)


def write_volume(volume: Volume, path: str | os.PathLike, *, compress: bool = True) -> Path:
    """Write atomically; the format follows the file name (a name without a suffix, or an existing
    folder, is written as a DICOM series — see :func:`write_dicom_series`).

    Example:
        >>> import numpy as np, tempfile, os
        >>> v = Volume.from_geometry(np.zeros((3, 4, 5), np.int16), spacing=(0.7, 0.7, 3))
        >>> p = write_volume(v, os.path.join(tempfile.mkdtemp(), "ct.nhdr"))
        >>> read_volume(p).spacing
        (0.7, 0.7, 3.0)
    """
    import SimpleITK as sitk

    path = Path(path)
    if path.is_dir() or (not path.suffix and not path.exists()):
        return write_dicom_series(volume, path)
    if not is_volume_file(path):
        raise InputError(f"{path}: unsupported output format (use one of {', '.join(VOLUME_SUFFIXES)} or a folder for DICOM)")
    img = volume.to_sitk()
    name = path.name.lower()
    if name.endswith((".nhdr", ".mhd")):
        _write_two_file(img, path, compress)
        return path
    with atomic_path(path) as tmp:
        sitk.WriteImage(img, str(tmp), useCompression=compress)
    return path


def _ds(x: float) -> str:
    """A DICOM decimal string (at most 16 characters)."""
    for digits in (10, 8, 6):
        s = f"{float(x):.{digits}g}"
        if len(s) <= 16:
            return s
    return f"{float(x):.4g}"


def _dicom_pixels(array: np.ndarray, folder: Path) -> tuple[np.ndarray, dict[str, str]]:
    """Pixels to hand to GDCM plus the pixel-module tags: integral data as int16 (slope 1), other
    data as float with RescaleSlope/Intercept, which GDCM applies when it stores int16 pixels."""
    a = np.asarray(array)
    if a.dtype == np.bool_:
        a = a.astype(np.int16)
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise InputError(f"{folder}: cannot write NaN or infinite values to a DICOM series")
        if np.all(np.mod(a, 1) == 0):
            a = a.astype(np.int64)
    if np.issubdtype(a.dtype, np.integer):
        if a.size and (a.min() < -32768 or a.max() > 32767):
            raise InputError(f"{folder}: values {a.min()}..{a.max()} do not fit the int16 pixels of a DICOM series")
        return a.astype(np.int16), {"0028|1052": "0", "0028|1053": "1"}
    lo, hi = float(a.min()), float(a.max())
    intercept = round((lo + hi) / 2)  # GDCM requires an integral intercept
    slope = float(f"{max(max(hi - intercept, intercept - lo) / 32000.0, 1e-6):.3g}")
    tags = {"0028|1052": str(intercept), "0028|1053": _ds(slope), "0028|0100": "16", "0028|0101": "16",
            "0028|0102": "15", "0028|0103": "1"}
    return a.astype(np.float64), tags


def write_dicom_series(volume: Volume, folder: str | os.PathLike, *, series_description: str = "SynTumor",
                       modality: str = "CT") -> Path:
    """Write a volume as a DICOM series (one int16 file per k-slice) into ``folder``.

    Each slice carries ImagePositionPatient, ImageOrientationPatient (LPS), PixelSpacing,
    SliceThickness and RescaleSlope/Intercept, so :func:`read_volume` reads the same geometry back.
    DICOM readers sort slices along the cross product of the row and column directions, so a
    left-handed grid (``det(direction) < 0``) comes back with its k axis reversed — same voxels at
    the same physical positions, stored the other way round. The folder is written atomically (a
    temporary folder renamed into place); an existing non-empty folder is refused.

    Example:
        >>> import numpy as np, tempfile, os
        >>> v = Volume.from_geometry(np.arange(60, dtype=np.int16).reshape(3, 4, 5), spacing=(0.7, 0.8, 2.5))
        >>> d = write_dicom_series(v, os.path.join(tempfile.mkdtemp(), "series"))
        >>> back = read_volume(d)
        >>> back.same_grid(v), bool((back.array == v.array).all())
        (True, True)
    """

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(f"{folder}: DICOM output must be a new or empty folder")
    pixels, pixel_tags = _dicom_pixels(volume.array, folder)
    img = Volume(pixels, volume.ijk_to_ras).to_sitk()
    d = img.GetDirection()
    now = time.gmtime()
    date, clock = time.strftime("%Y%m%d", now), time.strftime("%H%M%S", now)
    root_uid = "1.2.826.0.1.3680043.2.1125"  # the example root UID SimpleITK's own DICOM examples use
    uid = f"{root_uid}.{date}.{clock}{os.getpid() % 100000}{int(time.time_ns() % 1_000_000)}"
    sx, sy, sz = img.GetSpacing()
    shared = {
        "0008|0008": "DERIVED\\SECONDARY",
        "0008|0060": modality,
        "0008|0021": date, "0008|0031": clock,
        "0008|103e": series_description[:64],
        "0020|000d": uid + ".1",  # study
        "0020|000e": uid + ".2",  # series
        "0020|0052": uid + ".3",  # frame of reference
        "0020|0037": "\\".join(_ds(v) for v in (d[0], d[3], d[6], d[1], d[4], d[7])),
        "0028|0030": f"{_ds(sy)}\\{_ds(sx)}",  # row spacing (j) then column spacing (i)
        "0018|0050": _ds(sz),
        "0028|1054": "HU" if modality == "CT" else "US",
        **pixel_tags,
    }
    with _keep_locale():
        _write_slices(img, folder, shared, uid)
    return folder


def _write_slices(img, folder: Path, shared: dict, uid: str) -> None:
    import SimpleITK as sitk

    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()  # keep our series/study UIDs instead of fresh ones per file
    with _temp_folder_beside(folder) as tmp:
        for k in range(img.GetDepth()):
            sl = img[:, :, k]
            for tag, value in shared.items():
                sl.SetMetaData(tag, value)
            sl.SetMetaData("0008|0018", f"{uid}.4.{k + 1}")  # SOP instance
            sl.SetMetaData("0020|0013", str(k + 1))
            sl.SetMetaData("0020|0032", "\\".join(_ds(v) for v in img.TransformIndexToPhysicalPoint((0, 0, k))))
            sl.SetMetaData("0020|1041", _ds(img.TransformIndexToPhysicalPoint((0, 0, k))[2]))
            writer.SetFileName(str(tmp / f"slice_{k + 1:04d}.dcm"))
            writer.Execute(sl)
        if folder.exists():
            folder.rmdir()  # empty (checked above); os.replace needs the name free
        os.replace(tmp, folder)
