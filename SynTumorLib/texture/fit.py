"""Fit the statistical texture model to labelled data (``syntumor texture fit``).

Per case with a tumour (label 2) and pancreas (label 1):

* **contrast** = median HU of the pancreas within 10 mm of the tumour − median HU of the tumour
  (the same local reference the model uses when it renders);
* **texture std** = the tumour's robust HU spread (1.4826·MAD) with the scanner noise removed in
  quadrature; the noise is the robust spread of the pancreas' high-pass residual (HU minus a 2 mm
  Gaussian low-pass) — the part the model keeps from the CT itself;
* **texture scale** = correlation scale of the tumour's HU: from the lag-one autocorrelation ρ along
  the in-plane axes, for Gaussian-filtered noise of scale s, ρ(h) = exp(−h² / 4s²) →
  s = h / √(−4 ln ρ).

The JSON keeps the per-case values and, as the model's ranges, their inter-quartile ranges:
``{"texture": "statistical", "params": {"contrast_hu": [q25, q75], ...}, "cases": [...]}``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> lab = np.zeros((20, 40, 40), np.uint8); lab[4:16, 5:35, 5:35] = 1; lab[7:13, 14:26, 14:26] = 2
    >>> img = np.where(lab == 2, 60.0, 100.0) + rng.normal(0, 5, lab.shape)
    >>> s = case_statistics(img, lab, (1.0, 1.0, 1.0))
    >>> round(s["contrast_hu"] / 10) * 10
    40
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from ..utils.errors import InputError
from ..utils.progress import ProgressCallback

RING_MM = 10.0


def _robust_sd(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else 0.0


def _lag1_scale(img: np.ndarray, mask: np.ndarray, spacing_kji: Sequence[float]) -> float | None:
    """Correlation scale (mm) from the lag-one autocorrelation of ``img`` inside ``mask``, in-plane."""
    scales = []
    for axis in (1, 2):
        a = np.moveaxis(img, axis, 0)
        m = np.moveaxis(mask, axis, 0)
        both = m[1:] & m[:-1]
        if both.sum() < 20:
            continue
        x, y = a[1:][both].astype(np.float64), a[:-1][both].astype(np.float64)
        if x.std() == 0 or y.std() == 0:
            continue
        rho = float(np.corrcoef(x, y)[0, 1])
        h = float(spacing_kji[axis])
        if 0 < rho < 1:
            scales.append(h / np.sqrt(-4.0 * np.log(rho)))
    return float(np.median(scales)) if scales else None


def case_statistics(image: np.ndarray, label: np.ndarray, spacing_kji: Sequence[float]) -> dict[str, float] | None:
    """Tumour-vs-pancreas statistics of one case (None when it lacks tumour or pancreas)."""
    t, p = label == 2, label == 1
    if t.sum() < 10 or p.sum() < 10:
        return None
    box = tuple(slice(max(int(ix.min()) - int(np.ceil(RING_MM / s)) - 2, 0), int(ix.max()) + int(np.ceil(RING_MM / s)) + 3)
                for ix, s in zip(np.nonzero(t), spacing_kji, strict=True))
    img = np.asarray(image[box], dtype=np.float32)
    tb, pb = t[box], p[box]
    ring = pb & (ndimage.distance_transform_edt(~tb, sampling=spacing_kji) <= RING_MM)
    ref = img[ring] if ring.sum() >= 20 else np.asarray(image, np.float32)[p]
    tum = img[tb]
    resid = img - ndimage.gaussian_filter(img, 2.0 / np.asarray(spacing_kji, float), mode="nearest")
    noise = _robust_sd(resid[pb]) if pb.sum() >= 20 else _robust_sd(resid[tb])
    spread = _robust_sd(tum)
    inner = ndimage.binary_erosion(tb)
    return {
        "tumour_hu": float(np.median(tum)),
        "pancreas_hu": float(np.median(ref)),
        "contrast_hu": float(np.median(ref) - np.median(tum)),
        "noise_sd_hu": noise,
        "texture_std_hu": float(np.sqrt(max(spread**2 - noise**2, 0.0))),
        "texture_scale_mm": _lag1_scale(img, inner if inner.sum() >= 20 else tb, spacing_kji),
        "tumour_mm3": float(t.sum()) * float(np.prod(spacing_kji)),
    }


def fit_texture(dataset, max_cases: int | None = None, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Fit the statistical texture parameters to a labelled dataset (path or ``Dataset``)."""
    from ..data.datasets import open_dataset

    ds = open_dataset(dataset) if isinstance(dataset, (str, os.PathLike)) else dataset
    rows = []
    cases = ds.cases()
    for n, case in enumerate(cases):
        if max_cases is not None and len(rows) >= max_cases:
            break
        image, label = ds.load(case)
        if label is not None:
            s = case_statistics(image.array, label.array, image.array_spacing)
            if s is not None:
                rows.append({"case": case.case_id, **s})
        if progress:
            progress((n + 1) / len(cases), case.case_id)
    if not rows:
        raise InputError(f"{getattr(ds, 'root', dataset)}: no case has both tumour (2) and pancreas (1) labels to fit on")

    def iqr(key: str, lo_clip: float | None = None) -> list[float]:
        v = np.array([r[key] for r in rows if r[key] is not None], dtype=np.float64)
        if v.size == 0:
            return [1.5, 3.0]
        q = np.percentile(v, [25, 75])
        if lo_clip is not None:
            q = np.maximum(q, lo_clip)
        return [round(float(q[0]), 3), round(float(q[1]), 3)]

    return {
        "texture": "statistical",
        "params": {"contrast_hu": iqr("contrast_hu"), "texture_std_hu": iqr("texture_std_hu", 0.0),
                   "texture_scale_mm": iqr("texture_scale_mm", 0.3)},
        "n_cases": len(rows),
        "source": str(getattr(ds, "root", dataset)),
        "cases": rows,
    }
