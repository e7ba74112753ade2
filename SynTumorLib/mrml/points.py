"""Markups point lists → RAS positions."""

from __future__ import annotations

import numpy as np
import slicer


def control_points_ras(markups_node, defined_only: bool = True) -> np.ndarray:
    """World RAS positions of a markups node's control points as an (N, 3) array.

    Points still being placed (or skipped) have no valid position and are left out when
    ``defined_only`` is set, so a half-finished click never becomes a tumour centre.
    """
    if markups_node is None:
        return np.zeros((0, 3))
    defined = slicer.vtkMRMLMarkupsNode.PositionDefined
    out = []
    for n in range(markups_node.GetNumberOfControlPoints()):
        if defined_only and markups_node.GetNthControlPointPositionStatus(n) != defined:
            continue
        p = [0.0, 0.0, 0.0]
        markups_node.GetNthControlPointPositionWorld(n, p)
        out.append(p)
    return np.asarray(out, dtype=np.float64).reshape(-1, 3)
