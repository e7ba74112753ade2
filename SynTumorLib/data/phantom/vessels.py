"""The great vessels and the mesenteric, portal and renal veins, placed relative to the spine and
the pancreas (aorta anterior-left of the spine, IVC to its right, SMA behind the pancreatic neck,
SMV to the right of the SMA, splenic vein along the back of the gland, portal vein to the liver).

Example:
    >>> import numpy as np
    >>> from SynTumorLib.data.phantom.layout import sample_layout
    >>> from SynTumorLib.data.phantom.pancreas import pancreas_centreline
    >>> lay = sample_layout(np.random.default_rng(0))
    >>> paths = vessel_paths(lay, pancreas_centreline(lay))
    >>> sorted(paths)[:3]
    ['left_renal_vein', 'portal_vein', 'right_renal_vein']
"""

from __future__ import annotations

import numpy as np

from .canvas import Canvas
from .organs import paint_tube
from .pancreas import Centreline, splenic_vein_path
from .raster import ellipsoid_f

R_SPLENIC_VEIN = 4.5


def vessel_paths(lay: dict, cl: Centreline) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """Centrelines, radii and tissue of the tubular vessels (the aorta and IVC are cylinders)."""
    rng = np.random.default_rng(lay["vessel_seed"])
    ao, V = lay["aorta"], lay["spine"]["y_body"]
    sv = splenic_vein_path(cl, lay, R_SPLENIC_VEIN)
    conf = sv[-1]
    neck_z = cl.points[cl.neck][2]
    out = {"splenic_vein": (sv, np.full(len(sv), R_SPLENIC_VEIN), "portal")}
    smv = np.array([conf, conf + [1.5, 5, -35], [conf[0] + 3, V + 76, -90], [conf[0] + 4, V + 78, -160]])
    out["smv"] = (smv, np.array([7.0, 6.0, 5.5, 5.0]), "portal")
    hil = np.asarray(lay["liver"]["right"]["centre"], float) + [-35, -12, -30]
    pv = np.array([conf, conf + [12, -4, 14], hil])
    out["portal_vein"] = (pv, np.array([7.5, 7.0, 6.0]), "portal")
    z0 = neck_z + rng.uniform(8, 14)
    top = np.array([ao["x"], ao["y"] + ao["r"] - 3, z0])
    sma = np.array([top, [ao["x"] + 2, conf[1] - 10, neck_z - 8], [ao["x"] + 4, V + 72, -55],
                    [ao["x"] + 6, V + 74, -160]])
    out["sma"] = (sma, np.array([4.5, 4.2, 3.8, 3.0]), "artery_small")
    # splenic artery: along the upper border of body and tail, tortuous
    idx = np.arange(0, cl.neck + 1, 4)
    wig = np.sin(np.linspace(0, rng.uniform(3, 6) * np.pi, len(idx)))[:, None] * [0, 4, 0]
    spa = cl.points[idx] + np.column_stack([np.zeros(len(idx)), -0.3 * cl.radii[idx],
                                            cl.radii[idx] + 3]) + wig
    spa = np.vstack([spa, [ao["x"], ao["y"] + ao["r"], z0 + 12]])
    out["splenic_artery"] = (spa, np.full(len(spa), 2.5), "artery_small")
    ivc = lay["ivc"]
    for kd in lay["kidneys"]:
        c = np.asarray(kd["centre"], float)
        sgn = 1 if kd["side"] == "right" else -1
        hilum = c + [-sgn * 0.5 * kd["radii"][0], 6, 0]
        if kd["side"] == "left":  # passes in front of the aorta, under the SMA
            path = [hilum, [ao["x"] - 12, ao["y"] + ao["r"] + 3, c[2] + 4], [ao["x"] + 8, ao["y"] + ao["r"] + 3, c[2] + 6],
                    [ivc["x"], ivc["y"], c[2] + 8]]
        else:
            path = [hilum, [ivc["x"], ivc["y"], c[2] + 6]]
        out[f"{kd['side']}_renal_vein"] = (np.asarray(path, float), np.full(len(path), 4.5), "renal_vein")
    return out


def paint_vessels(canvas: Canvas, lay: dict, cl: Centreline) -> None:
    g = canvas.grid
    ao, ivc = lay["aorta"], lay["ivc"]
    zlo, zhi = g.zs.min() - 5, g.zs.max() + 5
    box = g.box((ao["x"] - ao["r"] - 1, ao["y"] - ao["r"] - 1, zlo), (ao["x"] + ao["r"] + 1, ao["y"] + ao["r"] + 1, zhi))
    if box is not None:
        canvas.paint(box, ellipsoid_f(g, box, (ao["x"], ao["y"], 0), (ao["r"], ao["r"], 1e5)) < 1, "aorta")
    box = g.box((ivc["x"] - ivc["rx"] - 1, ivc["y"] - ivc["ry"] - 1, zlo), (ivc["x"] + ivc["rx"] + 1, ivc["y"] + ivc["ry"] + 1, zhi))
    if box is not None:
        canvas.paint(box, ellipsoid_f(g, box, (ivc["x"], ivc["y"], 0), (ivc["rx"], ivc["ry"], 1e5)) < 1, "ivc",
                     not_into=("bone_cortical", "bone_cancellous"))
    keep = ("bone_cortical", "bone_cancellous", "disc", "aorta", "kidney_cortex", "kidney_medulla")
    for name, (pts, rad, tissue) in vessel_paths(lay, cl).items():
        paint_tube(canvas, pts, rad, tissue, not_into=keep if "renal" not in name else keep[:4])


def paint_mesenteric_branches(canvas: Canvas, lay: dict, cl: Centreline) -> None:
    """Jejunal and ileal branches of the SMA/SMV fanning out through the mesenteric fat (painted
    after the bowel, into fat only, so they run between the loops)."""
    rng = np.random.default_rng(lay["vessel_seed"] + 1)
    paths = vessel_paths(lay, cl)
    V = lay["spine"]["y_body"]
    for trunk, tissue in (("smv", "portal"), ("sma", "artery_small")):
        pts, _, _ = paths[trunk]
        z_hi = float(cl.points[cl.neck][2]) - 15
        for _ in range(int(rng.integers(5, 9))):
            z0 = rng.uniform(-110, z_hi)
            t = np.clip((pts[0, 2] - z0) / max(pts[0, 2] - pts[-1, 2], 1e-6), 0, 1)
            start = pts[0] + t * (pts[-1] - pts[0])
            start[2] = z0
            end = np.array([rng.uniform(-90, 60), rng.uniform(V + 60, V + 115), z0 + rng.uniform(-50, 10)])
            mid = 0.5 * (start + end) + rng.normal(0, 10, 3)
            paint_tube(canvas, [start, mid, end], [2.2, 1.6, 1.0], tissue, only_into=("fat_visceral",))
