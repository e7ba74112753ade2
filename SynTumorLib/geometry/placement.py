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
FORBIDDEN_GROW = 8  # voxels added around the forbidden mask's box when a request falls outside it


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
    return tuple(slice(max(s.start - int(p), 0), min(s.stop + int(p), int(n))) for s, p, n in zip(box, pad, shape, strict=True))  # type: ignore[return-value]


def box_starts(box: Box) -> np.ndarray:
    return np.array([s.start for s in box])


def within_mm(mask: np.ndarray, spacing: Sequence[float], radius_mm: float) -> np.ndarray:
    """Voxels within ``radius_mm`` of a True voxel of ``mask`` (a dilation by a ball in mm).

    Equal to ``distance_transform_edt(~mask, sampling=spacing) <= radius_mm`` — the same distance
    expression sqrt(((d₀s₀)² + (d₁s₁)²) + (d₂s₂)²), so the same voxels at the threshold — but built
    from shifted copies instead of a full Euclidean transform (~10× cheaper on an organ's box): the
    ball is a stack of rows along the last axis, one row half-width w per (d₀, d₁); the mask is
    dilated along the last axis once per width, bit-packed, and OR-ed in at each (d₀, d₁) shift.
    """
    mask = np.asarray(mask, dtype=bool)
    sp = np.asarray(spacing, dtype=np.float64)
    n0, n1, n2 = mask.shape
    # shifts of a whole axis length or more reach nothing: the loops stay bounded by the array, however
    # large the radius (a 1e9 mm bulge once looped for minutes)
    reach = np.minimum(np.floor(min(float(radius_mm), 1e12) / sp), np.array(mask.shape) - 1).astype(int)
    rows = []  # (d0, d1, half-width along axis 2)
    for d0 in range(-reach[0], reach[0] + 1):
        for d1 in range(-reach[1], reach[1] + 1):
            base = (d0 * sp[0]) ** 2 + (d1 * sp[1]) ** 2
            if np.sqrt(base) > radius_mm:
                continue
            d2 = np.arange(reach[2] + 1, dtype=np.float64)
            ok = np.sqrt(base + (d2 * sp[2]) ** 2) <= radius_mm  # monotone in |d2|
            rows.append((d0, d1, int(np.count_nonzero(ok)) - 1))
    widths = sorted({w for _, _, w in rows})
    packed, line, w_done = {}, mask.copy(), 0
    for w in widths:
        for k in range(w_done + 1, w + 1):
            if k < n2:
                line[:, :, k:] |= mask[:, :, :-k]
                line[:, :, :-k] |= mask[:, :, k:]
        w_done = max(w_done, w)
        packed[w] = np.packbits(line, axis=2)
    out = np.zeros_like(packed[widths[0]])
    for d0, d1, w in rows:
        if abs(d0) >= n0 or abs(d1) >= n1:
            continue
        src = packed[w][max(0, -d0):n0 - max(0, d0), max(0, -d1):n1 - max(0, d1)]
        out[max(0, d0):n0 - max(0, -d0), max(0, d1):n1 - max(0, -d1)] |= src
    return np.unpackbits(out, axis=2, count=n2).view(bool)


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
            values = np.unique(label)
            # exact values: a float 7.2 (or 7.0000001) must not print as the 7 that is missing
            present = ", ".join(str(int(v)) if float(v).is_integer() else repr(float(v)) for v in values[values != 0][:12])
            frac = values[np.mod(values, 1) != 0] if np.issubdtype(values.dtype, np.floating) else values[:0]
            hint = f"; it holds non-integer values (e.g. {float(frac[0])!r}): is it an image, not a label map?" \
                if frac.size else ""
            raise InputError(f"the label map has no organ voxels with value {organ_value} "
                             f"(values present: {present or 'none'}){hint}")
        self._host_cache: dict = {}
        self._forb_box: Box | None = None
        self._forb = np.zeros((0, 0, 0), bool)
        # rendered shape masks and their bounding boxes, by shape key: planning and rendering use the same mask
        self.renders: dict[str, np.ndarray] = {}
        self.tight_boxes: dict[str, Box | None] = {}

    @staticmethod
    def shape_key(shape: dict) -> str:
        return repr(sorted(shape.items()))

    def render(self, shape: dict) -> np.ndarray:
        """The mask of a drawn shape (a ``ShapeDraw`` dict) on this grid, rendered once per insertion."""
        from .shapes import ShapeDraw, render_shape

        key = self.shape_key(shape)
        if key not in self.renders:
            self.renders[key] = render_shape(ShapeDraw.from_dict(shape), self.spacing)
        return self.renders[key]

    def tight_box(self, shape: dict) -> Box | None:
        """Bounding box of a rendered shape inside its 4 r box (None: empty), cached with the render."""
        key = self.shape_key(shape)
        if key not in self.tight_boxes:
            self.tight_boxes[key] = bounding_box(self.render(shape))
        return self.tight_boxes[key]

    def keep_renders(self, shapes) -> None:
        """Forget every cached render but those of ``shapes`` (the rejected draws of a planner)."""
        keep = {self.shape_key(s) for s in shapes}
        self.renders = {k: v for k, v in self.renders.items() if k in keep}
        self.tight_boxes = {k: v for k, v in self.tight_boxes.items() if k in keep}

    def vox(self, mm: float) -> np.ndarray:
        return np.ceil(float(mm) / self.spacing).astype(int)

    def forbidden(self, box: Box) -> np.ndarray:
        """Voxels of ``box`` a tumour must not occupy: non-organ voxels outside the tissue window
        (on a 3-voxel mean, so CT noise does not punch holes) or labelled as another structure.

        A voxel's answer does not depend on the box asked for: the mean uses its real neighbours
        (replicated only at the array's faces) with a fixed order of additions. So one mask is kept
        for a box that grows to cover every request (host box, candidate boxes, rendering) and each
        request is a view of it. Do not modify the result."""
        fb = self._forb_box
        if fb is None or any(s.start < f.start or s.stop > f.stop for s, f in zip(box, fb, strict=True)):
            want = box if fb is None else tuple(slice(min(s.start, f.start), max(s.stop, f.stop)) for s, f in zip(box, fb, strict=True))
            self._forb_box = pad_box(want, (FORBIDDEN_GROW,) * 3, self.shape)  # type: ignore[arg-type]
            self._forb = self._forbidden(self._forb_box)
            fb = self._forb_box
        return self._forb[tuple(slice(s.start - f.start, s.stop - f.start) for s, f in zip(box, fb, strict=True))]

    def _forbidden(self, box: Box) -> np.ndarray:
        hu = self.image[pad_box(box, (1, 1, 1), self.shape)].astype(np.float32)
        edge = [(1 - (s.start - max(s.start - 1, 0)), 1 - (min(s.stop + 1, n) - s.stop)) for s, n in zip(box, self.shape, strict=True)]
        if any(a or b for a, b in edge):
            hu = np.pad(hu, edge, mode="edge")  # the array's faces: nearest neighbour, as before
        for axis in range(3):  # separable 3-sum, same additions for a voxel whatever the box
            n = hu.shape[axis]
            lo, mid, hi = (tuple(slice(a, n - 2 + a) if d == axis else slice(None) for d in range(3)) for a in range(3))
            hu = hu[lo] + hu[mid] + hu[hi]
        hu *= np.float32(1.0 / 27.0)
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
                host = organ | (within_mm(organ, self.spacing, bulge_mm) & ~self.forbidden(box))
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
    for s, n, N in zip(start, box_shape, shape, strict=True):
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
    return float(probe_fractions(host_box, host, [centre], offsets)[0])


def probe_fractions(host_box: Box, host: np.ndarray, centres, offsets: np.ndarray) -> np.ndarray:
    """:func:`probe_fraction` for several centres at once (one vectorised lookup)."""
    c = np.asarray(centres, dtype=np.float64).reshape(-1, 1, 3)
    idx = np.rint(c + offsets[None]).astype(int) - box_starts(host_box)
    ok = np.all((idx >= 0) & (idx < np.array(host.shape)), axis=2)
    hits = np.zeros(ok.shape, bool)
    hits[ok] = host[tuple(idx[ok].T)]
    return hits.sum(axis=1) / len(offsets)


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
