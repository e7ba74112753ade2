"""The pancreas: head, neck, body and tail along a smooth curved centreline, lobulated, with its
main duct, and the splenic vein running in a groove along its posterior surface.

The centreline (``layout["pancreas"]``) runs tail → neck → head → uncinate process; the gland is a
tube of varying radius around it (head ~25–28 mm thick, body and tail ~15–20 mm), its surface
perturbed by a fine random field (lobulation) and its parenchyma interleaved with fat.

Example:
    >>> import numpy as np
    >>> from SynTumorLib.data.phantom.layout import sample_layout
    >>> c = pancreas_centreline(sample_layout(np.random.default_rng(0)))
    >>> c.points.shape[1], bool(c.radii.max() > 10)
    (3, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .canvas import Canvas
from .raster import resample_polyline, sweep_f, tube_box
from .texture.noise import SmoothField

NECK_INDEX = 4  # index of the neck among the layout's centreline points
TAIL_BODY_INDEX = 2  # tail = points 0..2, body = 2..4, head (+ uncinate) = 4..end


@dataclass
class Centreline:
    points: np.ndarray  # (N, 3) RAS mm, every 2 mm, tail → head
    radii: np.ndarray  # (N,) mm
    neck: int  # index of the neck in points
    body_start: int  # index where the tail ends and the body begins

    def region(self, idx: int) -> str:
        return "tail" if idx < self.body_start else ("body" if idx < self.neck else "head")

    def tangent(self, idx: int) -> np.ndarray:
        a, b = max(idx - 2, 0), min(idx + 2, len(self.points) - 1)
        t = self.points[b] - self.points[a]
        return t / (np.linalg.norm(t) + 1e-9)


def pancreas_centreline(lay: dict, step_mm: float = 2.0) -> Centreline:
    base = np.asarray(lay["pancreas"]["centreline"], float)
    rad = np.asarray(lay["pancreas"]["radii"], float)
    p, r = resample_polyline(base, rad, step_mm)
    near = [int(np.argmin(np.linalg.norm(p - base[i], axis=1))) for i in (TAIL_BODY_INDEX, NECK_INDEX)]
    return Centreline(p, r, neck=near[1], body_start=near[0])


def posterior_normals(points: np.ndarray) -> np.ndarray:
    """Unit vectors in the axial plane, perpendicular to the centreline, pointing posteriorly."""
    t = np.gradient(points[:, :2], axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True) + 1e-9
    n = np.stack([t[:, 1], -t[:, 0], np.zeros(len(t))], axis=1)
    n[n[:, 1] > 0] *= -1
    return n


def splenic_vein_path(cl: Centreline, lay: dict, r_sv: float) -> np.ndarray:
    """Splenic vein: behind the tail and body (sunk ~2 mm into the gland), from the splenic hilum
    to the confluence behind the neck."""
    idx = np.arange(0, cl.neck + 1)
    n = posterior_normals(cl.points)[idx]
    pts = cl.points[idx] + n * (cl.radii[idx] + r_sv - 2.0)[:, None]
    hilum = np.asarray(lay["spleen"]["centre"], float)
    start = pts[0] + 0.45 * (hilum - pts[0])
    return np.vstack([start, pts[::3], pts[-1:]])


def paint_pancreas(canvas: Canvas, lay: dict, cl: Centreline, seed: int, duct_radii: np.ndarray) -> dict:
    """Paint the gland (with a fat-plane halo) and its duct; returns measured shape facts."""
    g = canvas.grid
    pa = lay["pancreas"]
    box = g.box(*tube_box(cl.points, cl.radii, 1.6))
    if box is None:
        return {"painted_voxels": 0}
    lo, hi = cl.points.min(axis=0) - 40, cl.points.max(axis=0) + 40
    lob = SmoothField(seed, 3.5, lo, hi).sample(*g.box_axes(box))
    f, _ = sweep_f(g, box, cl.points, cl.radii, reach=1.4)  # the fat-plane halo reaches f = 1.25
    f += np.float32(pa["lobulation"]) * lob
    canvas.paint(box, f < 1.25, "fat_plane", only_into=("fat_visceral",))
    # interlobular fat: a second fine field thresholded softly; more in older/fattier glands
    fat_field = SmoothField(seed + 1, 2.5, lo, hi).sample(*g.box_axes(box))
    fatty = np.clip((fat_field - 1.0) / 0.8, 0, 1) * np.float32(pa["fat_infiltration"] * 190.0)
    n = canvas.paint(box, f < 1, "pancreas", delta=-fatty,
                     only_into=("fat_visceral", "fat_plane", "bowel_wall", "bowel_fluid", "gas", "stomach_fluid"))
    fd, _ = sweep_f(g, box, cl.points, duct_radii)
    canvas.paint(box, fd < 1, "duct", only_into=("pancreas",))
    return {"painted_voxels": n}
