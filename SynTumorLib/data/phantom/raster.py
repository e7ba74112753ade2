"""Rasterising implicit shapes onto an axis-aligned grid, one bounding box at a time.

Every shape is an implicit function ``f`` (``f < 1`` inside) evaluated only inside the shape's own
bounding box, so the cost of a shape is proportional to its size, not to the grid's — the reason a
clinical-size phantom is cheap (``benchmarks/bench_phantom.py`` compares with full-grid painting and
writes docs/results/phantom.md).

Coordinates are RAS millimetres (x = right, y = anterior, z = superior); arrays are indexed
[k, j, i] = (z, y, x) as everywhere in SynTumorLib.

Example:
    >>> import numpy as np
    >>> g = Grid.from_centre((0, 0, 0), shape_kji=(10, 20, 20), spacing=(2, 2, 2))
    >>> box = g.box((-5, -5, -5), (5, 5, 5))
    >>> f = ellipsoid_f(g, box, centre=(0, 0, 0), radii=(4, 4, 4))
    >>> int((f < 1).sum()) > 0
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Box = tuple[slice, slice, slice]  # array slices (k, j, i)

# The phantom is written in the orientation DICOM scanners use (LPS-style: i → patient's left,
# j → posterior, k → superior); Slicer and the RAS matrix place it correctly whatever it is.
DIRECTION_RAS = np.diag([-1.0, -1.0, 1.0])


@dataclass
class Grid:
    """An axis-aligned voxel grid: 1-D RAS coordinates of the i, j and k voxel centres."""

    xs: np.ndarray  # R coordinate of each i
    ys: np.ndarray  # A coordinate of each j
    zs: np.ndarray  # S coordinate of each k
    spacing: tuple[float, float, float]  # i, j, k

    @classmethod
    def from_centre(cls, centre_ras: Sequence[float], shape_kji: Sequence[int], spacing: Sequence[float]) -> Grid:
        nk, nj, ni = (int(s) for s in shape_kji)
        sx, sy, sz = (float(s) for s in spacing)
        d = np.diag(DIRECTION_RAS)
        axes = []
        for c, n, s, sign in zip(centre_ras, (ni, nj, nk), (sx, sy, sz), d, strict=True):
            axes.append(c + sign * (np.arange(n) - (n - 1) / 2.0) * s)
        return cls(axes[0], axes[1], axes[2], (sx, sy, sz))

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.zs), len(self.ys), len(self.xs)

    @property
    def ijk_to_ras(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = DIRECTION_RAS @ np.diag(self.spacing)
        m[:3, 3] = (self.xs[0], self.ys[0], self.zs[0])
        return m

    @staticmethod
    def _axis_slice(coords: np.ndarray, lo: float, hi: float) -> slice:
        """Indices whose coordinate lies in [lo, hi] (coordinates are evenly spaced, either sign)."""
        n = len(coords)
        o = float(coords[0])
        s = float(coords[1] - coords[0]) if n > 1 else 1.0
        a, b = (lo - o) / s, (hi - o) / s
        if a > b:
            a, b = b, a
        i0, i1 = max(int(np.ceil(a - 1e-9)), 0), min(int(np.floor(b + 1e-9)), n - 1)
        return slice(i0, i1 + 1) if i1 >= i0 else slice(0, 0)

    def box(self, lo_mm: Sequence[float], hi_mm: Sequence[float]) -> Box | None:
        """Array slices covering the RAS box [lo, hi] (x, y, z), or None when it misses the grid."""
        sx = self._axis_slice(self.xs, lo_mm[0], hi_mm[0])
        sy = self._axis_slice(self.ys, lo_mm[1], hi_mm[1])
        sz = self._axis_slice(self.zs, lo_mm[2], hi_mm[2])
        if any(s.stop <= s.start for s in (sx, sy, sz)):
            return None
        return sz, sy, sx

    def coords(self, box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable float32 (z, y, x) coordinate arrays of a box: shapes (n,1,1), (1,n,1), (1,1,n)."""
        sz, sy, sx = box
        return (self.zs[sz].astype(np.float32)[:, None, None], self.ys[sy].astype(np.float32)[None, :, None],
                self.xs[sx].astype(np.float32)[None, None, :])

    def box_axes(self, box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """1-D x, y, z coordinates of a box (for SmoothField.sample)."""
        sz, sy, sx = box
        return self.xs[sx], self.ys[sy], self.zs[sz]


def ellipsoid_f(grid: Grid, box: Box, centre: Sequence[float], radii: Sequence[float],
                rotation: np.ndarray | None = None) -> np.ndarray:
    """Normalised radius of a (rotated) ellipsoid, ``sqrt(sum((R^T (p - c) / r)^2))``, on ``box``."""
    z, y, x = grid.coords(box)
    dx, dy, dz = x - np.float32(centre[0]), y - np.float32(centre[1]), z - np.float32(centre[2])
    r = np.asarray(radii, np.float32)
    if rotation is None:
        return np.sqrt((dx / r[0]) ** 2 + (dy / r[1]) ** 2 + (dz / r[2]) ** 2)
    rt = np.asarray(rotation, np.float32).T  # world → local
    acc = None
    for a in range(3):
        u = (rt[a, 0] * dx + rt[a, 1] * dy + rt[a, 2] * dz) / r[a]
        acc = u * u if acc is None else acc + u * u
    return np.sqrt(acc)


def ellipsoid_box(centre: Sequence[float], radii: Sequence[float], margin: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A RAS bounding box (lo, hi) of an ellipsoid in any rotation, enlarged by ``margin``."""
    r = float(max(radii)) * margin
    c = np.asarray(centre, float)
    return c - r, c + r


def rotation_zyx(yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """Rotation matrix: about S (yaw), then A (pitch), then R (roll); columns are the local axes."""
    a, b, c = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rz @ ry @ rx


def resample_polyline(points: np.ndarray, radii: np.ndarray, step_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step_mm`` along a Catmull-Rom spline through ``points`` (radii linearly)."""
    p = np.asarray(points, float)
    r = np.asarray(radii, float)
    if len(p) < 2:
        return p, r
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    dense, dense_r = [], []
    for s in range(len(p) - 1):
        p0, p1, p2, p3 = ext[s], ext[s + 1], ext[s + 2], ext[s + 3]
        n = max(2, int(np.ceil(np.linalg.norm(p2 - p1) / (step_mm / 4))))
        t = np.linspace(0, 1, n, endpoint=False)[:, None]
        seg = 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                     + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        dense.append(seg)
        dense_r.append(r[s] + (r[s + 1] - r[s]) * t[:, 0])
    dense.append(p[-1:])
    dense_r.append(r[-1:])
    q, qr = np.vstack(dense), np.concatenate(dense_r)
    arc = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(q, axis=0), axis=1))])
    targets = np.linspace(0, arc[-1], max(2, int(np.ceil(arc[-1] / step_mm)) + 1))
    out = np.stack([np.interp(targets, arc, q[:, a]) for a in range(3)], axis=1)
    return out, np.interp(targets, arc, qr)


