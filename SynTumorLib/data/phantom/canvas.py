"""The painting surface of the phantom: a tissue-id map plus a per-voxel HU offset buffer.

Shapes are painted in anatomical order; a later shape overwrites an earlier one, except where
``only_into`` restricts it to certain tissues (bowel never enters organs, a tumour never enters
bone, gas or vessels).

Example:
    >>> from SynTumorLib.data.phantom.raster import Grid, ellipsoid_f
    >>> g = Grid.from_centre((0, 0, 0), (8, 8, 8), (2, 2, 2))
    >>> c = Canvas(g)
    >>> box = g.box((-6, -6, -6), (6, 6, 6))
    >>> n = c.paint(box, ellipsoid_f(g, box, (0, 0, 0), (5, 5, 5)) < 1, "liver")
    >>> n == int((c.tissue == ID["liver"]).sum()) > 0
    True
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .raster import Box, Grid
from .tissues import ID


def _lut(names: Iterable[str]) -> np.ndarray:
    """Boolean lookup table over tissue ids (faster than np.isin on large boxes)."""
    lut = np.zeros(256, bool)
    lut[[ID[n] for n in names]] = True
    return lut


class Canvas:
    def __init__(self, grid: Grid):
        self.grid = grid
        self.tissue = np.zeros(grid.shape, np.uint8)
        self.delta = np.zeros(grid.shape, np.float32)

    def paint(self, box: Box | None, mask: np.ndarray, tissue: str, *, delta: np.ndarray | float | None = None,
              only_into: Iterable[str] | None = None, not_into: Iterable[str] | None = None) -> int:
        """Set ``tissue`` where ``mask`` (an array on ``box``); returns the number of voxels painted."""
        if box is None:
            return 0
        view = self.tissue[box]
        m = np.broadcast_to(np.asarray(mask, bool), view.shape)
        if only_into is not None:
            m = m & _lut(only_into)[view]
        if not_into is not None:
            m = m & ~_lut(not_into)[view]
        view[m] = ID[tissue]
        dview = self.delta[box]
        if delta is None:
            dview[m] = 0.0
        elif np.ndim(delta) == 0:
            dview[m] = float(delta)
        else:
            dview[m] = np.broadcast_to(delta, m.shape)[m]
        return int(m.sum())

    def count(self, tissue: str) -> int:
        return int(np.count_nonzero(self.tissue == ID[tissue]))
