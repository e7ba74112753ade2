"""A training-free statistical model of pancreatic-tumour texture in CT (the default backend).

Model, for each tumour (ranges are sampled per tumour and recorded):

* **Mean**: ``tumour HU = local pancreas HU − contrast``. Pancreatic ductal adenocarcinoma is
  hypoattenuating to the enhancing parenchyma on contrast CT; reported tumour–parenchyma differences
  are a few tens of HU, largest in the pancreatic phase and smaller in the portal-venous phase
  (Lu et al., AJR 1996, two-phase helical CT of pancreatic tumours; Prokesch et al., Radiology 2002,
  on the ~10 % of tumours that are isoattenuating). Default contrast U(30, 60) HU. The local
  reference is the median of the organ voxels around the tumour, so the model adapts to the phase
  and the scanner; a floor (``floor_hu``) keeps the tumour soft tissue on unenhanced CTs.
* **Texture**: Gaussian-correlated noise (std ``texture_std_hu``, correlation scale
  ``texture_scale_mm``) for intratumoural heterogeneity, **plus the CT's own noise grain**, kept by
  re-adding the high-pass residual of the original (clipped to ±2.5 noise σ) — so the tumour has the
  scanner's noise texture rather than synthetic white noise.
* **Rim** (optional, off by default): ``rim_hu`` added in a shell ``rim_width_mm`` thick.
* **Boundary**: a feathered blend of width ``feather_mm`` centred on the label boundary; voxels
  farther than ``feather_mm / 2`` from the tumour are returned bit-identical (``margin_mm``).

Example:
    >>> import numpy as np
    >>> t = StatisticalTexture(contrast_hu=(40, 40), texture_std_hu=0)
    >>> img = np.full((24, 24, 24), 120.0, np.float32)
    >>> m = np.zeros(img.shape, bool); m[8:16, 8:16, 8:16] = True
    >>> out, p = t.synthesize(img, m, ~m, (1, 1, 1), seed=1)
    >>> round(float(np.median(out[10:14, 10:14, 10:14])) / 10) * 10, p["contrast_hu"]
    (80, 40.0)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from ..utils.errors import InputError
from ..utils.jsonio import read_json
from .base import TextureModel

RANGE_KEYS = ("contrast_hu", "texture_std_hu", "texture_scale_mm", "rim_hu")
FIXED_KEYS = ("rim_width_mm", "feather_mm", "smooth_mm", "floor_hu")


def _as_range(name: str, v) -> tuple[float, float]:
    if isinstance(v, (int, float)):
        v = (v, v)
    try:
        lo, hi = (float(x) for x in v)
    except (TypeError, ValueError):
        raise InputError(f"texture parameter {name}: expected a number or [low, high], got {v!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
        raise InputError(f"texture parameter {name}: need finite low ≤ high, got {[lo, hi]}")
    return lo, hi


def _extent(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last + 1) of the True voxels along each axis of a non-empty mask (projections)."""
    out = []
    for axis in range(mask.ndim):
        idx = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        out.append((int(idx[0]), int(idx[-1]) + 1))
    return out


@lru_cache(maxsize=64)
def _offsets_by_distance(spacing: tuple[float, ...], limit_mm: float) -> list[tuple[tuple[int, ...], float]]:
    """Voxel offsets d ≠ 0 with |d|_mm ≤ ``limit_mm``, nearest first, with their distance computed
    exactly as ``scipy.ndimage.distance_transform_edt`` computes it: sqrt(Σ_a (d_a·s_a)²), summed
    over the axes in order, in float64."""
    sp = np.asarray(spacing, dtype=np.float64)
    reach = np.floor(limit_mm / sp).astype(int)
    grids = np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij")
    d = np.stack([g.ravel() for g in grids])
    sq = (d.astype(np.float64) * sp[:, None]) ** 2
    acc = sq[0].copy()
    for a in range(1, len(sp)):
        acc += sq[a]
    dist = np.sqrt(acc)
    keep = (dist <= limit_mm) & np.any(d != 0, axis=0)
    order = np.argsort(dist[keep], kind="stable")
    offs = d[:, keep][:, order].T
    return [(tuple(int(x) for x in o), float(v)) for o, v in zip(offs, dist[keep][order], strict=True)]


