"""Random-grid elastic deformation of label masks — the one implementation used by tumour insertion
(boundary irregularity) and by the label corrupter (boundary noise).

It reproduces ``elasticdeform.deform_random_grid`` (what the reference code calls): a coarse grid of
``points`` control points per axis spans the region, first and last on its borders; each control
point receives a displacement drawn from N(0, σ²); the displacement is interpolated to every voxel
with the same cubic spline (prefiltered with mirror boundaries — for equal control displacements
our field equals elasticdeform's to 1e-14), and the mask is resampled with nearest-neighbour
interpolation at ``x + D(x)`` (outside the region counts as background). Differences, deliberate:

* σ is given in **millimetres** and converted per array axis with the voxel spacing, so a
  deformation looks the same on anisotropic CTs;
* only a region around the object is processed, never the whole CT: the object's bounding box plus
  a margin on each side. The default margin per axis is max(4σ, half the object's extent): the
  region is then about twice the object, which is the reference's geometry (an ellipsoid of
  semi-axis r deformed inside its own 4r box), so the control-point spacing follows the object's
  size and σ changes only the amplitude, not the smoothness, of the deformation;
* the region may extend past the array edge (it is zero-padded), so a deformation does not depend
  on where the object sits in the image.

``mode="independent"`` draws one 3-D field whose three components are independent (the paper's
"x, y and z independently"); ``mode="pairs"`` reproduces the reference's three 2-D passes over the
axis pairs (0, 1), (1, 2), (0, 2).

Example:
    >>> import numpy as np
    >>> m = np.zeros((32, 32, 32), bool); m[8:24, 8:24, 8:24] = True
    >>> out = elastic_deform_mask(m, sigma_mm=2.0, spacing=(1, 1, 1), seed=3)
    >>> out.shape, out.dtype, bool(out[16, 16, 16])
    ((32, 32, 32), dtype('bool'), True)
    >>> np.array_equal(out, elastic_deform_mask(m, 2.0, (1, 1, 1), seed=3))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import ndimage

from ..utils.errors import InputError
from ..utils.limits import MAX_CONTROL_POINTS, check_count, check_length_mm, check_voxels

PAIRS = ((0, 1), (1, 2), (0, 2))
MODES = ("independent", "pairs")


def check_elastic_params(sigma_mm: float, points: int = 3, mode: str = "independent") -> tuple[float, int]:
    """Validate σ (finite, 0 ≤ σ ≤ 1000 mm), control points (2..64 per axis) and mode; returns (σ, points).

    Callers that know the image also check σ against it (a σ beyond the image's extent is noise
    without meaning, and costs memory in proportion)."""
    sigma = check_length_mm(sigma_mm, "elastic sigma_mm")
    points = check_count(points, "control_points (per axis)", 2, MAX_CONTROL_POINTS)
    if mode not in MODES:
        raise InputError(f"unknown elastic mode {mode!r}; use 'independent' or 'pairs'")
    return sigma, points


def control_point_displacements(
    rng: np.random.Generator, sigma_vox: Sequence[float], points: int, axes: Sequence[int]
) -> np.ndarray:
    """Displacements at the control points: shape (len(axes), points, ..., points), N(0, σ_a²).

    Same layout and order of draws as ``numpy.random.randn(len(axes), *points) * sigma`` in
    elasticdeform (with a Generator instead of the global legacy state).
    """
    n = len(axes)
    d = rng.standard_normal((n,) + (points,) * n)
    return d * np.asarray([sigma_vox[a] for a in axes], dtype=np.float64).reshape((n,) + (1,) * n)


@lru_cache(maxsize=256)
def _spline_weights(n_ctrl: int, n_out: int) -> np.ndarray:
    """(n_out, n_ctrl) matrix evaluating the interpolating cubic spline through ``n_ctrl`` values at
    ``n_out`` evenly spaced positions (first and last on the end control points).

    Mirror boundaries, as elasticdeform prefilters its displacement grid. Cached: a corrupted dataset
    asks for the same few sizes again and again.
    """
    c = np.linspace(0, n_ctrl - 1, n_out) if n_out > 1 else np.zeros(1)
    eye = np.eye(n_ctrl)
    w = np.stack([ndimage.map_coordinates(eye[m], [c], order=3, mode="mirror") for m in range(n_ctrl)], axis=1)
    w.setflags(write=False)
    return w


def _upsample(grid: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Cubic-spline interpolation of a control-point grid onto ``shape`` (corners aligned).

    Separable: one small matrix product per axis instead of a spline evaluation per voxel.
    """
    out = grid
    for axis, n in enumerate(shape):
        w = _spline_weights(grid.shape[axis], int(n))
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
    return field_from_control_points(control_point_displacements(rng, sigma_vox, points, axes), shape, axes)


