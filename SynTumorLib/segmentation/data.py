"""Training data: cases loaded once, resampled to the training spacing, cached in memory, and
crops drawn from them with an equal tumour/background ratio.

Sampling is **stateless**: sample number ``n`` of process ``rank`` is a pure function of
``(seed, rank, n)``. That gives one data order whatever the number of DataLoader workers, makes
resuming exact (the sampler's state is just the step), and shards crops across DDP ranks the way a
DistributedSampler would (each rank draws its own crops; none is drawn twice).

Each cached case is cut to the bounding box of its label (pancreas + tumour) widened by one crop
size on every side: negative crops still come from the abdomen around the pancreas, but a training
set of hundreds of CTs fits in memory (images are kept as int16 HU).

Example:
    >>> import numpy as np
    >>> arr = np.arange(4 * 4 * 4).reshape(4, 4, 4)
    >>> extract_patch(arr, (2, 2, 2), (6, 2, 2), pad_value=-1).shape
    (6, 2, 2)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.volume import Volume
from ..utils.errors import InputError
from ..utils.seeding import child_seed

log = logging.getLogger(__name__)
AIR_HU = -1024


@dataclass
class CachedCase:
    """One training/validation case on the training grid (int16 HU image, uint8 0/1/2 label)."""

    case_id: str
    source: str  # "real", "healthy" or "synthetic"
    image: np.ndarray
    label: np.ndarray
    tumour_idx: np.ndarray  # (N, 3) voxel indices of label == 2
    organ_idx: np.ndarray  # (M, 3) voxel indices of label >= 1

    @classmethod
    def from_arrays(cls, case_id: str, source: str, image: np.ndarray, label: np.ndarray) -> CachedCase:
        return cls(case_id, source, image, label, np.argwhere(label == 2).astype(np.int32),
                   np.argwhere(label >= 1).astype(np.int32))


def _resample(vol: Volume, spacing: Sequence[float] | None, is_label: bool) -> Volume:
    if spacing is None or np.allclose(vol.spacing, spacing, rtol=0, atol=1e-4):
        return vol
    from ..data.resample import resample_to_spacing

    return resample_to_spacing(vol, spacing, is_label=is_label, default_value=0 if is_label else AIR_HU)


def load_case(dataset, case, spacing: Sequence[float] | None, crop_size: Sequence[int], source: str,
              label_dataset=None, roi: bool = True) -> CachedCase:
    """Load, check, resample and ROI-crop one case (``label_dataset`` supplies replacement labels)."""
    image, label = dataset.load(case)
    if label_dataset is not None:
        try:
            lcase = label_dataset.case(case.case_id)
        except Exception:
            raise InputError(f"{label_dataset.root}: no case '{case.case_id}' (noisy-label dataset must have the real "
                             "dataset's case ids)") from None
        _, label = label_dataset.load(lcase)
    if label is None:
        raise InputError(f"case '{case.case_id}' of {dataset.root} has no label map; training needs labels")
    if not image.same_grid(label):
        raise InputError(f"case '{case.case_id}': image and label grids differ")
    bad = np.setdiff1d(np.unique(label.array), [0, 1, 2])
    if bad.size:
        raise InputError(f"case '{case.case_id}': label values {bad.tolist()} outside 0/1/2")
    image = _resample(image, spacing, False)
    label = _resample(label, spacing, True)
    img = np.clip(np.rint(image.array), -32768, 32767).astype(np.int16)
    lab = label.array.astype(np.uint8)
    if roi and lab.any():
        nz = np.argwhere(lab > 0)
        lo = np.maximum(nz.min(0) - np.asarray(crop_size), 0)
        hi = np.minimum(nz.max(0) + 1 + np.asarray(crop_size), lab.shape)
        sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        img, lab = img[sl].copy(), lab[sl].copy()
    return CachedCase.from_arrays(case.case_id, source, img, lab)


def median_spacing(datasets_and_cases) -> list[float]:
    """Median voxel spacing (i, j, k) over ``[(dataset, case), ...]`` — reads headers only."""
    import SimpleITK as sitk

    sp = []
    for ds, case in datasets_and_cases:
        try:
            r = sitk.ImageFileReader()
            r.SetFileName(str(case.image))
            r.ReadImageInformation()
            sp.append(r.GetSpacing())
        except RuntimeError:
            sp.append(ds.load_image(case).spacing)
    return [float(s) for s in np.median(np.asarray(sp), axis=0)]


def extract_patch(arr: np.ndarray, centre: Sequence[int], size: Sequence[int], pad_value) -> np.ndarray:
    """A ``size`` patch of ``arr`` around ``centre``, kept inside the array where it fits and padded
    with ``pad_value`` where the array is smaller than the patch."""
    out = np.full(tuple(size), pad_value, dtype=arr.dtype)
    src, dst = [], []
    for c, s, n in zip(centre, size, arr.shape, strict=True):
        start = int(c) - s // 2
        start = min(max(start, 0), max(n - s, 0)) if n >= s else (n - s) // 2  # centre small images
        a0, a1 = max(start, 0), min(start + s, n)
        src.append(slice(a0, a1))
        dst.append(slice(a0 - start, a1 - start))
    out[tuple(dst)] = arr[tuple(src)]
    return out


class CropSampler:
    """Map-style dataset: ``sampler[n]`` → ``{"image": (1,D,H,W) float32 in [0,1], "label": (1,D,H,W) int64}``.

    Args:
        cases: the training pool (:class:`CachedCase`).
        crop_size: crop in voxels (k, j, i).
        seed, rank: the draw of sample ``n`` depends only on ``(seed, rank, n)``.
        pos_fraction: share of crops centred on a tumour voxel (organ voxel when a case has none).
        synthesize: callable(sample_dict, seed) -> sample_dict applied to crops of healthy cases in
            HU, *before* windowing and augmentation (the reference did it after augmentation).
        window: (lo, hi) HU window mapped to [0, 1].
        augment: callable(sample_dict, seed) -> sample_dict on windowed crops.
    """

    def __init__(self, cases: list[CachedCase], crop_size: Sequence[int], seed: int, rank: int = 0,
                 pos_fraction: float = 0.5, synthesize: Callable | None = None,
                 window: Sequence[float] = (-175.0, 250.0), augment: Callable | None = None,
                 length: int = 2**62):
        if not cases:
            raise InputError("no training cases: check the dataset folders and the split")
        self.cases, self.crop = cases, [int(c) for c in crop_size]
        self.seed, self.rank, self.pos_fraction = int(seed), int(rank), float(pos_fraction)
        self.synthesize, self.window, self.augment, self.length = synthesize, tuple(window), augment, length
        for c in cases:
            if any(n < s for n, s in zip(c.image.shape, self.crop, strict=True)):
                log.warning("case %s (%s voxels on the training grid) is smaller than the crop %s: crops are padded "
                            "with air (%d HU)", c.case_id, list(c.image.shape), self.crop, AIR_HU)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, n: int) -> dict:
        import torch

        s = child_seed(self.seed, "crop", self.rank, int(n))
        rng = np.random.default_rng(s)
        case = self.cases[int(rng.integers(len(self.cases)))]
        if rng.random() < self.pos_fraction and (len(case.tumour_idx) or len(case.organ_idx)):
            pool = case.tumour_idx if len(case.tumour_idx) else case.organ_idx
            centre = pool[int(rng.integers(len(pool)))]
        else:
            centre = [int(rng.integers(n_)) for n_ in case.image.shape]
        img = extract_patch(case.image, centre, self.crop, AIR_HU).astype(np.float32)[None]
        lab = extract_patch(case.label, centre, self.crop, 0)[None]
        sample = {"image": img, "label": lab}
        if self.synthesize is not None and case.source == "healthy":
            sample = self.synthesize(sample, child_seed(s, "synth"))
        lo, hi = self.window
        image = np.clip((np.asarray(sample["image"], dtype=np.float32) - lo) / (hi - lo), 0.0, 1.0)
        sample = {"image": image, "label": np.asarray(sample["label"]).astype(np.float32)}
        if self.augment is not None:
            sample = self.augment(sample, child_seed(s, "augment"))
        return {"image": torch.as_tensor(np.ascontiguousarray(sample["image"]), dtype=torch.float32),
                "label": torch.as_tensor(np.ascontiguousarray(np.rint(sample["label"])), dtype=torch.int64)}


def steps_per_epoch(n_cases: int, batch_size: int, world_size: int) -> int:
    """One epoch = as many crops as training cases (the reference's one-crop-per-case convention)."""
    return max(1, math.ceil(n_cases / (batch_size * world_size)))
