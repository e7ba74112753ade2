"""Integrity checks ITK does not make, run by :func:`SynTumorLib.data.io.read_volume` on every read.

* **NIfTI** (``.nii``, ``.nii.gz``): ITK reads a file that ends early as a complete volume with the
  missing part zero-filled (a truncated prediction scored 88 % DSC). :func:`verify_nifti` streams the
  file once (4 MiB at a time, no second copy of the volume): the gzip stream must be complete —
  its CRC-32 and length trailer (ISIZE) check — and must hold the ``vox_offset + voxels × bytes``
  its header promises. The same pass counts NaN/inf in float data (ITK turns NaN into 0 silently).
* **DICOM series**: ITK sorts the slices it can read and spreads them evenly, so a missing or
  truncated slice gives a volume with the wrong spacing and only a console warning.
  :func:`check_dicom_series` requires equal slice sizes and orientations, evenly spaced slice
  positions and complete instance numbers, and that every DICOM file of the folder is in the series.
  With ``allow_gaps`` the problem is logged as a warning naming the gap instead.

Example:
    >>> import numpy as np, tempfile, os
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.data.io import write_volume
    >>> p = write_volume(Volume.from_geometry(np.ones((8, 8, 8), np.float32)), os.path.join(tempfile.mkdtemp(), "x.nii.gz"))
    >>> verify_nifti(p, count_nonfinite=True)
    0
    >>> data = open(p, "rb").read(); _ = open(p, "wb").write(data[:-20])
    >>> verify_nifti(p)
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: ...x.nii.gz: truncated or corrupt gzip stream (...); the file is incomplete
"""

from __future__ import annotations

import gzip
import logging
import os
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..utils.errors import InputError

log = logging.getLogger(__name__)
CHUNK = 1 << 22  # 4 MiB
ALLOW_GAPS_ENV = "SYNTUMOR_ALLOW_DICOM_GAPS"  # "1": DICOM series problems warn instead of failing
_FLOAT = {16: "f4", 64: "f8"}


def _nifti_layout(head: bytes) -> tuple[str, int, int, str | None] | None:
    """(endian, data offset, data bytes, float dtype or None) from a NIfTI-1/-2 header, None if not NIfTI."""
    for endian in "<>":
        size = int(np.frombuffer(head[:4], f"{endian}i4")[0]) if len(head) >= 4 else 0
        if size == 348 and len(head) >= 348:
            ndim = int(np.frombuffer(head[40:42], f"{endian}i2")[0])
            dims = np.frombuffer(head[42:56], f"{endian}i2")[: max(1, min(ndim, 7))].astype(np.int64)
            code = int(np.frombuffer(head[70:72], f"{endian}i2")[0])
            bitpix = int(np.frombuffer(head[72:74], f"{endian}i2")[0])
            offset = int(np.frombuffer(head[108:112], f"{endian}f4")[0])
        elif size == 540 and len(head) >= 540:
            code = int(np.frombuffer(head[12:14], f"{endian}i2")[0])
            bitpix = int(np.frombuffer(head[14:16], f"{endian}i2")[0])
            ndim = int(np.frombuffer(head[16:24], f"{endian}i8")[0])
            dims = np.frombuffer(head[24:80], f"{endian}i8")[: max(1, min(ndim, 7))].astype(np.int64)
            offset = int(np.frombuffer(head[168:176], f"{endian}i8")[0])
        else:
            continue
        if np.any(dims < 0) or bitpix <= 0 or offset < 0:
            return None
        nbytes = int(np.prod(dims, dtype=object)) * bitpix // 8
        return endian, offset, nbytes, _FLOAT.get(code)
    return None


def verify_nifti(path: str | os.PathLike, *, count_nonfinite: bool = False) -> int:
    """Check that a NIfTI file is complete (one streaming pass); return its NaN/inf count (0 unless
    ``count_nonfinite`` and the data are float).

    Raises:
        InputError: the gzip stream is truncated or corrupt (CRC/length), or the file holds fewer
            bytes than its header promises.
    """
    path = Path(path)
    gz = path.name.lower().endswith(".gz")
    opener = gzip.open if gz else open
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total, bad, carry = 0, 0, b""
    try:
        with opener(path, "rb") as f:
            head = f.read(540)
            total = len(head)
            layout = _nifti_layout(head)
            if layout is None:
                return 0  # not NIfTI after all: ITK already read it as something else
            endian, offset, nbytes, ftype = layout
            dtype = np.dtype(endian + ftype) if (count_nonfinite and ftype) else None
            pending = head[offset:] if (dtype is not None and offset < len(head)) else b""
            if not gz:  # an uncompressed file: its size says everything
                size = path.stat().st_size
                if size < offset + nbytes:
                    raise InputError(f"{path}: holds {size} bytes but its header promises {offset + nbytes}; the file "
                                     "is truncated")
                if dtype is None:
                    return 0
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                start = max(0, min(n, offset - total))  # bytes of this chunk before the voxel data
                total += n
                if dtype is not None:
                    chunk = carry + pending + bytes(view[start:n])
                    pending = b""
                    usable = len(chunk) - len(chunk) % dtype.itemsize
                    bad += int(np.count_nonzero(~np.isfinite(np.frombuffer(chunk[:usable], dtype))))
                    carry = chunk[usable:]
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise InputError(f"{path}: truncated or corrupt gzip stream ({e or type(e).__name__}); the file is "
                         "incomplete") from None
    if total < offset + nbytes:
        raise InputError(f"{path}: decompresses to {total} bytes but its header promises {offset + nbytes}; the "
                         "file is truncated")
    return bad


