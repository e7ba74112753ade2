"""Where tumours go: the organ, the tissue a tumour may bulge into, candidate centres, pasting.

Everything works on **boxes** around the organ or the tumour — never on the whole CT — which is what
keeps one insertion into a 512×512×120 CT well under half a second.

* The **host region** is the organ plus the voxels within ``bulge_mm`` of it whose (lightly smoothed)
  HU lies in the tissue window (default −300…150 HU: fat and soft tissue; not gas/air below, not bone
  or contrast-filled vessels above) and that carry no other label. A real PDAC is often thicker
  than the gland around it; letting it bulge into fat instead of clipping it is what keeps the
  delivered size of a class close to its nominal size (DESIGN.md, "Delivered size").
* **Forbidden** voxels (outside the organ and outside the window, or another structure's label)
  are never part of a tumour.
* The reference rule (:func:`reference_centre`) reproduces the reference code: a random organ voxel
  on an axial slice in the middle 30–70 % of the organ's superior–inferior extent, large tumours at
  the organ's bounding-box centre.

Example:
    >>> import numpy as np
    >>> organ = np.zeros((20, 30, 30), bool); organ[5:15, 10:20, 5:25] = True
    >>> box = bounding_box(organ); box
    (slice(5, 15, None), slice(10, 20, None), slice(5, 25, None))
    >>> pad_box(box, (2, 2, 2), organ.shape)
    (slice(3, 17, None), slice(8, 22, None), slice(3, 27, None))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ..utils.errors import InputError

Box = tuple[slice, slice, slice]


def bounding_box(mask: np.ndarray) -> Box | None:
    """Tight bounding box of a boolean mask (projections, no full ``nonzero``), None when empty."""
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        if idx.size == 0:
            return None
        out.append(slice(int(idx[0]), int(idx[-1]) + 1))
    return tuple(out)  # type: ignore[return-value]


def pad_box(box: Box, pad: Sequence[int], shape: Sequence[int]) -> Box:
    return tuple(slice(max(s.start - int(p), 0), min(s.stop + int(p), int(n))) for s, p, n in zip(box, pad, shape, strict=False))  # type: ignore[return-value]


def box_starts(box: Box) -> np.ndarray:
    return np.array([s.start for s in box])


class Scene:
    """The inputs of one insertion seen through boxes: original HU, organ, other labels.

    Args:
        image: HU array (k, j, i); read only.
        label: label array of the same shape; read only.
        spacing_kji: mm per array axis.
        organ_value: the organ's label value.
        tumour_value: label value of existing tumours (kept, never overlapped), or None.
        tissue_hu: (low, high) HU window a tumour may extend into outside the organ.
    """

    def __init__(self, image, label, spacing_kji, organ_value: int, tumour_value: int | None, tissue_hu) -> None:
        self.image = image
        self.label = label
        self.spacing = np.asarray(spacing_kji, dtype=np.float64)
        self.shape = tuple(int(s) for s in image.shape)
        self.organ_value = organ_value
        self.tumour_value = tumour_value
        self.tissue_hu = tissue_hu
        self.organ = label == organ_value
        self.organ_box = bounding_box(self.organ)
        if self.organ_box is None:
            present = sorted(int(v) for v in np.unique(label) if v != 0)[:12]
            raise InputError(f"the label map has no organ voxels with value {organ_value} (values present: {present or 'none'})")
        self._host_cache: dict = {}

    def vox(self, mm: float) -> np.ndarray:
        return np.ceil(float(mm) / self.spacing).astype(int)

    def forbidden(self, box: Box) -> np.ndarray:
        """Voxels of ``box`` a tumour must not occupy: non-organ voxels outside the tissue window
        (on a 3-voxel mean, so CT noise does not punch holes) or labelled as another structure.
        Cached per box (planning and rendering ask for the same boxes); do not modify the result."""
        key = ("forbidden", tuple((s.start, s.stop) for s in box))
        if key not in self._host_cache:
            self._host_cache[key] = self._forbidden(box)
        return self._host_cache[key]

    def _forbidden(self, box: Box) -> np.ndarray:
        hu = ndimage.uniform_filter(self.image[box].astype(np.float32), size=3, mode="nearest")
        lo, hi = self.tissue_hu
        lab = self.label[box]
        other = (lab != 0) & (lab != self.organ_value)
        if self.tumour_value is not None:
            other &= lab != self.tumour_value
        return ~self.organ[box] & ((hu < lo) | (hu > hi) | other)

    def host(self, bulge_mm: float) -> tuple[Box, np.ndarray, np.ndarray]:
        """(box, host mask, flat indices of the organ voxels in the box) — host = organ ∪ allowed
        tissue within ``bulge_mm`` of it (one distance transform on the organ's box)."""
        key = round(float(bulge_mm), 6)
        if key not in self._host_cache:
            box = pad_box(self.organ_box, self.vox(bulge_mm) + 1, self.shape)
            organ = self.organ[box]
            if bulge_mm > 0:
                dist = ndimage.distance_transform_edt(~organ, sampling=self.spacing)
                host = organ | ((dist <= bulge_mm) & ~self.forbidden(box))
            else:
                host = organ.copy()
            self._host_cache[key] = (box, host, np.flatnonzero(organ.ravel()))
        return self._host_cache[key]

    def max_depth_mm(self, bulge_mm: float) -> float:
        """Radius of the largest ball inside the host region (computed on demand: one more EDT)."""
        key = ("depth", round(float(bulge_mm), 6))
        if key not in self._host_cache:
            _, host, _ = self.host(bulge_mm)
            # zero border: the image edge is an edge of the host too (matters for thin volumes)
            padded = np.pad(host, 1)
            self._host_cache[key] = float(ndimage.distance_transform_edt(padded, sampling=self.spacing).max())  # type: ignore[assignment]
        return self._host_cache[key]  # type: ignore[return-value]

    def superior_axis(self, direction_ras: np.ndarray) -> int:
        """Array axis (0=k, 1=j, 2=i) that runs closest to the S direction."""
        ijk = int(np.argmax(np.abs(np.asarray(direction_ras)[2, :])))
        return 2 - ijk


def paste_slices(start: Sequence[int], box_shape: Sequence[int], shape: Sequence[int]) -> tuple[Box, Box]:
    """(slices in the full array, slices in the local box) for a box whose first voxel lands at
    ``start``; both clipped to the array."""
    full, local = [], []
    for s, n, N in zip(start, box_shape, shape, strict=False):
        a, b = max(int(s), 0), min(int(s) + int(n), int(N))
        if b <= a:
            return None, None  # type: ignore[return-value]
        full.append(slice(a, b))
        local.append(slice(a - int(s), b - int(s)))
    return tuple(full), tuple(local)  # type: ignore[return-value]


def sample_candidate(rng: np.random.Generator, host_box: Box, organ_flat: np.ndarray) -> np.ndarray:
    """A uniformly random organ voxel (full-array k, j, i); ``organ_flat`` from :meth:`Scene.host`."""
    flat = int(organ_flat[int(rng.integers(organ_flat.size))])
    shape = tuple(s.stop - s.start for s in host_box)
    return np.array(np.unravel_index(flat, shape)) + box_starts(host_box)


_UNIT_BALL = None


def ellipsoid_offsets(semi_axes_mm, rotation, spacing_kji, n: int = 9) -> np.ndarray:
    """Voxel offsets (k, j, i) of evenly spread points filling an ellipsoid — the cell centres of an
    ``n``³ grid that lie in the unit ball (≈ 380 points for n = 9; symmetric, so unbiased), scaled,
    rotated and converted to voxels. A cheap probe of where a shape would land, used before
    rendering it."""
    global _UNIT_BALL
    if _UNIT_BALL is None or _UNIT_BALL[0] != n:
        g = (np.arange(n) + 0.5) / n * 2.0 - 1.0
        pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
        _UNIT_BALL = (n, pts[np.linalg.norm(pts, axis=1) <= 1.0])
    rx, ry, rz = semi_axes_mm
    p = _UNIT_BALL[1] * np.array([rz, ry, rx])
    if rotation is not None:
        p = p @ np.asarray(rotation).T
    return p / np.asarray(spacing_kji)


def probe_fraction(host_box: Box, host: np.ndarray, centre, offsets: np.ndarray) -> float:
    """Fraction of the probe points (``centre`` + ``offsets``) that fall in the host region."""
    idx = np.rint(np.asarray(centre, dtype=np.float64) + offsets).astype(int) - box_starts(host_box)
    ok = np.all((idx >= 0) & (idx < np.array(host.shape)), axis=1)
    hits = host[tuple(idx[ok].T)]
    return float(hits.sum()) / len(offsets)


def reference_centre(rng: np.random.Generator, organ: np.ndarray, organ_box: Box, axis: int, large: bool) -> np.ndarray:
    """The reference code's centre: bounding-box centre for large tumours; otherwise a random organ
    voxel on the slice ``round(U(0.3, 0.7)·(end − start)) + start`` along the superior axis, widening
    to the neighbouring slices when that slice holds no organ voxel."""
    z0, z1 = organ_box[axis].start, organ_box[axis].stop - 1
    if large:
        return np.array([(s.start + s.stop - 1) // 2 for s in organ_box])
    z = int(round(float(rng.uniform(0.3, 0.7)) * (z1 - z0))) + z0
    for widen in range(0, z1 - z0 + 1):
        lo, hi = max(z - widen, z0), min(z + widen, z1)
        sl = [slice(None)] * 3
        sl[axis] = slice(lo, hi + 1)
        coords = np.argwhere(organ[tuple(sl)])
        if len(coords):
            c = coords[int(rng.integers(len(coords)))]
            c[axis] += lo
            return c
    raise InputError("organ mask is empty along its own extent")  # unreachable for a non-empty organ
