"""Pancreatic ductal adenocarcinoma-like "real" tumours (label 2) for the phantom.

* Size: the equivalent-sphere diameter follows a log-normal distribution truncated to 10–70 mm
  (median 27 mm), the long-tailed shape of tumour sizes in MSD Task07, so a quartile analysis of a
  phantom cohort gives four distinct size classes.
* Shape: a lobulated union of 3–4 ellipsoids with a noise-perturbed surface, elongated along the
  gland; tumours thicker than the gland bulge beyond it into the surrounding fat (never into bone,
  gas, bowel or other organs), and vessels painted afterwards keep their lumen.
* Location: head 65 %, body 20 %, tail 15 %; attenuation 25–55 HU below the pancreas, with a
  darker necrotic centre in some large tumours; head tumours dilate the upstream duct.

Every parameter is returned in the plan, so the record of a case reproduces it.

Example:
    >>> import numpy as np
    >>> d = sample_tumour_diameters(np.random.default_rng(0), 1000)
    >>> bool(10 <= d.min() and d.max() <= 70 and d.mean() > np.median(d))
    True
"""

from __future__ import annotations

import numpy as np

from ...utils.errors import InputError
from .canvas import Canvas
from .pancreas import Centreline
from .raster import Grid, ellipsoid_f
from .texture.noise import SmoothField

SIZE_MEDIAN_MM, SIZE_SIGMA, SIZE_RANGE_MM = 27.0, 0.42, (10.0, 70.0)
REGION_PROBS = {"head": 0.65, "body": 0.2, "tail": 0.15}
TUMOUR_INTO = ("pancreas", "duct", "fat_visceral", "fat_plane")


def sample_tumour_diameters(rng: np.random.Generator, n: int, median_mm: float = SIZE_MEDIAN_MM,
                            sigma: float = SIZE_SIGMA, lo: float = SIZE_RANGE_MM[0], hi: float = SIZE_RANGE_MM[1]) -> np.ndarray:
    """Equivalent-sphere diameters (mm) from a log-normal truncated to [lo, hi] by rejection."""
    out = np.empty(0)
    while out.size < n:
        d = rng.lognormal(np.log(median_mm), sigma, size=max(2 * n, 16))
        out = np.concatenate([out, d[(d >= lo) & (d <= hi)]])
    return out[:n]


def plan_tumours(rng: np.random.Generator, cl: Centreline, n: int, diameters=None) -> list[dict]:
    """Choose position, size, shape and attenuation of ``n`` tumours along the centreline."""
    if diameters is not None:
        diameters = [float(d) for d in diameters]
        if len(diameters) != n:
            raise InputError(f"tumour_sizes: {len(diameters)} diameters given for {n} tumours")
        if any(not (2.0 <= d <= 120.0) for d in diameters):
            raise InputError(f"tumour_sizes: diameters must lie in 2–120 mm, got {diameters}")
    else:
        diameters = sample_tumour_diameters(rng, n).tolist()
    ranges = {"tail": (2, cl.body_start), "body": (cl.body_start, cl.neck), "head": (cl.neck, len(cl.points) - 3)}
    plans, used = [], []
    for t in range(n):
        region = str(rng.choice(list(REGION_PROBS), p=list(REGION_PROBS.values())))
        lo, hi = ranges[region]
        idx = int(rng.integers(lo, max(hi, lo + 1)))
        for _ in range(20):  # keep several tumours apart along the gland
            if all(abs(idx - u) * 2.0 > 0.5 * (diameters[t] + du) for u, du in used):
                break
            idx = int(rng.integers(2, len(cl.points) - 3))
        used.append((idx, diameters[t]))
        d = diameters[t]
        r_gland = float(cl.radii[idx])
        r = d / 2
        # elongate along the gland when the tumour is thicker than the gland, by at most 2.2×
        across = min(r, max(1.35 * r_gland, r / 2.2 ** (1 / 3)))
        along = r**3 / across**2
        tangent = cl.tangent(idx)
        side = np.cross(tangent, [0, 0, 1.0])
        side /= np.linalg.norm(side) + 1e-9
        up = np.cross(side, tangent)
        rot = np.column_stack([tangent, side, up])
        centre = cl.points[idx] + rng.normal(0, 0.15 * r_gland, 3)
        lobes = [{"centre": centre.tolist(), "radii": [along, across, across * rng.uniform(0.8, 1.0)]}]
        for _ in range(int(rng.integers(2, 4))):
            off = rot @ (rng.normal(0, 1, 3) * np.array([0.5 * along, 0.45 * across, 0.45 * across]))
            s = rng.uniform(0.4, 0.65)
            lobes.append({"centre": (centre + off).tolist(), "radii": [s * along, s * across, s * across]})
        plans.append({
            "region": cl.region(idx), "centreline_index": idx, "diameter_mm": round(d, 3),
            "rotation": rot.round(6).tolist(), "lobes": lobes, "roughness": float(rng.uniform(0.12, 0.22)),
            "hypo_hu": float(rng.uniform(25, 55)), "necrosis_hu": float(rng.uniform(15, 35)) if d > 35 and rng.uniform() < 0.5 else 0.0,
            "field_seed": int(rng.integers(2**31)),
        })
    return plans


