"""Lesion-wise detection: which reference tumours a prediction finds, and what it invents.

Matching rule (documented because every detection figure depends on it):

* lesions are the connected components of each mask with **26-connectivity** (voxels touching by a
  face, an edge or a corner belong to one lesion);
* a predicted component *hits* a reference lesion when they share at least ``min_overlap_voxels``
  voxels;
* a reference lesion is a **true positive** when it is hit by at least one predicted component and
  the Dice between the lesion and the union of the components that hit it is ≥ ``min_dice``
  (default 0: any hit counts); otherwise it is a **false negative**;
* a predicted component that hits no reference lesion is a **false positive** (one predicted blob
  covering two lesions detects both and is not a false positive).

``sensitivity`` = TP / number of reference lesions (``None`` when there are none);
``precision`` = predicted components that hit something / predicted components (``None`` when
there are none). Sizes are reported as volume (ml) and equivalent-sphere radius (mm), so results
can be split by the study's size classes.

Example:
    >>> import numpy as np
    >>> ref = np.zeros((20, 20, 20), bool); ref[2:6, 2:6, 2:6] = True; ref[12:16, 12:16, 12:16] = True
    >>> pred = np.zeros_like(ref); pred[3:6, 3:6, 3:6] = True; pred[2:4, 14:18, 2:4] = True
    >>> r = lesion_detection(pred, ref, (1, 1, 1))
    >>> r["tp"], r["fn"], r["fp"], r["sensitivity"]
    (1, 1, 1, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ..data.labels import equivalent_radius_mm, tumour_components
from ..utils.errors import InputError
from .overlap import check_pair, check_spacing

__all__ = ["equivalent_radius_mm", "lesion_detection"]


def _components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    comps = tumour_components(mask)
    return comps.labels, comps.count


def _describe(lab: np.ndarray, n: int, voxel_mm3: float) -> list[dict]:
    if n == 0:
        return []
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    centres = ndimage.center_of_mass(np.ones(lab.shape, np.uint8), lab, range(1, n + 1))
    out = []
    for i in range(1, n + 1):
        vol = float(sizes[i] * voxel_mm3)
        out.append({
            "id": i,
            "voxels": int(sizes[i]),
            "volume_ml": vol / 1000.0,
            "radius_mm": equivalent_radius_mm(vol),
            "centre_kji": [round(float(c), 2) for c in centres[i - 1]],
        })
    return out


def lesion_detection(
    pred,
    ref,
    spacing_kji: Sequence[float],
    min_overlap_voxels: int = 1,
    min_dice: float = 0.0,
) -> dict:
    """Lesion-wise true positives, false negatives and false positives (rule in the module doc).

    Args:
        pred, ref: 3-D tumour masks (bool or integers; non-zero = tumour), same shape.
        spacing_kji: voxel size per array axis in mm (for volumes and radii).
        min_overlap_voxels: voxels a predicted component must share with a lesion to hit it (≥ 1).
        min_dice: Dice between a lesion and its hitting components needed to count it detected.

    Returns:
        ``{"n_ref", "n_pred", "tp", "fn", "fp", "sensitivity", "precision", "rule",
        "lesions": [per reference lesion: id, voxels, volume_ml, radius_mm, centre_kji, detected,
        overlap_voxels, dice, hit_by], "false_positives": [per FP component: id, voxels, volume_ml,
        radius_mm, centre_kji]}`` — JSON-able.
    """
    p, r = check_pair(pred, ref)
    sp = check_spacing(spacing_kji)
    if int(min_overlap_voxels) != min_overlap_voxels or min_overlap_voxels < 1:
        raise InputError(f"min_overlap_voxels must be an integer ≥ 1, got {min_overlap_voxels}")
    if not 0.0 <= min_dice <= 1.0:
        raise InputError(f"min_dice must lie in [0, 1], got {min_dice}")
    voxel_mm3 = float(np.prod(sp))
    lab_r, n_r = _components(r)
    lab_p, n_p = _components(p)
    # Overlap matrix in one pass: counts of (ref component, pred component) pairs over shared voxels.
    both = p & r
    pairs = np.bincount(lab_r[both].astype(np.int64) * (n_p + 1) + lab_p[both], minlength=(n_r + 1) * (n_p + 1))
    overlap = pairs.reshape(n_r + 1, n_p + 1)[1:, 1:]
    hits = overlap >= int(min_overlap_voxels)
    size_p = np.bincount(lab_p.ravel(), minlength=n_p + 1)[1:]
    lesions = _describe(lab_r, n_r, voxel_mm3)
    for i, les in enumerate(lesions):
        hit_by = np.flatnonzero(hits[i])
        inter = int(overlap[i, hit_by].sum())
        d = 2.0 * inter / (les["voxels"] + int(size_p[hit_by].sum())) if len(hit_by) else 0.0
        les.update(detected=bool(len(hit_by) and d >= min_dice), overlap_voxels=inter, dice=d,
                   hit_by=[int(h) + 1 for h in hit_by])
    pred_comps = _describe(lab_p, n_p, voxel_mm3)
    fps = [c for c, h in zip(pred_comps, hits.any(axis=0), strict=True) if not h]
    tp = sum(1 for les in lesions if les["detected"])
    return {
        "n_ref": n_r,
        "n_pred": n_p,
        "tp": tp,
        "fn": n_r - tp,
        "fp": len(fps),
        "sensitivity": tp / n_r if n_r else None,
        "precision": (n_p - len(fps)) / n_p if n_p else None,
        "rule": {"connectivity": 26, "min_overlap_voxels": int(min_overlap_voxels), "min_dice": float(min_dice)},
        "lesions": lesions,
        "false_positives": fps,
    }