def sweep_f(grid: Grid, box: Box, points: np.ndarray, radii: np.ndarray,
            want_offset: bool = False, reach: float = 1.1) -> tuple[np.ndarray, np.ndarray | None]:
    """Tube of varying radius along a polyline: ``min over segments |p - c(t)| / r(t)`` on ``box``.

    Each segment (a capsule) is evaluated only inside its own small bounding box, which covers
    ``f < reach`` (outside it ``f`` is left at infinity). With
    ``want_offset`` it also returns ``(p_y - c_y) / r`` of the nearest segment — the height above the
    tube axis towards anterior, which is "up" for a supine patient (gas–fluid levels).
    """
    sz, sy, sx = box
    shape = (sz.stop - sz.start, sy.stop - sy.start, sx.stop - sx.start)
    f = np.full(shape, np.inf, np.float32)
    off = np.zeros(shape, np.float32) if want_offset else None
    p = np.asarray(points, np.float32)
    r = np.asarray(radii, np.float32)
    for s in range(len(p) - 1):
        a, b = p[s], p[s + 1]
        rmax = float(max(r[s], r[s + 1])) * reach + 1.0
        sub = grid.box(np.minimum(a, b) - rmax, np.maximum(a, b) + rmax)
        if sub is None:
            continue
        # intersect the capsule box with the tube box and make it relative to the tube box
        rel = []
        for ss, bb in zip(sub, box, strict=True):
            lo, hi = max(ss.start, bb.start), min(ss.stop, bb.stop)
            rel.append(slice(lo, hi))
        if any(s_.stop <= s_.start for s_ in rel):
            continue
        z, y, x = grid.coords(tuple(rel))
        ab = b - a
        L2 = float(np.dot(ab, ab)) or 1e-6
        t = ((x - a[0]) * ab[0] + (y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / L2
        np.clip(t, 0.0, 1.0, out=t)
        cx, cy, cz = a[0] + t * ab[0], a[1] + t * ab[1], a[2] + t * ab[2]
        rt = r[s] + t * (r[s + 1] - r[s])
        fs = np.sqrt((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) / rt
        local = tuple(slice(q.start - bb.start, q.stop - bb.start) for q, bb in zip(rel, box, strict=True))
        view = f[local]
        better = fs < view
        view[better] = fs[better]
        if off is not None:
            offs = np.broadcast_to((y - cy) / rt, fs.shape)
            off[local][better] = offs[better]
    return f, off


def tube_box(points: np.ndarray, radii: np.ndarray, margin: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    r = float(np.max(radii)) * margin
    p = np.asarray(points, float)
    return p.min(axis=0) - r, p.max(axis=0) + r