def _tumour_f(grid_axes: tuple[np.ndarray, np.ndarray, np.ndarray], plan: dict, scale: float) -> np.ndarray:
    xs, ys, zs = grid_axes
    g = Grid(xs, ys, zs, (1.0, 1.0, 1.0))
    box = (slice(0, len(zs)), slice(0, len(ys)), slice(0, len(xs)))
    rot = np.asarray(plan["rotation"])
    c0 = np.asarray(plan["lobes"][0]["centre"])
    f = None
    for lobe in plan["lobes"]:
        c = c0 + scale * (np.asarray(lobe["centre"]) - c0)
        fl = ellipsoid_f(g, box, c, np.asarray(lobe["radii"]) * scale, rot)
        f = fl if f is None else np.minimum(f, fl)
    r = plan["diameter_mm"] / 2
    field = SmoothField(plan["field_seed"], max(3.0, 0.35 * r), c0 - 3 * r - 10, c0 + 3 * r + 10)
    return f + np.float32(plan["roughness"]) * field.sample(xs, ys, zs)


def calibrate(plan: dict) -> float:
    """Scale of the lobes that gives the planned equivalent volume (union + roughness measured on
    a fine local lattice; two fixed-point steps)."""
    d = plan["diameter_mm"]
    target = np.pi / 6 * d**3
    c0 = np.asarray(plan["lobes"][0]["centre"])
    scale = 1.0
    for _ in range(2):
        ext = 1.6 * d * scale + 4
        step = max(0.5, d / 16)
        axes = tuple(np.arange(c0[a] - ext, c0[a] + ext, step) for a in range(3))
        vol = float((_tumour_f(axes, plan, scale) < 1).sum()) * step**3
        scale *= (target / max(vol, 1e-6)) ** (1 / 3)
    return float(scale)


def paint_tumour(canvas: Canvas, plan: dict) -> int:
    """Paint one planned tumour; its HU offset (below the pancreas) goes into the delta buffer."""
    g = canvas.grid
    scale = plan.setdefault("scale", round(calibrate(plan), 6))
    c0 = np.asarray(plan["lobes"][0]["centre"])
    ext = 1.6 * plan["diameter_mm"] * scale + 6
    box = g.box(c0 - ext, c0 + ext)
    if box is None:
        return 0
    f = _tumour_f(g.box_axes(box), plan, scale)
    tex = SmoothField(plan["field_seed"] + 1, 4.0, c0 - ext, c0 + ext).sample(*g.box_axes(box))
    delta = -plan["hypo_hu"] + 7.0 * tex
    if plan["necrosis_hu"]:
        delta -= plan["necrosis_hu"] * np.clip(1 - f / 0.55, 0, 1)
    return canvas.paint(box, f < 1, "tumour", delta=delta, only_into=TUMOUR_INTO)


def duct_radii(cl: Centreline, plans: list[dict], rng_dilate: float) -> np.ndarray:
    """Main duct: ~1–1.5 mm; dilated upstream (towards the tail) of a head or neck tumour."""
    n = len(cl.points)
    r = np.linspace(1.0, 1.5, n)
    r[-8:] = np.linspace(1.5, 0.3, 8)  # the duct turns away from the uncinate process
    heads = [p["centreline_index"] for p in plans if p["region"] == "head"]
    if heads:
        stop = max(2, min(heads) - 4)
        r[:stop] = np.minimum(rng_dilate, cl.radii[:stop] * 0.45)
        r[:3] = np.linspace(0.5, r[3], 3)
    return r
