"""Solid organs: kidneys, liver (with its vessels), gallbladder and spleen.

Each organ is an implicit shape (ellipsoids) whose surface is perturbed by a smooth random field,
painted only inside its bounding box. Organs get a thin "fat plane" halo that bowel loops cannot
enter, like the fat planes around organs on real CT.

Example:
    >>> import numpy as np
    >>> from SynTumorLib.data.phantom.layout import sample_layout
    >>> from SynTumorLib.data.phantom.raster import Grid
    >>> from SynTumorLib.data.phantom.canvas import Canvas
    >>> from SynTumorLib.data.phantom.tissues import ID
    >>> c = Canvas(Grid.from_centre((0, -10, 0), (40, 50, 60), (6, 6, 6)))
    >>> c.tissue[:] = ID["fat_visceral"]
    >>> paint_solid_organs(c, sample_layout(np.random.default_rng(0)), seed=2)
    >>> c.count("liver") > 0 and c.count("kidney_cortex") > 0
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .canvas import Canvas
from .raster import ellipsoid_box, ellipsoid_f, resample_polyline, rotation_zyx, sweep_f, tube_box
from .texture.noise import SmoothField

CAVITY = ("fat_visceral", "fat_plane")


def paint_blob(canvas: Canvas, field: SmoothField, centre: Sequence[float], radii: Sequence[float],
               tissue: str, *, rotation: np.ndarray | None = None, amp: float = 0.08, halo_mm: float = 0.0,
               only_into: Iterable[str] | None = CAVITY, minus: list[tuple] | None = None) -> None:
    """A perturbed ellipsoid (optionally minus other ellipsoids: concave surfaces such as the spleen's)."""
    g = canvas.grid
    lo, hi = ellipsoid_box(centre, radii, 1.0 + amp + halo_mm / min(radii) + 0.05)
    box = g.box(lo, hi)
    if box is None:
        return
    f = ellipsoid_f(g, box, centre, radii, rotation) + amp * field.sample(*g.box_axes(box))
    for c2, r2, rot2 in minus or []:
        f = np.where(ellipsoid_f(g, box, c2, r2, rot2) < 1, np.float32(9), f)
    if halo_mm > 0:
        canvas.paint(box, f < 1 + halo_mm / float(np.mean(radii)), "fat_plane", only_into=("fat_visceral",))
    canvas.paint(box, f < 1, tissue, only_into=only_into)


def paint_tube(canvas: Canvas, points, radii, tissue: str, *, only_into: Iterable[str] | None = None,
               not_into: Iterable[str] | None = None, step_mm: float = 3.0) -> None:
    """A smooth tube of varying radius along a polyline (vessels)."""
    p, r = resample_polyline(np.asarray(points, float), np.asarray(radii, float), step_mm)
    box = canvas.grid.box(*tube_box(p, r))
    if box is None:
        return
    f, _ = sweep_f(canvas.grid, box, p, r)
    canvas.paint(box, f < 1, tissue, only_into=only_into, not_into=not_into)


def paint_solid_organs(canvas: Canvas, lay: dict, seed: int) -> None:
    g = canvas.grid
    lo = (g.xs.min() - 20, g.ys.min() - 20, g.zs.min() - 20)
    hi = (g.xs.max() + 20, g.ys.max() + 20, g.zs.max() + 20)
    field = SmoothField(seed, 22.0, lo, hi)
    for _i, kd in enumerate(lay["kidneys"]):
        rot = rotation_zyx(kd["yaw_deg"], kd["pitch_deg"], 0)
        c, r = np.asarray(kd["centre"]), np.asarray(kd["radii"])
        sgn = 1 if kd["side"] == "right" else -1
        # the hilum opens towards the front and the midline: carve the sinus there
        hilum = c + rot @ np.array([-sgn * 0.7 * r[0], 0.2 * r[1], 0])
        paint_blob(canvas, field, c, r, "kidney_cortex", rotation=rot, amp=0.05, halo_mm=4,
                   only_into=CAVITY + ("muscle",))
        paint_blob(canvas, field, c, r * np.array([0.72, 0.72, 0.8]), "kidney_medulla", rotation=rot, amp=0.08,
                   only_into=("kidney_cortex",))
        paint_blob(canvas, field, hilum, r * np.array([0.42, 0.3, 0.4]), "renal_sinus", rotation=rot, amp=0.1,
                   only_into=("kidney_cortex", "kidney_medulla"))
    lv = lay["liver"]
    paint_blob(canvas, field, lv["right"]["centre"], lv["right"]["radii"], "liver", amp=0.06, halo_mm=3)
    paint_blob(canvas, field, lv["left"]["centre"], lv["left"]["radii"], "liver", amp=0.08, halo_mm=3,
               rotation=rotation_zyx(-15, 0, 0))
    gb = lay["gallbladder"]
    if gb["present"]:
        paint_blob(canvas, field, gb["centre"], gb["radii"], "gallbladder", amp=0.04,
                   rotation=rotation_zyx(0, 0, gb["pitch_deg"]), only_into=CAVITY + ("liver",))
    sp = lay["spleen"]
    rot = rotation_zyx(sp["yaw_deg"], 0, 0)
    c, r = np.asarray(sp["centre"]), np.asarray(sp["radii"])
    # the concave visceral surface of the spleen: remove an ellipsoid anteromedial to it
    dent = (c + rot @ np.array([0.95 * r[0], 0.35 * r[1], 0]), r * np.array([0.7, 0.55, 0.8]), rot)
    paint_blob(canvas, field, c, r, "spleen", rotation=rot, amp=0.05, halo_mm=3, minus=[dent],
               only_into=CAVITY + ("muscle",))


def paint_liver_vessels(canvas: Canvas, lay: dict, seed: int) -> None:
    """A few branching portal and hepatic veins inside the liver, for a believable parenchyma."""
    rng = np.random.default_rng(seed)
    lv = lay["liver"]["right"]
    c = np.asarray(lv["centre"], float)
    r = np.asarray(lv["radii"], float)
    hilum = c + np.array([-0.55 * r[0], -0.1 * r[1], -0.45 * r[2]])
    for _ in range(7):
        d = rng.normal(0, 1, 3)
        d[0] = abs(d[0])
        d /= np.linalg.norm(d)
        end = c + d * r * rng.uniform(0.5, 0.85)
        mid = 0.5 * (hilum + end) + rng.normal(0, 8, 3)
        rad = rng.uniform(3.5, 6.0)
        paint_tube(canvas, [hilum, mid, end], [rad, 0.7 * rad, 1.5], "hepatic_vessel", only_into=("liver",))
    ivc_top = np.array([lay["ivc"]["x"], lay["ivc"]["y"], c[2] + 0.6 * r[2]])
    for _ in range(3):  # hepatic veins fan out from the IVC upwards and outwards
        end = ivc_top + np.array([rng.uniform(-60, 80), rng.uniform(10, 60), rng.uniform(-40, 10)])
        paint_tube(canvas, [ivc_top, end], [5.5, 2.0], "hepatic_vessel", only_into=("liver",))
