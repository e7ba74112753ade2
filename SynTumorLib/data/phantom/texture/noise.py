"""Smooth random fields and correlated CT noise, evaluated on axis-aligned grids.

``SmoothField`` is a Gaussian-RBF field: unit-variance random values on a coarse lattice fixed in
millimetres, interpolated with Gaussian weights. Because the weights are separable, sampling it on
an axis-aligned box is three small matrix products (BLAS), not a per-voxel interpolation, which keeps
a clinical grid cheap. Because the lattice lives in millimetres, the same seed gives the same
shapes at any voxel spacing.

Example:
    >>> import numpy as np
    >>> f = SmoothField(seed=1, cell_mm=10.0, lo_mm=(-50, -50, -50), hi_mm=(50, 50, 50))
    >>> v = f.sample(np.linspace(-40, 40, 5), np.linspace(-40, 40, 6), np.linspace(-40, 40, 7))
    >>> v.shape  # array order (z, y, x) = (k, j, i)
    (7, 6, 5)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class SmoothField:
    """A smooth, stationary, unit-variance random field in millimetre space.

    Args:
        seed: seed of the lattice values.
        cell_mm: lattice spacing; the field's correlation length is about one cell.
        lo_mm, hi_mm: (x, y, z) corners of the region where the field is defined; outside it the
            field decays to 0 (keep primitives inside).
    """

    def __init__(self, seed: int, cell_mm: float, lo_mm: Sequence[float], hi_mm: Sequence[float]):
        self.cell = float(cell_mm)
        lo = np.asarray(lo_mm, float) - 2 * self.cell
        hi = np.asarray(hi_mm, float) + 2 * self.cell
        self.nodes = [np.arange(lo[a], hi[a] + self.cell, self.cell) for a in range(3)]
        shape = tuple(len(n) for n in self.nodes[::-1])  # (z, y, x)
        self.values = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)

    def _weights(self, coords: np.ndarray, axis: int) -> tuple[np.ndarray, slice]:
        nodes = self.nodes[axis]
        coords = np.asarray(coords, np.float64)
        # only nodes within 3 sigma of the coordinates contribute: keeps the matrices small
        s = 0.8 * self.cell
        lo = np.searchsorted(nodes, coords.min() - 3 * s)
        hi = np.searchsorted(nodes, coords.max() + 3 * s)
        sl = slice(max(lo - 1, 0), min(hi + 1, len(nodes)))
        w = np.exp(-0.5 * ((coords[:, None] - nodes[None, sl]) / s) ** 2)
        # rows normalised to unit L2 norm → the product of the three axes has unit variance
        w /= np.sqrt(np.sum(w**2, axis=1, keepdims=True)) + 1e-12
        return w.astype(np.float32), sl

    def sample(self, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray) -> np.ndarray:
        """Field on the grid ``xs × ys × zs`` (1-D mm coordinates), returned as a (z, y, x) array."""
        wx, sx = self._weights(xs, 0)
        wy, sy = self._weights(ys, 1)
        wz, sz = self._weights(zs, 2)
        g = np.ascontiguousarray(self.values[sz, sy, sx])
        t = g @ np.ascontiguousarray(wx.T)  # (nz, ny, X)
        t = np.einsum("jb,zbx->zjx", wy, t, optimize=True)  # (nz, Y, X); einsum → one BLAS call
        out = wz @ t.reshape(t.shape[0], -1)  # (Z, Y*X)
        return out.reshape(len(zs), len(ys), len(xs))


def _kernel_gain(sigma: float) -> float:
    """Sum of squared weights of scipy's 1-D Gaussian kernel (noise variance gain of the filter)."""
    if sigma <= 0:
        return 1.0
    from scipy.ndimage import gaussian_filter1d

    delta = np.zeros(int(8 * sigma) * 2 + 3)
    delta[len(delta) // 2] = 1.0
    k = gaussian_filter1d(delta, sigma, mode="constant", truncate=3.0)
    return float(np.sum(k**2))


def add_ct_noise(hu: np.ndarray, seed: int, noise_sd: float, sigma_vox: Sequence[float]) -> np.ndarray:
    """Partial-volume blur plus correlated noise of standard deviation ``noise_sd`` HU, in one pass.

    White noise is added *before* a single Gaussian blur (``sigma_vox`` per array axis) and scaled
    so that, after the blur, its standard deviation is ``noise_sd``: the blur then both smooths
    edges (partial volume) and gives the noise CT's fine-grained spatial correlation. ``hu`` is
    float32 and is modified in place and returned.
    """
    from scipy.ndimage import gaussian_filter

    gain = float(np.prod([_kernel_gain(s) for s in sigma_vox]))
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(hu.shape, dtype=np.float32)
    noise *= np.float32(noise_sd / np.sqrt(gain))
    hu += noise
    del noise
    gaussian_filter(hu, sigma=tuple(float(s) for s in sigma_vox), output=hu, mode="nearest", truncate=3.0)
    return hu
