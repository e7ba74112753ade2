"""The 1 mm RAS crop DiffTumor's models expect, resampled from any CT grid and back onto it.

DiffTumor's sampler reads a ``size``³ crop (96³ released) at 1 mm whose array axes are (R, A, S)
(MONAI ``Orientationd("RAS")`` + ``Spacingd(1, 1, 1)``; SPEC §4, R5). A CT region handed to a
texture backend is an array in (k, j, i) order with its own spacing and, for an oblique scan, its
own direction cosines. :class:`RasCrop` maps between the two through physical space:

* the region's voxel ``(k, j, i)`` lies at ``p = L·(k, j, i)`` mm (``L`` = ``kji_to_ras``, the
  3×3 linear part of the image's index→RAS matrix with its columns in k, j, i order; the region's
  own origin cancels out because only positions relative to the tumour matter);
* crop voxel ``(x, y, z)`` lies at ``c + ((x, y, z) − (n − 1)/2)·s`` mm along R, A, S, where ``c``
  is the tumour's bounding-box centre;
* :meth:`RasCrop.sample` interpolates the region at every crop voxel (trilinear, edge values
  outside), :meth:`RasCrop.sample_back` interpolates a crop at region voxels, and
  :meth:`RasCrop.inside` says which region voxels the crop cube covers.

Trilinear interpolation reproduces any linear function of position exactly, which is how the tests
prove that physical positions survive the round trip on an oblique, anisotropic grid.

Example:
    >>> import numpy as np
    >>> m = np.zeros((10, 20, 20), bool); m[4:6, 8:12, 8:12] = True
    >>> L = np.diag([2.0, 1.0, 1.0])[:, ::-1]  # k → S (2 mm), j → A, i → R
    >>> g = RasCrop.around(m, L, size=8)
    >>> g.sample(m.astype(np.float32), order=0).shape
    (8, 8, 8)
    >>> bool(np.allclose(g.to_region(g.to_crop(np.array([[4.5], [9.5], [9.5]]))), [[4.5], [9.5], [9.5]]))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ...utils.errors import InputError


def kji_to_ras_matrix(ijk_to_ras: np.ndarray) -> np.ndarray:
    """The 3×3 map from (k, j, i) index offsets to RAS mm, from a 4×4 (or 3×3) ``ijk_to_ras``."""
    m = np.asarray(ijk_to_ras, dtype=np.float64)[:3, :3]
    return m[:, ::-1].copy()


def axis_aligned(spacing_kji: Sequence[float]) -> np.ndarray:
    """``kji_to_ras`` of an unrotated grid with k → S, j → A, i → R (used when no direction is known)."""
    sk, sj, si = (float(s) for s in spacing_kji)
    return np.array([[0.0, 0.0, si], [0.0, sj, 0.0], [sk, 0.0, 0.0]])


@dataclass(frozen=True)
class RasCrop:
    """A ``size``³ cube at ``spacing_mm`` on R, A, S axes, centred at ``centre_ras`` (region-relative mm)."""

    kji_to_ras: tuple[tuple[float, ...], ...]
    centre_ras: tuple[float, float, float]
    size: int
    spacing_mm: float = 1.0

    @classmethod
    def around(cls, mask: np.ndarray, kji_to_ras: np.ndarray, size: int = 96, spacing_mm: float = 1.0) -> RasCrop:
        """The crop centred on the physical centre of ``mask``'s bounding box (in region voxels)."""
        idx = np.argwhere(np.asarray(mask, bool))
        if idx.size == 0:
            raise InputError("tumour mask is empty: nothing to synthesize")
        L = np.asarray(kji_to_ras, np.float64)
        if L.shape != (3, 3) or not np.isfinite(L).all() or abs(np.linalg.det(L)) < 1e-12:
            raise InputError(f"the grid's index→RAS matrix must be an invertible 3×3, got {L.tolist()}")
        if int(size) <= 0 or not spacing_mm > 0:
            raise InputError(f"crop size and spacing must be positive, got {size} and {spacing_mm}")
        centre = L @ ((idx.min(0) + idx.max(0)) / 2.0)
        return cls(tuple(tuple(float(v) for v in row) for row in L), tuple(float(v) for v in centre), int(size),
                   float(spacing_mm))

    @property
    def L(self) -> np.ndarray:
        return np.asarray(self.kji_to_ras, np.float64)

    @property
    def extent_mm(self) -> float:
        """Edge length of the cube (voxel centres ± half a voxel)."""
        return self.size * self.spacing_mm

    def crop_ras(self) -> np.ndarray:
        """(3, n, n, n) RAS mm of every crop voxel centre; array axes are (R, A, S)."""
        r = (np.arange(self.size) - (self.size - 1) / 2.0) * self.spacing_mm
        x, y, z = np.meshgrid(r, r, r, indexing="ij")
        c = np.asarray(self.centre_ras)
        return np.stack([c[0] + x, c[1] + y, c[2] + z])

    def to_region(self, crop_xyz: np.ndarray) -> np.ndarray:
        """Region (k, j, i) coordinates of crop voxel coordinates (3, N)."""
        ras = (np.asarray(crop_xyz, np.float64) - (self.size - 1) / 2.0) * self.spacing_mm \
            + np.asarray(self.centre_ras)[:, None]
        return np.linalg.solve(self.L, ras)

    def to_crop(self, points_kji: np.ndarray) -> np.ndarray:
        """Crop voxel coordinates (x, y, z) of region voxel coordinates (3, N)."""
        ras = self.L @ np.asarray(points_kji, np.float64)
        return (ras - np.asarray(self.centre_ras)[:, None]) / self.spacing_mm + (self.size - 1) / 2.0

    def sample(self, array: np.ndarray, order: int = 1) -> np.ndarray:
        """``array`` (region grid) resampled on the crop, float32 (R, A, S); edge values beyond the region."""
        src = np.linalg.solve(self.L, self.crop_ras().reshape(3, -1))
        vals = ndimage.map_coordinates(np.asarray(array, np.float32), src, order=order, mode="nearest",
                                       prefilter=False)
        return vals.reshape((self.size,) * 3).astype(np.float32)

    def sample_back(self, crop: np.ndarray, points_kji: np.ndarray, order: int = 1) -> np.ndarray:
        """The crop (R, A, S array) interpolated at region voxel coordinates (3, N), float32."""
        return ndimage.map_coordinates(np.asarray(crop, np.float32), self.to_crop(points_kji), order=order,
                                       mode="nearest", prefilter=False).astype(np.float32)

    def inside(self, shape: Sequence[int]) -> np.ndarray:
        """Bool mask over a region of ``shape``: voxels whose centre lies in the crop cube."""
        shape = tuple(int(s) for s in shape)
        out = np.zeros(shape, bool)
        # only the bounding box of the cube's corners can be inside: test those voxels, not the whole region
        e = np.array([-0.5, self.size - 0.5])
        corners = self.to_region(np.array(np.meshgrid(e, e, e, indexing="ij")).reshape(3, -1))
        lo = np.clip(np.floor(corners.min(1)).astype(int), 0, shape)
        hi = np.clip(np.ceil(corners.max(1)).astype(int) + 1, 0, shape)
        if np.any(hi <= lo):
            return out
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        pts = np.indices(tuple(hi - lo)).reshape(3, -1).astype(np.float64) + lo[:, None]
        c = self.to_crop(pts)
        ok = np.all((c >= -0.5) & (c <= self.size - 0.5), axis=0)
        out[box] = ok.reshape(tuple(hi - lo))
        return out

    def to_dict(self) -> dict:
        return {"kji_to_ras": [list(r) for r in self.kji_to_ras], "centre_ras": list(self.centre_ras),
                "size": self.size, "spacing_mm": self.spacing_mm}
