"""Resampling volumes in physical space (SimpleITK): to a new spacing, or onto a reference grid.

Images are interpolated linearly (or with B-splines), label maps with nearest neighbour so that
label values never blend. Everything happens in physical (RAS/LPS) space, so positions are kept
whatever the direction matrix — oblique and anisotropic grids included.

Example:
    >>> import numpy as np
    >>> from SynTumorLib import Volume
    >>> ct = Volume.from_geometry(np.zeros((10, 20, 20), np.int16), spacing=(0.8, 0.8, 2.5))
    >>> iso = resample_to_spacing(ct, (1.6, 1.6, 1.25))
    >>> iso.shape, iso.spacing
    ((20, 10, 10), (1.6, 1.6, 1.25))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..utils.errors import InputError
from .volume import Volume

INTERPOLATORS = ("linear", "nearest", "bspline")


def _interpolator(name: str):
    import SimpleITK as sitk

    table = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor, "bspline": sitk.sitkBSpline}
    if name not in table:
        raise InputError(f"interpolation must be one of {', '.join(INTERPOLATORS)}, got {name!r}")
    return table[name]


def _pick_interpolation(volume: Volume, is_label: bool | None, interpolation: str | None) -> str:
    if interpolation is not None:
        return interpolation
    if is_label is None:
        # uint8/bool arrays are label maps in this library (images are int16 HU or float32)
        is_label = volume.array.dtype in (np.uint8, np.bool_)
    return "nearest" if is_label else "linear"


def _resample(volume: Volume, reference: Volume, interpolation: str, default_value: float | None) -> Volume:
    import SimpleITK as sitk

    src = volume.array
    if src.dtype == np.bool_:
        src = src.astype(np.uint8)
    img = Volume(src, volume.ijk_to_ras).to_sitk()
    interp = _interpolator(interpolation)
    if default_value is None:
        # Outside the input field of view: background for labels, the darkest value for images (air in CT).
        default_value = 0.0 if interpolation == "nearest" else float(src.min()) if src.size else 0.0
    if interpolation != "nearest" and np.issubdtype(src.dtype, np.integer):
        img = sitk.Cast(img, sitk.sitkFloat32)  # interpolate in float, round back below
    ref = Volume(np.zeros(reference.shape, np.uint8), reference.ijk_to_ras).to_sitk()
    out = sitk.Resample(img, ref, sitk.Transform(), interp, float(default_value))
    arr = sitk.GetArrayFromImage(out)
    if arr.dtype != src.dtype:
        if np.issubdtype(src.dtype, np.integer):
            info = np.iinfo(src.dtype)
            arr = np.clip(np.rint(arr), info.min, info.max)
        arr = arr.astype(src.dtype)
    if volume.array.dtype == np.bool_:
        arr = arr.astype(bool)
    return Volume(arr, reference.ijk_to_ras.copy())


def resample_to_spacing(
    volume: Volume,
    spacing: Sequence[float] | float,
    *,
    is_label: bool | None = None,
    interpolation: str | None = None,
    default_value: float | None = None,
) -> Volume:
    """Resample to a new voxel size (i, j, k order, mm), keeping the field of view and direction.

    The outer corner of the field of view stays where it was (origin shifted by half the change of
    spacing), so the new grid covers the same physical box; the size along each axis is
    ``round(extent / new_spacing)`` (at least 1).

    Args:
        volume: the input (not modified).
        spacing: new spacing in mm (one number for isotropic).
        is_label: nearest-neighbour interpolation when True; default: True for uint8/bool arrays.
        interpolation: ``"linear"``, ``"nearest"`` or ``"bspline"``; overrides ``is_label``.
        default_value: value outside the input (default 0 for labels, the input minimum otherwise).

    Returns:
        A new Volume with the input's dtype (integer images are rounded).
    """
    sp = np.broadcast_to(np.asarray(spacing, dtype=np.float64), (3,)).copy()
    if np.any(~np.isfinite(sp)) or np.any(sp <= 0):
        raise InputError(f"spacing must be positive numbers, got {np.asarray(spacing).tolist()}")
    old_sp = np.asarray(volume.spacing)
    size_ijk = np.asarray(volume.shape[::-1], dtype=np.float64)
    new_size_ijk = np.maximum(1, np.round(size_ijk * old_sp / sp)).astype(int)
    direction = volume.direction_ras
    origin = volume.origin_ras + direction @ ((sp - old_sp) / 2.0)
    ref = Volume.from_geometry(np.zeros(tuple(new_size_ijk[::-1]), np.uint8), sp, origin, direction)
    return _resample(volume, ref, _pick_interpolation(volume, is_label, interpolation), default_value)


def resample_like(
    volume: Volume,
    reference: Volume,
    *,
    is_label: bool | None = None,
    interpolation: str | None = None,
    default_value: float | None = None,
) -> Volume:
    """Resample ``volume`` onto ``reference``'s grid (shape + IJK→RAS); returns ``volume`` unchanged
    (a copy) when the grids already agree.

    Example:
        >>> import numpy as np
        >>> from SynTumorLib import Volume
        >>> a = Volume.from_geometry(np.ones((4, 4, 4), np.uint8), spacing=(2, 2, 2))
        >>> b = Volume.from_geometry(np.zeros((8, 8, 8), np.int16), spacing=(1, 1, 1))
        >>> resample_like(a, b).shape
        (8, 8, 8)
    """
    if volume.same_grid(reference, atol=1e-6):
        return volume.copy()
    return _resample(volume, reference, _pick_interpolation(volume, is_label, interpolation), default_value)