def field_from_control_points(ctrl: np.ndarray, shape: Sequence[int], axes: Sequence[int] = (0, 1, 2)) -> np.ndarray:
    """Dense displacement from given control-point displacements (lets benchmarks feed one draw to
    both this module and elasticdeform)."""
    sub_shape = [shape[a] for a in axes]
    return np.stack([_upsample(ctrl[c], sub_shape) for c in range(len(axes))])


def warp_nearest(mask: np.ndarray, disp: np.ndarray, axes: Sequence[int] = (0, 1, 2)) -> np.ndarray:
    """Nearest-neighbour resampling of ``mask`` at x + D(x) along ``axes`` (outside → 0).

    ``disp`` covers only ``axes`` (a 2-D field of a pair pass is broadcast over the third axis).
    """
    shape = mask.shape
    check_voxels(shape, 8 * (mask.ndim + len(axes)) + 1, f"a dense elastic warp of {tuple(shape)} voxels")
    coords = np.empty((mask.ndim,) + tuple(shape), dtype=np.float64)
    for a in range(mask.ndim):
        bshape = [1] * mask.ndim
        bshape[a] = shape[a]
        coords[a] = np.arange(shape[a], dtype=np.float64).reshape(bshape)
        if a in axes:
            sub = [shape[b] if b in axes else 1 for b in range(mask.ndim)]
            coords[a] += disp[list(axes).index(a)].reshape(sub)
    return ndimage.map_coordinates(mask, coords, order=0, mode="constant", cval=0)


# Outputs per BLAS call: OpenBLAS runs a gemm with M·N·K ≤ 262144 on one thread, and with K = 3
# (control points) a 2-thread gemm of this size costs ~8× more CPU (thread hand-off) for no gain.
_GEMM_CHUNK = 65536


def _contract_first_axes(ctrl_c: np.ndarray, n0: int, n1: int) -> np.ndarray:
    """Control grid of one component contracted along axes 0 and 1: (points, n0·n1).

    Exactly the operand the last step of :func:`_upsample` hands to BLAS (same calls, same order), so
    ``dot(result.T, W2.T)`` reproduces :func:`_upsample`'s values bit for bit.
    """
    out = np.tensordot(_spline_weights(ctrl_c.shape[0], n0), ctrl_c, axes=(1, 0))
    out = np.moveaxis(np.tensordot(_spline_weights(ctrl_c.shape[1], n1), np.moveaxis(out, 1, 0), axes=(1, 0)), 0, 1)
    return np.moveaxis(out, 2, 0).reshape(ctrl_c.shape[2], n0 * n1)


def _lebesgue(n_ctrl: int, n: int) -> float:
    """max_x Σ_m |w(x, m)|: the field of an axis is at most this times the largest control value."""
    return float(np.abs(_spline_weights(n_ctrl, n)).sum(axis=1).max())


def _zero_border(mask: np.ndarray) -> bool:
    """True when the first and last layer of every axis is 0 (an elastic region always is)."""
    for a in range(mask.ndim):
        idx = [slice(None)] * mask.ndim
        for end in (0, -1):
            idx[a] = end
            if mask[tuple(idx)].any():
                return False
    return True


