"""Volume overlap: Dice similarity coefficient and physical volume of a mask.

Empty masks are defined, not NaN, so per-case tables and means never break:

* both masks empty → Dice **1.0** (the prediction agrees with the reference: nothing there);
* exactly one empty → Dice **0.0**.

(DeepMind's ``compute_dice_coefficient`` returns NaN when both are empty; a mean over cases would
then silently drop those cases, which inflates scores on tumour-free scans.)

Example:
    >>> import numpy as np
    >>> a = np.zeros((4, 4, 4), bool); a[:2] = True
    >>> b = np.zeros((4, 4, 4), bool); b[1:3] = True
    >>> dice(a, b), dice(a, a), dice(a & False, b & False)
    (0.5, 1.0, 1.0)
    >>> volume_ml(a, (2.0, 1.0, 1.0))
    0.064
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..utils.errors import InputError


def as_mask(x, name: str = "mask") -> np.ndarray:
    """A 3-D boolean view/copy of ``x`` (bool, 0/1 integers, or a Volume); the input is never changed."""
    arr = getattr(x, "array", x)
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise InputError(f"{name} must be a 3-D array, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"{name} must be boolean or numeric, got dtype {arr.dtype}")
    return arr != 0


def check_pair(pred, ref) -> tuple[np.ndarray, np.ndarray]:
    """Both masks as booleans, checked to have the same shape."""
    p, r = as_mask(pred, "pred"), as_mask(ref, "ref")
    if p.shape != r.shape:
        raise InputError(f"pred and ref shapes differ: {p.shape} vs {r.shape}")
    return p, r


def check_spacing(spacing: Sequence[float], name: str = "spacing_kji") -> np.ndarray:
    sp = np.asarray(spacing, dtype=np.float64)
    if sp.shape != (3,) or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise InputError(f"{name} must be three positive numbers (mm per array axis k, j, i), got {list(np.ravel(sp))}")
    return sp


def dice(pred, ref) -> float:
    """Dice = 2|P∩R| / (|P|+|R|); 1.0 when both are empty, 0.0 when exactly one is.

    Args:
        pred, ref: 3-D masks (bool or integers, non-zero = foreground) of the same shape.
    """
    p, r = check_pair(pred, ref)
    n_p, n_r = int(np.count_nonzero(p)), int(np.count_nonzero(r))
    if n_p + n_r == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(p & r)) / (n_p + n_r)


def volume_ml(mask, spacing: Sequence[float]) -> float:
    """Volume of the non-zero voxels in millilitres (1 ml = 1000 mm³); ``spacing`` in mm per axis."""
    m = as_mask(mask)
    sp = check_spacing(spacing, "spacing")
    return float(np.count_nonzero(m) * np.prod(sp) / 1000.0)
