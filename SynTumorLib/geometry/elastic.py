"""Random-grid elastic deformation of label masks — the one implementation used by tumour insertion
(boundary irregularity) and by the label corrupter (boundary noise).

It follows ``elasticdeform.deform_random_grid`` (what the reference code calls): a coarse grid of
``points`` control points per axis spans the region; each control point receives a displacement
drawn from N(0, σ²); the displacement is interpolated to every voxel with a cubic spline (first and
last control points on the region's borders), and the mask is resampled with nearest-neighbour
interpolation at ``x + D(x)``. Two differences, both deliberate:

* σ is given in **millimetres** and converted per array axis with the voxel spacing, so a
  deformation looks the same on anisotropic CTs;
* only a region around the object (its bounding box plus a margin) is processed, never the whole
  CT — the grid then spans that region, which is also what the reference does (it deforms the
  tumour inside its own small crop).

``mode="independent"`` draws a full 3-D field (the three displacement components independent — the
paper's "x, y and z independently"); ``mode="pairs"`` reproduces the reference's three 2-D passes
over the axis pairs (0, 1), (1, 2), (0, 2).

Example:
    >>> import numpy as np
    >>> m = np.zeros((32, 32, 32), bool); m[8:24, 8:24, 8:24] = True
    >>> out = elastic_deform_mask(m, sigma_mm=2.0, spacing=(1, 1, 1), seed=3)
    >>> out.shape, out.dtype, bool(out[16, 16, 16])
    ((32, 32, 32), dtype('bool'), True)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from ..utils.errors import InputError

PAIRS = ((0, 1), (1, 2), (0, 2))


def control_point_displacements(
    rng: np.random.Generator, sigma_vox: Sequence[float], points: int, axes: Sequence[int]
) -> np.ndarray:
    """Displacements at the control points: shape (len(axes), points, ..., points), N(0, σ_a²)."""
    n = len(axes)
    d = rng.standard_normal((n,) + (points,) * n)
    return d * np.asarray([sigma_vox[a] for a in axes], dtype=np.float64).reshape((n,) + (1,) * n)


def _spline_weights(n_ctrl: int, n_out: int) -> np.ndarray:
    """(n_out, n_ctrl) matrix evaluating the interpolating cubic spline through ``n_ctrl`` values at
    ``n_out`` evenly spaced positions (first and last on the end control points)."""
    c = np.linspace(0, n_ctrl - 1, n_out) if n_out > 1 else np.zeros(1)
    eye = np.eye(n_ctrl)
    return np.stack([ndimage.map_coordinates(eye[m], [c], order=3, mode="nearest") for m in range(n_ctrl)], axis=1)


def _upsample(grid: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Cubic-spline interpolation of a control-point grid onto ``shape`` (corners aligned).

    Separable: one small matrix product per axis instead of a spline evaluation per voxel.
    """
    out = grid
    for axis, n in enumerate(shape):
        w = _spline_weights(grid.shape[axis], n)
        out = np.moveaxis(np.tensordot(w, np.moveaxis(out, axis, 0), axes=(1, 0)), 0, axis)
    return out


def displacement_field(
    shape: Sequence[int],
    sigma_vox: Sequence[float],
    rng: np.random.Generator,
    points: int = 3,
    axes: Sequence[int] = (0, 1, 2),
) -> np.ndarray:
    """Dense displacement (in voxels) over ``shape`` for the given axes: (len(axes), *shape[axes])."""
    ctrl = control_point_displacements(rng, sigma_vox, points, axes)
    sub_shape = [shape[a] for a in axes]
    return np.stack([_upsample(ctrl[c], sub_shape) for c in range(len(axes))])


def _warp(mask: np.ndarray, disp: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Nearest-neighbour resampling of ``mask`` at x + D(x) along ``axes``."""
    shape = mask.shape
    coords = np.indices(shape, dtype=np.float64)
    # Broadcast the (possibly lower-dimensional) field over the axes it does not cover.
    bshape = [shape[a] if a in axes else 1 for a in range(mask.ndim)]
    for c, a in enumerate(axes):
        coords[a] += disp[c].reshape(bshape)
    return ndimage.map_coordinates(mask, coords, order=0, mode="constant", cval=0)


def deform_region(
    mask: np.ndarray,
    sigma_vox: Sequence[float],
    rng: np.random.Generator,
    points: int = 3,
    mode: str = "independent",
) -> np.ndarray:
    """Deform a whole (small) array — the region is the array itself."""
    if mode == "independent":
        return _warp(mask, displacement_field(mask.shape, sigma_vox, rng, points), (0, 1, 2))
    if mode == "pairs":
        out = mask
        for pair in PAIRS:
            out = _warp(out, displacement_field(out.shape, sigma_vox, rng, points, pair), pair)
        return out
    raise InputError(f"unknown elastic mode {mode!r}; use 'independent' or 'pairs'")


def elastic_deform_mask(
    mask: np.ndarray,
    sigma_mm: float,
    spacing: Sequence[float],
    seed: int | None = None,
    *,
    rng: np.random.Generator | None = None,
    points: int = 3,
    mode: str = "independent",
    margin_mm: float | None = None,
) -> np.ndarray:
    """Elastically deform a binary mask, working only in a box around it.

    Args:
        mask: 3-D boolean/0-1 array (array axes k, j, i).
        sigma_mm: standard deviation of the control-point displacements, in mm (0 = identity).
        spacing: voxel size of each *array* axis in mm (``Volume.array_spacing``).
        seed: seed of the draw (ignored when ``rng`` is given).
        rng: a numpy Generator to draw from (lets callers chain several draws on one stream).
        points: control points per axis (3 as in the reference).
        mode: ``"independent"`` (3-D field) or ``"pairs"`` (reference: three 2-D passes).
        margin_mm: padding around the mask's bounding box; default 4σ + 2 voxels, enough that the
            deformed object does not touch the border of the processed region.

    Returns:
        A new boolean array of the same shape; the input is not modified.
    """
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise InputError(f"elastic deformation needs a 3-D mask, got shape {mask.shape}")
    if not np.isfinite(sigma_mm) or sigma_mm < 0:
        raise InputError(f"elastic sigma must be a finite number ≥ 0 mm, got {sigma_mm}")
    if points < 2:
        raise InputError(f"need at least 2 control points per axis, got {points}")
    spacing = np.asarray(spacing, dtype=np.float64)
    binary = mask.astype(bool)
    if sigma_mm == 0 or not binary.any():
        return binary.copy()
    rng = rng if rng is not None else np.random.default_rng(seed)
    sigma_vox = sigma_mm / spacing
    if margin_mm is None:
        margin_mm = 4.0 * sigma_mm
    margin = np.ceil(margin_mm / spacing).astype(int) + 2
    nz = np.nonzero(binary)
    lo = np.maximum([int(x.min()) for x in nz] - margin, 0)
    hi = np.minimum([int(x.max()) + 1 for x in nz] + margin, binary.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    region = deform_region(binary[box].astype(np.uint8), sigma_vox, rng, points, mode)
    out = np.zeros_like(binary)
    out[box] = region.astype(bool)
    return out