def _reach(ctrl: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Per axis a, an integer R_a ≥ |floor(x_a + D_a(x) + 0.5) − x_a| for every voxel x.

    D_a(x) = Σ w0(x0, m0) w1(x1, m1) w2(x2, m2) C_a[m], so |D_a| ≤ max|C_a| · Π_k max_x Σ_m |w_k(x, m)|
    (the spline's Lebesgue constants, ≈ 1); one voxel more covers rounding.
    """
    p = ctrl.shape[-1]
    lebesgue = float(np.prod([_lebesgue(p, int(n)) for n in shape]))
    bound = np.abs(ctrl).reshape(ctrl.shape[0], -1).max(axis=1) * lebesgue
    return np.floor(bound + 0.5).astype(int) + 1


def _warp_independent_fast(mask: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
    """``warp_nearest(mask, field_from_control_points(ctrl, mask.shape))`` without dense coordinates.

    Same values bit for bit, for a uint8 ``mask`` whose border layers are 0. map_coordinates
    (order 0, mode "constant") returns ``mask[floor(c + 0.5)]`` for 0 ≤ c ≤ n − 1 and 0 elsewhere,
    with c = x + D(x) in float64. The field rows come from the same BLAS product as the dense field
    (chunked below the threading threshold, never down to one row or column, where BLAS switches
    to a matrix–vector kernel that rounds differently); ``int(c + 0.5)`` truncates instead of
    flooring, which differs only for c < −0.5, where both answers are 0: it lands on the zero border
    layer or, through negative-index wrap-around, on the zero padding added at the high end of each
    axis — as do samples past n − 1. So no bounds tests are needed and the gather is one ``take``
    on a flat index. Voxels farther than the displacement bound (:func:`_reach`) from the mask's
    bounding box sample only zeros and are not evaluated.
    """
    n0, n1, n2 = mask.shape
    out = mask.copy()
    some = [np.flatnonzero(mask.any(axis=ax)) for ax in ((1, 2), (0, 2), (0, 1))]
    if any(s.size == 0 for s in some):
        return out
    p = ctrl.shape[-1]
    reach = _reach(ctrl, mask.shape)
    lo = [max(int(s[0]) - int(r), 0) for s, r in zip(some, reach, strict=True)]
    hi = [min(int(s[-1]) + 1 + int(r), n) for s, r, n in zip(some, reach, mask.shape, strict=True)]
    for a, n in enumerate(mask.shape):  # keep BLAS on its matrix kernel: ≥ 2 lines each way
        if hi[a] - lo[a] < 2:
            lo[a], hi[a] = (lo[a] - 1, hi[a]) if lo[a] > 0 else (lo[a], min(hi[a] + 1, n))
    t2 = [_contract_first_axes(ctrl[c], n0, n1) for c in range(3)]
    w = _spline_weights(p, n2).T[:, lo[2]:hi[2]]
    pad = int(reach.max()) + 2
    dims = (n0 + pad, n1 + pad, n2 + pad)
    check_voxels(dims, 1, f"the elastic deformation's lookup table ({dims[0]}×{dims[1]}×{dims[2]} voxels)",
                 "σ is very large for this voxel size")
    table = np.zeros(dims, np.uint8)
    table[:n0, :n1, :n2] = mask
    flat = table.ravel()
    itype = np.int32 if flat.size < 2**31 else np.intp  # int32: half the index traffic
    st0, st1 = dims[1] * dims[2], dims[2]
    out2 = out.reshape(n0 * n1, n2)
    x1 = np.arange(lo[1], hi[1])
    x2 = np.arange(lo[2], hi[2], dtype=np.float64)[None, :]
    planes = max(1, _GEMM_CHUNK // ((hi[1] - lo[1]) * (hi[2] - lo[2])))
    for a0 in range(lo[0], hi[0], planes):
        x0 = np.arange(a0, min(a0 + planes, hi[0]))
        cols = (x0[:, None] * n1 + x1[None, :]).ravel()
        idx = None
        for a, (xa, st) in enumerate(((np.repeat(x0, x1.size), st0), (np.tile(x1, x0.size), st1), (None, 1))):
            c = np.dot(t2[a][:, cols].T, w)  # D_a on these lines, as the dense field has it
            c += x2 if xa is None else xa.astype(np.float64)[:, None]  # c = x + D(x)
            c += 0.5
            s = c.astype(itype)
            if st != 1:
                s *= itype(st)
            if idx is None:
                idx = s
            else:
                idx += s
        out2[cols, lo[2]:hi[2]] = flat.take(idx)
    return out


def _warp_pair_fast(mask: np.ndarray, disp: np.ndarray, pair: Sequence[int]) -> np.ndarray:
    """``warp_nearest(mask, disp, pair)`` for a 2-D field of an axis pair: the coordinates are computed
    once per (a, b) position and whole lines along the third axis are gathered (its coordinate is
    the identity). Exact map_coordinates semantics (0 outside [0, n − 1]), any border."""
    a, b = pair
    (c,) = [x for x in range(3) if x not in pair]
    na, nb = mask.shape[a], mask.shape[b]
    check_voxels(mask.shape, 2 + 48.0 / mask.shape[c], f"an elastic pair pass over {mask.shape} voxels")
    ca = np.arange(na, dtype=np.float64)[:, None] + disp[0]
    cb = np.arange(nb, dtype=np.float64)[None, :] + disp[1]
    inside = (ca >= 0) & (ca <= na - 1) & (cb >= 0) & (cb <= nb - 1)
    ia = np.where(inside, ca + 0.5, 0.0).astype(np.intp)  # floor(c + 0.5) for c ≥ 0
    ib = np.where(inside, cb + 0.5, 0.0).astype(np.intp)
    src = np.moveaxis(mask, (a, b, c), (0, 1, 2))
    out = src[ia, ib]  # (na, nb, nc)
    out[~inside] = 0
    return np.moveaxis(out, (0, 1, 2), (a, b, c))


def deform_region(
    mask: np.ndarray,
    sigma_vox: Sequence[float],
    rng: np.random.Generator,
    points: int = 3,
    mode: str = "independent",
) -> np.ndarray:
    """Deform a whole (small) array — the region is the array itself.

    Equal, bit for bit, to :func:`warp_nearest` on the dense field of the same draws (the reference
    implementation, kept for tests and odd inputs); the fast paths never build the dense field.
    """
    if mode == "independent":
        ctrl = control_point_displacements(rng, sigma_vox, points, (0, 1, 2))
        if mask.ndim == 3 and mask.dtype == np.uint8 and _zero_border(mask):
            return _warp_independent_fast(mask, ctrl)
        return warp_nearest(mask, field_from_control_points(ctrl, mask.shape), (0, 1, 2))
    if mode == "pairs":
        out = mask
        for pair in PAIRS:
            disp = displacement_field(out.shape, sigma_vox, rng, points, pair)
            out = _warp_pair_fast(out, disp, pair) if out.ndim == 3 else warp_nearest(out, disp, pair)
        return out
    raise InputError(f"unknown elastic mode {mode!r}; use 'independent' or 'pairs'")


def bounding_box(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the non-zero voxels of a non-empty 3-D mask, hi exclusive.

    From axis projections: two passes over the array and no index arrays, ~10× faster than
    ``np.nonzero`` on a 512×512×120 label holding a small tumour.
    """
    m = mask if mask.dtype == bool else mask != 0
    plane = m.any(axis=0)
    lo, hi = [], []
    for proj in (m.any(axis=(1, 2)), plane.any(axis=1), plane.any(axis=0)):
        idx = np.flatnonzero(proj)
        lo.append(int(idx[0]))
        hi.append(int(idx[-1]) + 1)
    return np.array(lo), np.array(hi)


def deformation_box(
    mask: np.ndarray, sigma_mm: float, spacing: Sequence[float], margin_mm: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) array indices of the processed region — may reach outside the array (zero padding)."""
    sp = np.asarray(spacing, dtype=np.float64)
    lo, hi = bounding_box(mask)
    if margin_mm is None:
        margin_vox = np.maximum(4.0 * sigma_mm / sp, (hi - lo) / 2.0)
    else:
        margin_vox = np.full(3, float(margin_mm)) / sp
    margin = np.ceil(margin_vox).astype(int) + 2
    # the region and its working copies (uint8 region, deformed copy, caller's local frame)
    check_voxels(hi - lo + 2 * margin, 3, f"an elastic deformation (σ = {sigma_mm:g} mm) over "
                 f"{'×'.join(str(int(x)) for x in hi - lo + 2 * margin)} voxels", "lower sigma_mm or margin_mm")
    return lo - margin, hi + margin


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
        margin_mm: padding around the mask's bounding box (the grid spans box + margin). Default:
            per axis max(4σ, half the object's extent) + 2 voxels — the reference's 4r box.

    Returns:
        A new boolean array of the same shape; the input is not modified.
    """
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise InputError(f"elastic deformation needs a 3-D mask, got shape {mask.shape}")
    sigma_mm, points = check_elastic_params(sigma_mm, points, mode)
    spacing = np.asarray(spacing, dtype=np.float64)
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise InputError(f"spacing must be three positive numbers (mm per array axis), got {spacing.tolist()}")
    if margin_mm is not None:
        margin_mm = check_length_mm(margin_mm, "margin_mm")
    binary = mask if mask.dtype == bool else mask != 0
    if sigma_mm == 0 or not binary.any():
        return binary.copy()
    rng = rng if rng is not None else np.random.default_rng(seed)
    lo, hi = deformation_box(binary, sigma_mm, spacing, margin_mm)
    # Zero-padded region: the parts of [lo, hi) inside the array are copied in, the rest stays 0.
    inner_lo, inner_hi = np.maximum(lo, 0), np.minimum(hi, binary.shape)
    src = tuple(slice(int(a), int(b)) for a, b in zip(inner_lo, inner_hi, strict=True))
    dst = tuple(slice(int(a - o), int(b - o)) for a, b, o in zip(inner_lo, inner_hi, lo, strict=True))
    region = np.zeros(tuple(int(x) for x in hi - lo), dtype=np.uint8)
    region[dst] = binary[src]
    deformed = deform_region(region, sigma_mm / spacing, rng, int(points), mode)
    out = np.zeros_like(binary)
    out[src] = deformed[dst].astype(bool)
    return out