# --------------------------------------------------------------------------------------- DICOM
def looks_dicom(f: Path) -> bool:
    """A ``.dcm`` name or the ``DICM`` magic at byte 128 (cheap: reads 4 bytes)."""
    if f.suffix.lower() == ".dcm":
        return True
    try:
        with open(f, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _floats(text: str, n: int) -> np.ndarray | None:
    try:
        v = np.array([float(x) for x in text.strip().split("\\")], dtype=np.float64)
    except ValueError:
        return None
    return v if v.size == n and np.all(np.isfinite(v)) else None


def _slice_info(f: str) -> dict:
    import SimpleITK as sitk

    r = sitk.ImageFileReader()
    r.SetFileName(f)
    r.ReadImageInformation()

    def get(key: str) -> str:
        return r.GetMetaData(key) if r.HasMetaDataKey(key) else ""

    inst = get("0020|0013").strip()
    return {"file": f, "size": tuple(r.GetSize()[:2]), "ipp": _floats(get("0020|0032"), 3),
            "iop": _floats(get("0020|0037"), 6), "instance": int(inst) if inst.lstrip("-").isdigit() else None}


def _problems(folder: Path, files: Sequence[str], others: Sequence[Path]) -> list[str]:
    infos = [_slice_info(f) for f in files]
    out = []
    if others:
        names = ", ".join(p.name for p in others[:3]) + (" ..." if len(others) > 3 else "")
        out.append(f"{len(others)} DICOM file(s) of the folder are not in the series (unreadable, truncated or "
                   f"another series): {names}")
    sizes = sorted({i["size"] for i in infos})
    if len(sizes) > 1:
        out.append(f"slices of different sizes {sizes[:3]}")
    iops = [i["iop"] for i in infos]
    if any(v is None for v in iops) or any(np.abs(v - iops[0]).max() > 1e-4 for v in iops):
        out.append("slices with different (or missing) orientations (ImageOrientationPatient)")
    ipps = [i["ipp"] for i in infos]
    if iops[0] is not None and all(p is not None for p in ipps) and len(ipps) >= 3:
        normal = np.cross(iops[0][:3], iops[0][3:])
        order = np.argsort([float(p @ normal) for p in ipps])
        pos = np.array([float(ipps[k] @ normal) for k in order])
        steps = np.diff(pos)
        step = float(np.median(steps))
        tol = max(0.01, 0.01 * abs(step))
        for n in np.flatnonzero(np.abs(steps - step) > tol)[:3]:
            a, b = infos[order[n]], infos[order[n + 1]]
            out.append(f"slice gap of {steps[n]:.4g} mm (the series steps {step:.4g} mm) between "
                       f"{Path(a['file']).name} and {Path(b['file']).name} at {pos[n]:.4g} → {pos[n + 1]:.4g} mm")
    elif any(p is None for p in ipps):
        out.append("slices without a position (ImagePositionPatient)")
    inst = [i["instance"] for i in infos]
    if all(v is not None for v in inst) and len(inst) >= 2:
        have = sorted(inst)
        dup = sorted({v for v in have if have.count(v) > 1})
        steps = [b - a for a, b in zip(have, have[1:], strict=False) if b > a]
        stride = min(steps) if steps else 1  # some exports number every other slice: 2, 4, 6, ...
        missing = sorted(set(range(have[0], have[-1] + 1, stride)) - set(have))
        if dup:
            out.append(f"duplicate instance numbers {dup[:5]}")
        if missing:
            out.append(f"missing instance number(s) {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    return out


def gaps_allowed() -> bool:
    return os.environ.get(ALLOW_GAPS_ENV, "") == "1"


def check_dicom_series(folder: str | os.PathLike, files: Sequence[str], *, allow_gaps: bool | None = None) -> None:
    """Refuse (or, with ``allow_gaps``, warn about) an inconsistent series: see the module doc.
    ``allow_gaps=None`` follows ``SYNTUMOR_ALLOW_DICOM_GAPS`` (``syntumor --allow-gaps`` sets it)."""
    folder = Path(folder)
    chosen = {os.path.normcase(os.path.abspath(f)) for f in files}
    others = [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")
              and os.path.normcase(os.path.abspath(p)) not in chosen and looks_dicom(p)]
    problems = _problems(folder, files, others)
    if not problems:
        return
    allow = gaps_allowed() if allow_gaps is None else allow_gaps
    text = f"{folder}: inconsistent DICOM series ({len(files)} slices): " + "; ".join(problems)
    if not allow:
        raise InputError(text + " — the volume would have the wrong geometry; pass --allow-gaps to read it anyway")
    msg = text + " — read anyway (--allow-gaps): its spacing and positions are NOT reliable"
    log.warning(msg)
    warnings.warn(msg, RuntimeWarning, stacklevel=3)
