"""Crops around a tumour on a fixed physical grid, and the feathered paste-back into the CT.

The synthesizer works on a cube of ``size`` voxels at ``spacing_mm`` (96³ at 1 mm by default, the
paper's crop) centred on the tumour, whatever the CT's own spacing: crops are resampled (trilinear
for the image, nearest for masks) and the synthesized crop is interpolated back onto the CT grid.

Only voxels inside the *feathered tumour region* change: with ``d`` the signed distance to the
tumour in mm (negative inside), the blend weight is ``w = S(clip(1/2 − d/f, 0, 1))`` with the
smoothstep ``S(s) = 3s² − 2s³`` and f the feather width (the statistical texture's ramp), so every
voxel farther than ``f/2`` from the tumour keeps its input value bit-for-bit — unlike the reference, which replaces the whole crop by its reconstruction.

Example:
    >>> import numpy as np
    >>> m = np.zeros((20, 20, 20), bool); m[8:12, 8:12, 8:12] = True
    >>> g = CropGrid.around(m, spacing_kji=(1.0, 1.0, 1.0), size=8, spacing_mm=2.0)
    >>> crop = g.sample(m.astype(np.float32), order=0)
    >>> crop.shape, int(crop.sum())
    ((8, 8, 8), 8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ...utils.errors import InputError


@dataclass(frozen=True)
class CropGrid:
    """A cube of ``size``³ voxels at ``spacing_mm`` centred at ``centre_kji`` (source voxel coords)."""

    centre_kji: tuple[float, float, float]
    spacing_kji: tuple[float, float, float]
    size: int
    spacing_mm: float

    @classmethod
    def around(cls, mask: np.ndarray, spacing_kji: Sequence[float], size: int, spacing_mm: float,
               offset_mm: Sequence[float] = (0.0, 0.0, 0.0)) -> CropGrid:
        """The grid centred on the bounding-box centre of ``mask`` (+ an optional offset in mm)."""
        idx = np.argwhere(mask)
        if idx.size == 0:
            raise InputError("tumour mask is empty: nothing to synthesize")
        sp = np.asarray(spacing_kji, float)
        c = (idx.min(0) + idx.max(0)) / 2.0 + np.asarray(offset_mm, float) / sp
        return cls(tuple(float(v) for v in c), tuple(float(v) for v in sp), int(size), float(spacing_mm))

    def _scale(self) -> np.ndarray:
        return self.spacing_mm / np.asarray(self.spacing_kji)  # source voxels per crop voxel

    def source_coords(self) -> np.ndarray:
        """(3, n, n, n) source voxel coordinates of every crop voxel centre."""
        r = (np.arange(self.size) - (self.size - 1) / 2.0) * self.spacing_mm
        kk, jj, ii = np.meshgrid(r, r, r, indexing="ij")
        c, sp = np.asarray(self.centre_kji), np.asarray(self.spacing_kji)
        return np.stack([c[0] + kk / sp[0], c[1] + jj / sp[1], c[2] + ii / sp[2]])

    def sample(self, array: np.ndarray, order: int = 1, mode: str = "nearest") -> np.ndarray:
        """Resample ``array`` (source grid) on the crop grid (float32)."""
        return ndimage.map_coordinates(np.asarray(array, np.float32), self.source_coords(), order=order,
                                       mode=mode, prefilter=False).astype(np.float32)

    def to_crop(self, points_kji: np.ndarray) -> np.ndarray:
        """Crop voxel coordinates of source voxel coordinates (3, N)."""
        c = np.asarray(self.centre_kji)[:, None]
        return (points_kji - c) / self._scale()[:, None] + (self.size - 1) / 2.0

    def to_dict(self) -> dict:
        return {"centre_kji": list(self.centre_kji), "spacing_kji": list(self.spacing_kji), "size": self.size,
                "spacing_mm": self.spacing_mm}


def feather_weights(mask: np.ndarray, spacing_kji: Sequence[float], feather_mm: float) -> tuple[tuple[slice, ...], np.ndarray]:
    """Blend weights on the bounding box of the feathered region (0 beyond ``feather_mm / 2`` outside).

    Returns (slices of the box in the source array, weights float32 in that box).
    """
    if feather_mm < 0:
        raise InputError(f"feather_mm must be ≥ 0, got {feather_mm}")
    mask = np.asarray(mask, bool)
    idx = np.argwhere(mask)
    if idx.size == 0:
        raise InputError("tumour mask is empty: nothing to synthesize")
    sp = np.asarray(spacing_kji, float)
    margin = np.ceil((feather_mm / 2.0) / sp).astype(int) + 2
    lo = np.maximum(idx.min(0) - margin, 0)
    hi = np.minimum(idx.max(0) + margin + 1, mask.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    m = mask[box]
    d_out = ndimage.distance_transform_edt(~m, sampling=sp)  # > 0 outside: mm to the nearest tumour voxel
    d_in = ndimage.distance_transform_edt(m, sampling=sp)  # > 0 inside: mm to the nearest background voxel
    if feather_mm == 0:
        return box, m.astype(np.float32)
    # the same ramp as the statistical texture: s = 1/2 − d/f, smoothed with 3s² − 2s³ (C¹ at both ends)
    s = np.clip(np.where(m, 0.5 + d_in / feather_mm, 0.5 - d_out / feather_mm), 0.0, 1.0)
    w = (s * s * (3.0 - 2.0 * s)).astype(np.float32)
    return box, w


def paste_back(image_hu: np.ndarray, tumour_mask: np.ndarray, crop_hu: np.ndarray, grid: CropGrid,
               feather_mm: float = 2.0) -> tuple[np.ndarray, int]:
    """Blend the synthesized crop (HU) into a float32 copy of ``image_hu`` inside the feathered tumour.

    Returns (new image float32, number of voxels changed). Voxels with weight 0 are copied unchanged.
    """
    out = np.array(image_hu, dtype=np.float32, copy=True)
    box, w = feather_weights(tumour_mask, grid.spacing_kji, feather_mm)
    sel = np.argwhere(w > 0)
    if sel.size == 0:
        return out, 0
    src = (sel + np.array([s.start for s in box])).T.astype(np.float64)
    syn = ndimage.map_coordinates(np.asarray(crop_hu, np.float32), grid.to_crop(src), order=1, mode="nearest",
                                  prefilter=False)
    ww = w[tuple(sel.T)]
    k, j, i = src.astype(int)
    out[k, j, i] = ww * syn + (1.0 - ww) * out[k, j, i]
    return out, int(sel.shape[0])
