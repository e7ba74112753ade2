"""Feed DiffTumor's released segmenters the way they were trained, and map their output back exactly.

The released networks saw arrays reoriented to RAS with axes (R, A, S), at 1 mm (SEGMENTERS §4).
SynTumor works on ``[k, j, i]`` arrays in each file's own direction; a network fed those gives
degraded, not obviously broken, output — the flipped results reported in DiffTumor's issue #24. So,
for any input direction (RAS, LPS, flipped or permuted axes):

1. :func:`reorient_to_ras`: permute and flip the voxel axes (no interpolation) so that i, j, k
   point as close as possible to R, A, S — what MONAI's ``Orientationd(axcodes="RAS")`` does;
2. resample to 1 mm keeping that direction and the field of view (linear, like ``Spacingd``);
3. window −175…250 HU → [0, 1], transpose ``[k, j, i]`` → (i, j, k) = (R, A, S), pad to ≥ 96³
   with the minimum (symmetric, like ``SpatialPadd(mode="minimum")``);
4. Gaussian sliding window (96³, overlap 0.75 unless asked otherwise);
5. crop the padding, transpose back, and resample the **logits** linearly onto the input grid
   (``Invertd`` of the logits), then argmax — labels on the input's exact grid.

Every step is in physical space, so two files holding the same anatomy in different orientations
get the same labels at the same physical points.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from ..data.volume import Volume
from ..utils.progress import ProgressCallback


def ras_axis_order(direction_ras: np.ndarray) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """For world axes R, A, S: the voxel axis (0 i, 1 j, 2 k) closest to each, and its sign.

    The permutation maximising the summed |cosines| wins (ties: the first in itertools order), so an
    oblique grid maps to its nearest RAS orientation, as nibabel's ``io_orientation`` does.
    """
    d = np.asarray(direction_ras, dtype=np.float64)
    best = max(permutations(range(3)), key=lambda p: sum(abs(d[w, p[w]]) for w in range(3)))
    signs = tuple(1 if d[w, best[w]] >= 0 else -1 for w in range(3))
    return tuple(best), signs


def reorient_to_ras(vol: Volume) -> Volume:
    """The same voxels with axes permuted/flipped so that i≈R, j≈A, k≈S (exact: no interpolation)."""
    perm, signs = ras_axis_order(vol.direction_ras)
    m = vol.ijk_to_ras
    size_ijk = vol.shape[::-1]
    # new array axis b holds new voxel axis 2 - b, i.e. old voxel axis perm[2 - b], i.e. old array axis 2 - perm[2 - b]
    arr = np.transpose(vol.array, [2 - perm[2 - b] for b in range(3)])
    new = np.eye(4)
    new[:3, 3] = m[:3, 3]
    for w in range(3):
        new[:3, w] = signs[w] * m[:3, perm[w]]
        if signs[w] < 0:
            arr = np.flip(arr, axis=2 - w)
            new[:3, 3] += m[:3, perm[w]] * (size_ijk[perm[w]] - 1)
    return Volume(np.ascontiguousarray(arr), new)


def network_input(image: Volume, preprocessing: dict) -> tuple[np.ndarray, Volume, list[tuple[int, int]]]:
    """Steps 1–3 of the module doc: the padded (R, A, S) [0, 1] array, the 1 mm RAS grid it lies on
    (``[k, j, i]`` before the transpose) and the padding added per (R, A, S) axis."""
    from ..data.resample import resample_to_spacing

    ras = reorient_to_ras(image.with_array(np.asarray(image.array, dtype=np.float32)))
    spacing = [float(s) for s in preprocessing["spacing_mm"]]
    work = ras if np.allclose(ras.spacing, spacing, rtol=0, atol=1e-4) else resample_to_spacing(
        ras, spacing, interpolation="linear" if preprocessing.get("image_interpolation") == "bilinear" else None)
    lo, hi = (float(v) for v in preprocessing["window_hu"])
    b_lo, b_hi = (float(v) for v in preprocessing.get("window_to", (0.0, 1.0)))
    x = (np.asarray(work.array, dtype=np.float32) - lo) / (hi - lo) * (b_hi - b_lo) + b_lo
    if preprocessing.get("clip", True):
        x = np.clip(x, b_lo, b_hi)
    x = np.ascontiguousarray(x.transpose(2, 1, 0))  # [k, j, i] → (i, j, k) = (R, A, S)
    pad = []
    for n, want in zip(x.shape, preprocessing.get("pad_to_at_least", preprocessing["roi_size"]), strict=True):
        extra = max(int(want) - n, 0)
        pad.append((extra // 2, extra - extra // 2))
    if any(a or b for a, b in pad):
        x = np.pad(x, pad, mode=preprocessing.get("pad_mode", "minimum"))
    return x, work, pad


def _onto(work: Volume, values: np.ndarray, image: Volume) -> np.ndarray:
    """``values`` on ``work``'s grid, interpolated linearly onto ``image``'s.

    The 1 mm grid covers the input's field of view exactly, so the input's edge voxels sit on the
    edge of its last half-voxel, where "inside" is decided by rounding — and would differ between
    two files holding the same voxels in different orders. One voxel of edge padding puts every
    input voxel strictly inside (values there are those of the nearest edge voxel).
    """
    from ..data.resample import resample_like

    m = work.ijk_to_ras.copy()
    m[:3, 3] -= m[:3, :3] @ np.ones(3)
    padded = Volume(np.pad(values, 1, mode="edge"), m)
    return resample_like(padded, image, interpolation="linear", default_value=float(values.min())).array


def predict_released(lm, image: Volume, sliding_window_logits, *, overlap: float | None = None, device=None,
                     sw_batch_size: int = 1, want_probability: bool = False,
                     progress: ProgressCallback | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels (uint8 ``[k, j, i]`` on ``image``'s grid) and, if asked, the tumour probability there.

    Args:
        lm: a loaded released model (``lm.preprocessing`` set).
        image: CT in HU, any grid and direction.
        sliding_window_logits: the inferer, :func:`SynTumorLib.segmentation.inference.sliding_window_logits`
            (passed in by its caller, which imports this module).
        overlap: sliding-window overlap (default: the recipe's, 0.75).
    """
    import torch

    pre = lm.preprocessing
    cb = progress or (lambda f, m="": None)
    cb(0.0, "reorienting to RAS and resampling to 1 mm")
    x, work, pad = network_input(image, pre)
    ov = float(pre.get("overlap", 0.75) if overlap is None else overlap)
    logits = sliding_window_logits(lm.net, x, pre["roi_size"], overlap=ov, device=device,
                                   sw_batch_size=sw_batch_size, progress=lambda f, m: cb(0.05 + 0.8 * f, m))[0]
    crop = tuple(slice(a, n - b) for (a, b), n in zip(pad, logits.shape[1:], strict=True))
    logits = logits[(slice(None), *crop)].permute(0, 3, 2, 1).contiguous()  # (C, R, A, S) → (C, k, j, i)
    del x
    cb(0.88, "resampling the logits back to the input grid")
    best = arg = None
    same = work.same_grid(image, atol=1e-6)
    for c in range(logits.shape[0]):
        ch = logits[c].numpy().astype(np.float32)
        if not same:
            ch = _onto(work, ch, image)
        if best is None:
            best, arg = ch.copy(), np.zeros(ch.shape, np.uint8)
        else:
            better = ch > best  # ties keep the lower class, as argmax does
            best[better], arg[better] = ch[better], c
    prob = None
    if want_probability:
        p = torch.softmax(logits.float(), dim=0)[2].numpy().astype(np.float32)
        if not same:
            p = _onto(work, p, image)
        prob = np.clip(np.asarray(p, dtype=np.float32), 0.0, 1.0)
    return arg, prob
