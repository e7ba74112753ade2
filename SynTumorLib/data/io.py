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
from .volume import Volume

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


def is_volume_file(path: str | os.PathLike) -> bool:
    name = str(path).lower()
    return any(name.endswith(s) for s in VOLUME_SUFFIXES)


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


def _nifti_nonfinite(path: Path) -> int:
    """NaN/inf count in a float NIfTI's raw data. ITK's NIfTI reader turns NaN into 0 silently, so a
    corrupt float image would pass unnoticed; this reads the stored values themselves."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        head = f.read(540)
        for endian in "<>":
            size = int(np.frombuffer(head[:4], f"{endian}i4")[0])
            if size == 348:  # NIfTI-1
                dtype_code = int(np.frombuffer(head[70:72], f"{endian}i2")[0])
                n = np.prod(np.frombuffer(head[42:56], f"{endian}i2")[: max(1, int(np.frombuffer(head[40:42], f"{endian}i2")[0]))])
                offset = int(np.frombuffer(head[108:112], f"{endian}f4")[0])
                break
            if size == 540:  # NIfTI-2
                dtype_code = int(np.frombuffer(head[12:14], f"{endian}i2")[0])
                n = np.prod(np.frombuffer(head[24:80], f"{endian}i8")[: max(1, int(np.frombuffer(head[16:24], f"{endian}i8")[0]))])
                offset = int(np.frombuffer(head[168:176], f"{endian}i8")[0])
                break
        else:
            return 0
        dtype = {16: f"{endian}f4", 64: f"{endian}f8"}.get(dtype_code)
        if dtype is None:
            return 0  # integer data cannot hold NaN
        f.seek(offset)
        remaining, bad = int(n) * np.dtype(dtype).itemsize, 0
        while remaining > 0:  # 64 MB at a time: a second full copy of a big float volume is not needed
            chunk = f.read(min(remaining, 1 << 26))
            if not chunk:
                break
            remaining -= len(chunk)
            usable = len(chunk) - len(chunk) % np.dtype(dtype).itemsize
            bad += int(np.count_nonzero(~np.isfinite(np.frombuffer(chunk[:usable], dtype))))
    return bad


def read_volume(path: str | os.PathLike, *, allow_nan: bool = False, allow_single_slice: bool = False) -> Volume:
    """Read a 3-D scalar image (file or DICOM series folder) into a :class:`Volume`.

    Raises:
        InputError: missing or unreadable file, not 3-D (2-D or 4-D, or a single slice stored as
            3-D unless ``allow_single_slice``), vector pixels, or NaN values (unless ``allow_nan``).
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        if path.is_dir():
            with _keep_locale():
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
    if not allow_single_slice and min(img.GetSize()) < 2:
        # A lone DICOM file or a one-slice NIfTI is a 2-D image in disguise: no 3-D algorithm applies.
        raise InputError(f"{path}: expected a 3-D volume, got a single 2-D slice of size {img.GetSize()}")
    vol = Volume.from_sitk(img)
    if not allow_nan and np.issubdtype(vol.array.dtype, np.floating):
        n = int(np.count_nonzero(~np.isfinite(vol.array)))
        if n == 0 and path.name.lower().endswith((".nii", ".nii.gz")):
            n = _nifti_nonfinite(path)
        if n:
            raise InputError(f"{path}: contains {n} NaN or infinite voxels")
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
