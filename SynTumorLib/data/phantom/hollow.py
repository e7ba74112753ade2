"""Hollow viscera: stomach, duodenum, colon and small-bowel loops, with walls, fluid and gas.

Contents follow gravity for a supine patient: gas rises anteriorly (+y) above a fluid level.

Example:
    >>> import numpy as np
    >>> from SynTumorLib.data.phantom.layout import sample_layout
    >>> from SynTumorLib.data.phantom.raster import Grid
    >>> from SynTumorLib.data.phantom.canvas import Canvas
    >>> from SynTumorLib.data.phantom.tissues import ID
    >>> c = Canvas(Grid.from_centre((0, 20, 20), (30, 40, 60), (5, 5, 5)))
    >>> c.tissue[:] = ID["fat_visceral"]
    >>> paint_stomach(c, sample_layout(np.random.default_rng(0)), seed=3)
    >>> c.count("bowel_wall") > 0
    True
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .canvas import Canvas
from .raster import resample_polyline, sweep_f, tube_box
from .texture.noise import SmoothField


def paint_viscus(canvas: Canvas, points, radii, wall_mm: float, gas_fraction: float, *,
                 content: str = "bowel_fluid", only_into: Iterable[str] = ("fat_visceral",),
                 stool_fraction: float = 0.0, seed: int = 0) -> None:
    """A tube with a wall; inside, gas above a fluid level (``gas_fraction`` of the diameter) or,
    with ``stool_fraction``, mottled faeces (gas bubbles in soft material)."""
    g = canvas.grid
    # segments of about half a radius: smooth enough for the curvature of a bowel loop
    p, r = resample_polyline(np.asarray(points, float), np.asarray(radii, float), max(4.0, 0.5 * float(np.min(radii))))
    box = g.box(*tube_box(p, r))
    if box is None:
        return
    f, off = sweep_f(g, box, p, r, want_offset=True)
    only = tuple(only_into)
    canvas.paint(box, f < 1, "bowel_wall", only_into=only)
    inner = f < 1 - wall_mm / np.maximum(r.mean(), wall_mm + 1)
    level = 1 - 2 * gas_fraction  # offset = (y - centre_y) / r is +1 at the front of the lumen
    canvas.paint(box, inner & (off <= level), content, only_into=("bowel_wall",))
    canvas.paint(box, inner & (off > level), "gas", only_into=("bowel_wall",))
    if stool_fraction > 0:
        lo, hi = p.min(axis=0) - r.max(), p.max(axis=0) + r.max()
        mottle = SmoothField(seed, 4.0, lo, hi).sample(*g.box_axes(box))
        thr = np.quantile(mottle, 1 - 0.5 * stool_fraction) if mottle.size else 0.0
        stool = inner & (mottle > np.float32(-thr * 0.2)) & (off <= 0.9)
        canvas.paint(box, stool, "stool", only_into=("bowel_wall", "bowel_fluid", "gas"))
        bubbles = stool & (mottle > thr)
        canvas.paint(box, bubbles, "gas", only_into=("stool",))


def paint_stomach(canvas: Canvas, lay: dict, seed: int) -> None:
    st = lay["stomach"]
    paint_viscus(canvas, st["centreline"], st["radii"], st["wall_mm"], st["gas_fraction"],
                 content="stomach_fluid", seed=seed)


def paint_duodenum(canvas: Canvas, lay: dict, seed: int) -> None:
    du = lay["duodenum"]
    pts = du["centreline"]
    paint_viscus(canvas, pts, [du["radius"]] * len(pts), du["wall_mm"], du["gas_fraction"], seed=seed,
                 only_into=("fat_visceral", "fat_plane"))


def paint_colon(canvas: Canvas, lay: dict, seed: int) -> None:
    co = lay["colon"]
    pts = co["centreline"]
    paint_viscus(canvas, pts, [co["radius"]] * len(pts), co["wall_mm"], 0.35, seed=seed,
                 stool_fraction=co["stool_fraction"])


def small_bowel_paths(lay: dict) -> list[tuple[np.ndarray, float, float]]:
    """Random-walk centrelines of small-bowel loops below and left of the pancreas."""
    rng = np.random.default_rng(lay["small_bowel_seed"])
    V = lay["spine"]["y_body"]
    regions = [((-80, V + 35, -140), (80, V + 115, -40)), ((-90, V + 45, -50), (-25, V + 105, 15)),
               ((-20, V + 75, -45), (60, V + 115, -5))]
    loops = []
    for n in range(int(rng.integers(12, 18))):
        lo, hi = (np.asarray(v, float) for v in regions[0 if n < 8 else (1 if n < 12 else 2)])
        p = rng.uniform(lo, hi)
        d = rng.normal(0, 1, 3)
        pts = [p.copy()]
        for _ in range(int(rng.integers(14, 30))):
            d = d / np.linalg.norm(d) + rng.normal(0, 0.6, 3)
            d /= np.linalg.norm(d)
            p = p + 7.0 * d
            bounce = (p < lo) | (p > hi)
            d[bounce] *= -1
            p = np.clip(p, lo, hi)
            pts.append(p.copy())
        gas = rng.uniform(0.15, 0.5) if rng.uniform() < 0.35 else 0.0
        loops.append((np.asarray(pts), float(rng.uniform(9, 12.5)), float(gas)))
    return loops


def paint_small_bowel(canvas: Canvas, lay: dict, seed: int) -> None:
    for i, (pts, rad, gas) in enumerate(small_bowel_paths(lay)):
        paint_viscus(canvas, pts, [rad] * len(pts), 2.0, gas, seed=seed + i)
