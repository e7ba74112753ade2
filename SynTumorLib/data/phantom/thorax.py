"""The lower thorax at the top of an abdominal scan: ribs 8–12 in the body wall and the posterior
lung bases (costophrenic recesses) above the diaphragm.

Example:
    >>> import numpy as np
    >>> from SynTumorLib.data.phantom.layout import sample_layout
    >>> paths = rib_paths(sample_layout(np.random.default_rng(0)))
    >>> len(paths), paths[0].shape[1]
    (10, 3)
"""

from __future__ import annotations

import numpy as np

from .canvas import Canvas
from .organs import paint_tube


def _wall_point(lay: dict, phi: np.ndarray, inset: float) -> np.ndarray:
    """Points on the cavity outline (the inner superellipse) at polar angle ``phi`` (0 = patient's
    right, 90° = anterior), pushed ``inset`` mm outwards into the muscle layer."""
    b = lay["body"]
    p = b["power"]
    c, s = np.cos(phi), np.sin(phi)
    bb = np.where(s >= 0, b["front_inner"], b["back_inner"])
    x = b["half_width_inner"] * np.sign(c) * np.abs(c) ** (2 / p)
    y = bb * np.sign(s) * np.abs(s) ** (2 / p)
    r = np.hypot(x, y) + 1e-6
    return np.stack([x * (r + inset) / r, y * (r + inset) / r], axis=1)


def rib_paths(lay: dict) -> list[np.ndarray]:
    """Centrelines of ribs 8–12 on both sides: from beside the spine, around the wall, descending;
    the lower ribs are shorter (floating ribs 11 and 12)."""
    rb = lay["ribs"]
    inset = 0.5 * lay["body"]["muscle_mm"]
    ends = [55.0, 35.0, 10.0, -25.0, -55.0]  # anterior end angle (deg) of ribs 8..12
    out = []
    for n, end in enumerate(ends):
        for sgn in (1, -1):
            start = -90.0 + 28.0  # beside the spine, posteriorly
            deg = np.linspace(start, end, max(4, int((end - start) / 8)))
            phi = np.deg2rad(deg)
            xy = _wall_point(lay, phi, inset)
            xy[:, 0] *= sgn
            z = rb["z_top"] - n * rb["gap_mm"] - rb["drop_mm_per_deg"] * (deg - start)
            out.append(np.column_stack([xy, z]))
    return out


def paint_ribs(canvas: Canvas, lay: dict) -> None:
    r = lay["ribs"]["radius"]
    for path in rib_paths(lay):
        if path[:, 2].max() + r < canvas.grid.zs.min() or path[:, 2].min() - r > canvas.grid.zs.max():
            continue
        into = ("muscle", "fat_subcut", "fat_visceral")
        paint_tube(canvas, path, np.full(len(path), r), "bone_cortical", only_into=into)
        paint_tube(canvas, path, np.full(len(path), 0.6 * r), "bone_cancellous", only_into=("bone_cortical",))


def paint_lung_bases(canvas: Canvas, lay: dict) -> None:
    """Aerated lung in the posterior recesses above a diaphragm that rises anteriorly and medially."""
    g, lu, V = canvas.grid, lay["lung"], lay["spine"]["y_body"]
    box = g.box((-1e4, -1e4, lu["z_base"]), (1e4, V + 60, 1e4))
    if box is None:
        return
    z, y, x = g.coords(box)
    # diaphragm height: lowest posterolaterally, rising towards the front and the midline
    dome = lu["z_base"] + lu["slope"] * (y - (V - 40)) + 0.004 * (120 - np.abs(x)) ** 2 * 0.5
    canvas.paint(box, z > dome, "lung", only_into=("fat_visceral", "fat_plane"))
