"""Tumour shapes: ellipsoids in millimetres with an elastic boundary, built in a small local box.

A shape is drawn once (semi-axes, orientation, σ, elastic seed — see :func:`draw_shape`) and then
rendered deterministically (:func:`render_shape`), so a record of the draw replays bit-for-bit.

Conventions: semi-axes are given as ``(r_x, r_y, r_z)`` along the image axes i, j, k (what Slicer
shows as x, y, z); the rotation is a 3×3 matrix acting on physical offsets expressed along the
array axes (k, j, i) in mm, so an identity rotation gives an axis-aligned ellipsoid. The local box
spans 4 r_max per axis — the box the reference code deforms the tumour in (``get_ellipsoid`` makes
a ``4x × 4y × 4z`` array) — so the 3×3 control-point grid has the reference's coarseness.

Example:
    >>> import numpy as np
    >>> s = draw_shape(np.random.default_rng(0), (8.0, 8.0), (1.0, 2.0), random_orientation=True)
    >>> m = render_shape(s, spacing_kji=(2.5, 0.8, 0.8))
    >>> m.dtype, bool(m.any())
    (dtype('bool'), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..utils.errors import InputError
from ..utils.limits import MAX_LENGTH_MM, check_voxels
from .elastic import elastic_deform_mask


@dataclass(frozen=True)
class ShapeDraw:
    """Everything needed to render one tumour shape (JSON-able through :meth:`to_dict`)."""

    semi_axes_mm: tuple[float, float, float]  # (r_x, r_y, r_z) along i, j, k
    rotation: tuple[tuple[float, ...], ...] | None  # 3×3 on (k, j, i) mm offsets; None = axis-aligned
    sigma_mm: float
    elastic_seed: int
    elastic_mode: str = "independent"

    def to_dict(self) -> dict:
        return {
            "semi_axes_mm": [float(x) for x in self.semi_axes_mm],
            "rotation": None if self.rotation is None else [[float(v) for v in r] for r in self.rotation],
            "sigma_mm": float(self.sigma_mm),
            "elastic_seed": int(self.elastic_seed),
            "elastic_mode": self.elastic_mode,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ShapeDraw:
        rot = d.get("rotation")
        return cls(
            tuple(float(x) for x in d["semi_axes_mm"]),  # type: ignore[arg-type]
            None if rot is None else tuple(tuple(float(v) for v in r) for r in rot),
            float(d["sigma_mm"]),
            int(d["elastic_seed"]),
            str(d.get("elastic_mode", "independent")),
        )

    @property
    def nominal_volume_mm3(self) -> float:
        a, b, c = self.semi_axes_mm
        return 4.0 / 3.0 * np.pi * a * b * c


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation uniformly distributed on SO(3) (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))[None, :]
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def check_semi_axes(semi_axes_mm: Sequence[float], what: str = "radii") -> tuple[float, float, float]:
    try:
        axes = tuple(float(x) for x in semi_axes_mm)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected three numbers in mm, got {semi_axes_mm!r}") from None
    if len(axes) != 3:
        raise InputError(f"{what}: expected three semi-axes (x, y, z) in mm, got {len(axes)}")
    if not all(np.isfinite(axes)) or min(axes) <= 0 or max(axes) > MAX_LENGTH_MM:
        raise InputError(f"{what}: semi-axes must be > 0 mm and ≤ {MAX_LENGTH_MM:g} mm, got {list(axes)}")
    return axes  # type: ignore[return-value]


def draw_shape(
    rng: np.random.Generator,
    range_mm: tuple[float, float],
    sigma_range_mm: tuple[float, float],
    *,
    random_orientation: bool = True,
    elastic_mode: str = "independent",
    integer_axes: bool = False,
    semi_axes_mm: Sequence[float] | None = None,
    sigma_mm: float | None = None,
) -> ShapeDraw:
    """Draw semi-axes per Eq. 1 (each axis ~ U(lo, hi)), σ ~ U(σ_lo, σ_hi), orientation and seed.

    ``integer_axes`` draws whole millimetres (the reference's ``random.randint``); explicit
    ``semi_axes_mm`` / ``sigma_mm`` replace the corresponding draws.
    """
    lo, hi = range_mm
    if semi_axes_mm is not None:
        axes = check_semi_axes(semi_axes_mm)
    elif integer_axes:
        axes = tuple(float(x) for x in rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1, size=3))
    else:
        axes = tuple(float(x) for x in rng.uniform(lo, hi, size=3))
    s = float(rng.uniform(*sigma_range_mm)) if sigma_mm is None else float(sigma_mm)
    if not np.isfinite(s) or s < 0:
        raise InputError(f"elastic sigma must be ≥ 0 mm, got {s}")
    rot = random_rotation(rng) if random_orientation else None
    seed = int(rng.integers(0, 2**31 - 1))
    rot_t = None if rot is None else tuple(tuple(float(v) for v in row) for row in rot)
    return ShapeDraw(axes, rot_t, s, seed, elastic_mode)  # type: ignore[arg-type]


def box_half_extent(semi_axes_mm: Sequence[float], spacing_kji: Sequence[float]) -> np.ndarray:
    """Half size (voxels, k, j, i) of the local box: 2 r_max per axis, plus one voxel."""
    rmax = max(semi_axes_mm)
    return np.ceil(2.0 * rmax / np.asarray(spacing_kji, dtype=np.float64)).astype(int) + 1


def ellipsoid_mask(
    semi_axes_mm: Sequence[float],
    spacing_kji: Sequence[float],
    rotation: np.ndarray | None = None,
    offset_vox: Sequence[float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """Solid ellipsoid in a box of half extent :func:`box_half_extent`, centred on the box's middle
    voxel shifted by ``offset_vox`` (sub-voxel, k, j, i).

    The quadratic form is evaluated only inside the ellipsoid's own bounding box (its half extent
    along array axis a is sqrt(Σ_b (R_ab r_b)²) mm) plus a voxel, not in the whole 4 r box: the same
    values voxel for voxel (elementwise arithmetic), and everything outside is far from the surface.
    """
    sp = np.asarray(spacing_kji, dtype=np.float64)
    half = box_half_extent(semi_axes_mm, sp)
    # the box (bool) and, for a rotated ellipsoid, the float64 quadratic form over its bounding box
    check_voxels(2 * half + 1, 9, f"a tumour shape with semi-axes {[round(float(r), 3) for r in semi_axes_mm]} mm "
                 f"({'×'.join(str(int(2 * h + 1)) for h in half)} voxels)", "use smaller radii")
    off = np.asarray(offset_vox, dtype=np.float64)
    rx, ry, rz = semi_axes_mm
    radii_kji = np.array([rz, ry, rx])
    rot = None if rotation is None else np.asarray(rotation, dtype=np.float64)
    ext_mm = radii_kji if rot is None else np.sqrt(((rot * radii_kji[None, :]) ** 2).sum(axis=1))
    # indices g - o with |g - o|·s ≤ extent, widened by one voxel each side, clipped to the box
    lo = np.maximum(np.floor(off - ext_mm / sp).astype(int) - 1, -half)
    hi = np.minimum(np.ceil(off + ext_mm / sp).astype(int) + 1, half)
    out = np.zeros(tuple(int(2 * h + 1) for h in half), dtype=bool)
    if np.any(hi < lo):
        return out
    grids = [(np.arange(a, b + 1) - o) * s for a, b, o, s in zip(lo, hi, off, sp, strict=True)]
    sub = tuple(slice(int(a + h), int(b + h + 1)) for a, b, h in zip(lo, hi, half, strict=True))
    if rot is None:
        q = [(g / r) ** 2 for g, r in zip(grids, radii_kji, strict=True)]
        out[sub] = (q[0][:, None, None] + q[1][None, :, None] + q[2][None, None, :]) <= 1.0
        return out
    # Local coordinates u = Rᵀ p; the ellipsoid is Σ (u_a / r_a)² ≤ 1.
    rt = rot.T / radii_kji[:, None]
    k, j, i = np.meshgrid(*grids, indexing="ij", sparse=True)
    acc = np.zeros((len(grids[0]), len(grids[1]), len(grids[2])))
    for a in range(3):
        acc += (rt[a, 0] * k + rt[a, 1] * j + rt[a, 2] * i) ** 2
    out[sub] = acc <= 1.0
    return out


def render_shape(draw: ShapeDraw, spacing_kji: Sequence[float], offset_vox: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """The (elastically deformed) tumour mask in its local box; the box centre is the nominal centre."""
    rot = None if draw.rotation is None else np.asarray(draw.rotation)
    mask = ellipsoid_mask(draw.semi_axes_mm, spacing_kji, rot, offset_vox)
    if draw.sigma_mm > 0:
        # margin r_max: bbox (2 r) + r each side = the reference's 4 r box
        mask = elastic_deform_mask(
            mask, draw.sigma_mm, spacing_kji, seed=draw.elastic_seed, mode=draw.elastic_mode,
            margin_mm=max(draw.semi_axes_mm),
        )
    return mask


def centroid(mask: np.ndarray, origin: Sequence[int] | None = None) -> np.ndarray:
    """Centre of mass (k, j, i) of a boolean mask (voxel units), in the frame of an array in which
    ``mask`` starts at ``origin`` (default 0: the mask's own frame).

    From the per-axis voxel counts (integer sums, exact) instead of ``np.nonzero``: the same value as
    ``idx.mean()`` bit for bit — both are the correctly rounded quotient of an exact integer sum — and
    with ``origin`` the same as the centroid of the larger array the mask was cut from.
    """
    m = np.asarray(mask)
    m = m if m.dtype == bool else m != 0
    plane = m.any(axis=0)
    p0, p1, p2 = m.any(axis=(1, 2)), plane.any(axis=1), plane.any(axis=0)
    if not p0.any():
        raise InputError("empty tumour mask has no centre")
    org = [0, 0, 0] if origin is None else [int(x) for x in origin]
    box = tuple(slice(int(np.flatnonzero(p)[0]), int(np.flatnonzero(p)[-1]) + 1) for p in (p0, p1, p2))
    sub = m[box]
    n = int(np.count_nonzero(sub))
    out = []
    for axis, sl in enumerate(box):
        counts = np.count_nonzero(sub, axis=tuple(a for a in range(3) if a != axis)).astype(np.int64)
        total = int(np.dot(counts, np.arange(sl.start + org[axis], sl.stop + org[axis], dtype=np.int64)))
        out.append(float(total) / n)
    return np.array(out)
