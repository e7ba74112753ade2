"""Label values and names, and what "one tumour" is — the one definition every module uses.

Canonical label maps are uint8 with **0 background, 1 pancreas, 2 tumour**. Datasets on disk name
them in three ways, all derived from :data:`LABEL_NAMES` here:

* MSD ``dataset.json`` ``labels``: value text → name, with Task07's own name ``cancer`` for 2
  (:data:`MSD_LABELS`), so our datasets read like the Medical Segmentation Decathlon's;
* nnU-Net v2 ``dataset.json`` ``labels``: name → value (:data:`NNUNET_LABELS`);
* reading any dataset: the names that count as pancreas or tumour (:data:`PANCREAS_NAMES`,
  :data:`TUMOUR_NAMES`); the per-layout source values (BTCV pancreas 11, TotalSegmentator 7) live
  with each layout's adapter (:mod:`.dataset_adapters`).

**One tumour is one 26-connected component** of the tumour voxels: voxels touching by a face, an
edge or a corner belong to the same lesion, as a reader counting lesions would see it.
:func:`tumour_components` is the only place that labels components; evaluation, size analysis, the
dataset check, label corruption, the texture trainers and the texture quality measures all use it.

Example:
    >>> import numpy as np
    >>> lab = np.zeros((4, 4, 4), np.uint8)
    >>> lab[0, 0, 0] = lab[1, 1, 1] = TUMOUR          # touch at a corner: one tumour
    >>> lab[3, 3, 3] = TUMOUR
    >>> comps = tumour_components(lab == TUMOUR, spacing=(2.0, 1.0, 1.0))
    >>> comps.count, comps.volumes_mm3.tolist()
    (2, [4.0, 2.0])
    >>> round(equivalent_radius_mm(4 / 3 * np.pi * 27), 6)
    3.0
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

BACKGROUND, PANCREAS, TUMOUR = 0, 1, 2
LABEL_NAMES = {BACKGROUND: "background", PANCREAS: "pancreas", TUMOUR: "tumour"}
LABEL_VALUES = {name: value for value, name in LABEL_NAMES.items()}
MSD_LABELS = {"0": "background", "1": "pancreas", "2": "cancer"}
NNUNET_LABELS = dict(LABEL_VALUES)
PANCREAS_NAMES = frozenset({"pancreas", "organ"})
TUMOUR_NAMES = frozenset({"tumour", "tumor", "cancer", "lesion", "pdac", "mass", "neoplasm", "pancreatic_tumor"})
CONNECTIVITY_26 = np.ones((3, 3, 3), dtype=bool)


def canonical_value(name: str) -> int | None:
    """The canonical value (0/1/2) a label name means, None for a name that is none of them."""
    n = str(name).strip().lower()
    if n == "background":
        return BACKGROUND
    if n in PANCREAS_NAMES:
        return PANCREAS
    if n in TUMOUR_NAMES:
        return TUMOUR
    return None


@dataclass(frozen=True)
class Components:
    """26-connected components: ``labels`` (0 outside, 1..count), their voxel counts and volumes."""

    labels: np.ndarray
    count: int
    voxels: np.ndarray
    volumes_mm3: np.ndarray

    def mask(self, index: int) -> np.ndarray:
        """Boolean mask of component ``index`` (1-based)."""
        return self.labels == index

    def masks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, mask)`` for every component, in label order."""
        for i in range(1, self.count + 1):
            yield i, self.labels == i


def tumour_components(mask: np.ndarray, spacing: Sequence[float] | None = None) -> Components:
    """The 26-connected components of a boolean ``mask`` (e.g. ``label == TUMOUR``).

    ``spacing`` is the voxel size per *array* axis (k, j, i), in mm (``Volume.array_spacing``); only
    its product matters here. Without it volumes are in voxels.
    """
    from scipy import ndimage

    lab, n = ndimage.label(np.asarray(mask, dtype=bool), structure=CONNECTIVITY_26)
    voxels = np.bincount(lab.ravel(), minlength=n + 1)[1:] if n else np.zeros(0, np.int64)
    voxel_mm3 = float(np.prod(spacing)) if spacing is not None else 1.0
    return Components(labels=lab, count=int(n), voxels=voxels, volumes_mm3=voxels * voxel_mm3)


def equivalent_radius_mm(volume_mm3: float | np.ndarray) -> float | np.ndarray:
    """Radius of the sphere with the same volume, r = (3V / 4π)^(1/3): a float for a number, else an array."""
    r = np.cbrt(3.0 * np.asarray(volume_mm3, dtype=np.float64) / (4.0 * math.pi))
    return float(r) if r.ndim == 0 else r
