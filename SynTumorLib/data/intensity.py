"""CT intensity windowing: HU clipped to a window and scaled to [0, 1] (the paper uses [−175, 250]).

Example:
    >>> import numpy as np
    >>> window(np.array([-1000, -175, 37.5, 250, 3000])).tolist()
    [0.0, 0.0, 0.5, 1.0, 1.0]
    >>> unwindow(np.array([0.0, 0.5, 1.0])).tolist()
    [-175.0, 37.5, 250.0]
"""

from __future__ import annotations

import numpy as np

from ..utils.errors import InputError

HU_WINDOW = (-175.0, 250.0)


def _check(lo: float, hi: float) -> None:
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise InputError(f"HU window must have finite lo < hi, got lo={lo}, hi={hi}")


def window(hu, lo: float = HU_WINDOW[0], hi: float = HU_WINDOW[1]) -> np.ndarray:
    """Clip HU to ``[lo, hi]`` and scale linearly to ``[0, 1]`` (float32; the input is not changed).

    Works on numpy arrays and on anything ``np.asarray`` accepts; torch tensors are converted on the
    CPU — use ``(t.clamp(lo, hi) - lo) / (hi - lo)`` to stay on the GPU.
    """
    _check(lo, hi)
    x = np.asarray(hu, dtype=np.float32)
    return ((np.clip(x, lo, hi) - np.float32(lo)) / np.float32(hi - lo)).astype(np.float32)


def unwindow(x, lo: float = HU_WINDOW[0], hi: float = HU_WINDOW[1]) -> np.ndarray:
    """Inverse of :func:`window` inside the window: ``[0, 1]`` back to HU (float32).

    Values outside ``[0, 1]`` are clipped first, since :func:`window` cannot produce them.
    """
    _check(lo, hi)
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    return (x * np.float32(hi - lo) + np.float32(lo)).astype(np.float32)