def near_distances(mask: np.ndarray, spacing, limit_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(distance inside to the background, distance outside to the mask), in mm, for distances up to
    ``limit_mm``; farther voxels get inf (and voxels of the other side 0).

    Equal to ``distance_transform_edt(mask)`` / ``distance_transform_edt(~mask)`` wherever those are
    ≤ ``limit_mm`` (same nearest voxel, same float arithmetic), at the cost of a few array shifts
    instead of two full Euclidean transforms — the blend needs only a voxel or two of distances.
    """
    mask = np.asarray(mask, dtype=bool)
    offsets = _offsets_by_distance(tuple(float(x) for x in spacing), float(limit_mm))
    reach = np.max(np.abs([d for d, _ in offsets]), axis=0) if offsets else np.zeros(mask.ndim, int)
    # flat, contiguous shifts on a copy padded by the reach: a shift never wraps from one row into
    # another real voxel, and padding voxels are neither inside nor outside
    pads = [(int(r), int(r)) for r in reach]
    inside = np.pad(mask, pads)
    outside = np.pad(~mask, pads)
    shape = inside.shape
    din = np.where(inside, np.inf, 0.0).ravel()
    dout = np.where(outside, np.inf, 0.0).ravel()
    fin, fout = inside.ravel(), outside.ravel()
    strides = np.cumprod((1,) + shape[:0:-1])[::-1]
    n = fin.size
    # farthest first, each write overwriting: the last write at a voxel is its nearest hit; d and −d
    # (same distance) are handled together, from both ends of each pair of voxels
    for d, dist in reversed(offsets):
        k = int(np.dot(d, strides))
        if k <= 0:
            continue
        x, y = slice(0, n - k), slice(k, n)  # a voxel and its neighbour at offset d
        e = fin[x] & fout[y]
        np.copyto(din[x], dist, where=e)
        np.copyto(dout[y], dist, where=e)
        e = fout[x] & fin[y]
        np.copyto(dout[x], dist, where=e)
        np.copyto(din[y], dist, where=e)
    core = tuple(slice(r, r + s) for r, s in zip(reach, mask.shape, strict=True))
    din = din.reshape(shape)[core]
    dout = dout.reshape(shape)[core]
    return din, dout


class StatisticalTexture(TextureModel):
    """Hypoattenuating tumour with correlated texture, the CT's grain, optional rim and a feathered edge.

    Args:
        contrast_hu: (low, high) drawn per tumour: pancreas HU minus tumour HU.
        texture_std_hu: (low, high) std of the correlated heterogeneity.
        texture_scale_mm: (low, high) correlation scale (Gaussian σ) of the heterogeneity.
        rim_hu: (low, high) HU added in the rim shell (0 = no rim).
        rim_width_mm: rim thickness.
        feather_mm: width of the boundary blend (half of it lies outside the label).
        smooth_mm: σ of the low-pass used to separate the CT's noise grain from its structure.
        floor_hu: lowest tumour mean (keeps it soft tissue on unenhanced CT).
    """

    name = "statistical"

    def __init__(
        self,
        contrast_hu=(30.0, 60.0),
        texture_std_hu=(4.0, 10.0),
        texture_scale_mm=(1.5, 3.0),
        rim_hu=(0.0, 0.0),
        rim_width_mm: float = 2.0,
        feather_mm: float = 3.0,
        smooth_mm: float = 2.0,
        floor_hu: float = 10.0,
    ) -> None:
        self.ranges = {k: _as_range(k, v) for k, v in zip(RANGE_KEYS, (contrast_hu, texture_std_hu, texture_scale_mm, rim_hu), strict=True)}
        if self.ranges["texture_std_hu"][0] < 0 or self.ranges["texture_scale_mm"][0] <= 0:
            raise InputError("texture_std_hu must be ≥ 0 and texture_scale_mm > 0")
        self.fixed = {"rim_width_mm": float(rim_width_mm), "feather_mm": float(feather_mm),
                      "smooth_mm": float(smooth_mm), "floor_hu": float(floor_hu)}
        if min(self.fixed["rim_width_mm"], self.fixed["smooth_mm"]) <= 0 or self.fixed["feather_mm"] < 0:
            raise InputError("rim_width_mm and smooth_mm must be > 0, feather_mm ≥ 0")

    # ------------------------------------------------------------------ interface
    def config(self) -> dict[str, Any]:
        return {**{k: list(v) for k, v in self.ranges.items()}, **self.fixed}

    def margin_mm(self) -> float:
        return self.fixed["feather_mm"] / 2.0

    def sample(self, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(seed)
        p: dict[str, Any] = {k: float(rng.uniform(*self.ranges[k])) for k in RANGE_KEYS}
        p.update(self.fixed)
        p["noise_seed"] = int(rng.integers(0, 2**31 - 1))
        p["margin_mm"] = self.margin_mm()
        return p

    def apply(self, image_hu, tumour_mask, organ_mask, spacing_kji: Sequence[float], params: dict[str, Any]) -> np.ndarray:
        img = np.asarray(image_hu, dtype=np.float32)
        mask = np.asarray(tumour_mask, dtype=bool)
        organ = np.asarray(organ_mask, dtype=bool)
        if img.shape != mask.shape or organ.shape != mask.shape:
            raise InputError(f"texture: image {img.shape}, tumour {mask.shape} and organ {organ.shape} shapes differ")
        out = img.copy()
        if not mask.any():
            return out
        sp = np.asarray(spacing_kji, dtype=np.float64)
        p = params

        # local pancreas reference: organ voxels around this tumour (robust median)
        ref_vox = img[organ]
        if ref_vox.size >= 20:
            ref = float(np.median(ref_vox))
        else:  # organ replaced or absent in the region: what soft tissue the tumour covers
            inside = img[mask]
            soft = inside[(inside > -50) & (inside < 200)]
            ref = float(np.median(soft)) if soft.size else 40.0
        mean = max(ref - float(p["contrast_hu"]), float(p["floor_hu"]))

        # the CT's own grain: high-pass residual, clipped so anatomy edges do not leak in
        low = ndimage.gaussian_filter(img, float(p["smooth_mm"]) / sp, mode="nearest")
        resid = img - low
        ref_set = resid[organ | mask]
        mad = float(np.median(np.abs(ref_set - np.median(ref_set)))) if ref_set.size else 0.0
        noise_sd = max(1.4826 * mad, 1.0)
        resid = np.clip(resid, -2.5 * noise_sd, 2.5 * noise_sd)

        # correlated heterogeneity, normalised to the drawn std
        rng = np.random.default_rng(int(p["noise_seed"]))
        g = ndimage.gaussian_filter(rng.standard_normal(img.shape).astype(np.float32),
                                    float(p["texture_scale_mm"]) / sp, mode="wrap")
        g *= float(p["texture_std_hu"]) / max(float(g.std()), 1e-6)

        # distances are needed only near the boundary: compute them on the tumour's box + feather
        f = float(p["feather_mm"])
        pad = np.ceil(f / 2.0 / sp).astype(int) + 1
        box = tuple(slice(max(a - q, 0), min(b + q, n)) for (a, b), q, n in zip(_extent(mask), pad, mask.shape, strict=True))
        mb = mask[box]
        rim = p["rim_hu"] != 0
        # only distances below f/2 (the blend) and up to the rim width matter; farther ones are inf
        din, dout = near_distances(mb, sp, max(f / 2.0, float(p["rim_width_mm"]) if rim else 0.0))
        target = (mean + g[box] + resid[box]).astype(np.float32)
        if rim:
            target += np.float32(p["rim_hu"]) * (mb & (din <= float(p["rim_width_mm"])))

        # feathered blend: w = 1 deep inside, ½ on the boundary, 0 beyond feather/2 outside
        if f > 0:
            s = np.clip(np.where(mb, 0.5 + din / f, 0.5 - dout / f), 0.0, 1.0)
            w = (s * s * (3.0 - 2.0 * s)).astype(np.float32)
        else:
            w = mb.astype(np.float32)
        sel = w > 0
        ib, ob = img[box], out[box]
        ob[sel] = ib[sel] + w[sel] * (target[sel] - ib[sel])
        return out

    # ------------------------------------------------------------------ fitted parameters
    @classmethod
    def from_json(cls, path: str | os.PathLike, **overrides) -> StatisticalTexture:
        """Build from a ``syntumor texture fit`` JSON (its ``"params"`` block), with overrides."""
        d = read_json(path)
        if not isinstance(d, dict) or d.get("texture") != "statistical" or not isinstance(d.get("params"), dict):
            raise InputError(f"{path}: not a statistical texture JSON (needs texture='statistical' and params)")
        known = set(RANGE_KEYS) | set(FIXED_KEYS)
        unknown = set(d["params"]) - known
        if unknown:
            raise InputError(f"{path}: unknown texture parameters {sorted(unknown)}")
        kw = {**d["params"], **overrides}
        model = cls(**kw)
        model.source = str(Path(path))
        return model
