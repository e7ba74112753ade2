"""Body wall (skin line, subcutaneous fat, muscle), back and psoas muscles, and the lumbar spine.

Example:
    >>> import numpy as np
    >>> from SynTumorLib.data.phantom.layout import sample_layout
    >>> from SynTumorLib.data.phantom.raster import Grid
    >>> from SynTumorLib.data.phantom.canvas import Canvas
    >>> g = Grid.from_centre((0, 0, 0), (8, 60, 80), (5, 5, 5))
    >>> c = Canvas(g); lay = sample_layout(np.random.default_rng(0))
    >>> paint_body(c, lay, seed=1); c.count("fat_subcut") > 0
    True
"""

from __future__ import annotations

import numpy as np

from .canvas import Canvas
from .texture.noise import SmoothField
from .tissues import ID

WORLD_LO, WORLD_HI = (-260.0, -220.0, -260.0), (260.0, 220.0, 260.0)


def _layer_q(x, y, a, b_front, b_back, p, wobble, thickness):
    """2-D test value of one body layer: a voxel at (x, y) on a slice scaled by ``g`` lies inside
    the layer when ``q(x, y) < g**p``.

    The layer is the superellipse ``|x/a|^p + |y/b|^p = 1`` (b differs front and back) pushed
    outwards by ``thickness`` mm along each ray from the centre and perturbed by ``wobble``.
    Everything is 2-D, so the 3-D work per slice is one comparison — the reason the body is cheap
    even on a clinical grid (``benchmarks/bench_phantom.py``, docs/results/phantom.md).
    """
    b = np.where(y >= 0, b_front, b_back)
    s = np.abs(x / a) ** p + np.abs(y / b) ** p  # rho**p of the base superellipse
    r = np.sqrt(x * x + y * y) + 1e-3
    # along a ray, the boundary moved out by t: rho * (r - t) / r < 1; the wobble shrinks rho
    shrink = np.clip((r - thickness) / r, 0.0, None) / np.clip(1.0 - wobble, 0.5, None)
    return s * shrink**p


def paint_body(canvas: Canvas, lay: dict, seed: int, chunk: int = 32) -> None:
    """Skin, subcutaneous fat, the muscular wall and the abdominal cavity (visceral fat)."""
    g, b = canvas.grid, lay["body"]
    p, m, fat = b["power"], b["muscle_mm"], b["fat_mm"]
    z0 = np.zeros(1)
    wob = 0.025 * SmoothField(seed, 45.0, WORLD_LO, WORLD_HI).sample(g.xs, g.ys, z0)[0]
    fthick = fat * np.clip(1 + 0.25 * SmoothField(seed + 1, 50.0, WORLD_LO, WORLD_HI).sample(g.xs, g.ys, z0)[0], 0.3, None)
    y = g.ys.astype(np.float32)[:, None]
    x = g.xs.astype(np.float32)[None, :]
    a, bf, bb = b["half_width_inner"], b["front_inner"], b["back_inner"]
    # thickness outside the cavity: thinner muscle and fat at the back (the paraspinal muscles are
    # painted separately; the patient lies on it), blended smoothly around the flanks
    back = 1.0 / (1.0 + np.exp(np.clip(y / 25.0, -30, 30)))
    # thinner at the back and at the linea alba between the two rectus muscles
    mus = m * (1 - 0.4 * back) * (1 - 0.6 * np.exp(-((x / 7.0) ** 2)) * (1 - back))
    q_in = _layer_q(x, y, a, bf, bb, p, wob, 0.0)
    q_mus = _layer_q(x, y, a, bf, bb, p, wob, mus)
    skin_in = mus + fthick * (1 - 0.2 * back)
    q_skin = _layer_q(x, y, a, bf, bb, p, wob, skin_in)
    q_out = _layer_q(x, y, a, bf, bb, p, wob, skin_in + 2.0)
    grow = (1 - b["widening_per_100mm"] * g.zs / 100.0) ** p  # flanks widen inferiorly
    ids = np.array([ID["air"], ID["skin"], ID["fat_subcut"], ID["muscle"], ID["fat_visceral"]], np.uint8)
    yy = np.broadcast_to(y, q_out.shape)
    lowest = float(yy[q_out < grow.max()].min()) if (q_out < grow.max()).any() else float(y.min()) - 50
    table = _table(x, y, lowest - 1.0)
    for k0 in range(0, len(g.zs), chunk):
        gk = grow[k0:k0 + chunk].astype(np.float32)[:, None, None]
        level = sum((q < gk).view(np.uint8) for q in (q_out, q_skin, q_mus, q_in))
        t = ids[level]
        # the couch under the patient (only where there is air: a wide patient rests on it)
        t = np.where((t == ID["air"]) & (table > 0)[None], table[None], t).astype(np.uint8)
        canvas.tissue[k0:k0 + chunk] = t
        canvas.delta[k0:k0 + chunk] = 0


def _table(x: np.ndarray, y: np.ndarray, back: float) -> np.ndarray:
    """2-D tissue ids of the CT couch: a shallow cradle whose top touches the patient's back (y = back)."""
    top = back + 0.0008 * x**2
    depth = top - y  # mm below the couch surface
    inside = (depth >= 0) & (depth <= 22) & (np.abs(x) < 230)
    shell = inside & ((depth < 2.5) | (depth > 19.5))
    out = np.zeros(np.broadcast_shapes(x.shape, y.shape), np.uint8)
    out[inside] = ID["table_core"]
    out[shell] = ID["table_shell"]
    return out


def paint_back_muscles(canvas: Canvas, lay: dict) -> None:
    """Erector spinae, quadratus lumborum and psoas muscles (outside the peritoneal cavity)."""
    g, V, sp = canvas.grid, lay["spine"]["y_body"], lay["spine"]
    back = -lay["body"]["back_inner"]
    lamina = V - sp["body_ry"] - 20.0
    for sgn in (1, -1):
        # erector spinae: a rounded rectangle from the laminae back to the posterior wall
        c = (sgn * 36.0, 0.5 * (back + lamina))
        r = (33.0, 0.5 * (lamina - back) + 4)
        box = g.box((c[0] - r[0], c[1] - r[1], -1e4), (c[0] + r[0], c[1] + r[1], 1e4))
        if box is not None:
            _, yy, xx = g.coords(box)
            f = (np.abs((xx - c[0]) / r[0]) ** 2.4 + np.abs((yy - c[1]) / r[1]) ** 2.4) ** (1 / 2.4)
            canvas.paint(box, f < 1, "muscle", only_into=("fat_visceral", "muscle"))
        # quadratus lumborum: lateral to the transverse processes, behind the kidney, thicker below
        c = (sgn * 64.0, lamina + 8)
        box = g.box((c[0] - 28, c[1] - 22, -1e4), (c[0] + 28, c[1] + 22, 1e4))
        if box is not None:
            zz, yy, xx = g.coords(box)
            rx = np.clip(10 + 0.08 * (20 - zz), 5, 22)
            f = np.sqrt(((xx - c[0]) / rx) ** 2 + ((yy - c[1]) / (0.55 * rx + 5)) ** 2)
            canvas.paint(box, f < 1, "muscle", only_into=("fat_visceral",))
        # psoas: beside the vertebral body, small at T12 and growing towards L4
        c = (sgn * (sp["body_rx"] + 14), V - 2)
        box = g.box((c[0] - 32, c[1] - 30, -1e4), (c[0] + 32, c[1] + 30, 1e4))
        if box is not None:
            zz, yy, xx = g.coords(box)
            rad = np.clip(6 + 0.11 * (60 - zz), 2, 24)
            cx = c[0] + sgn * 0.12 * np.clip(20 - zz, 0, None)  # drifts laterally downwards
            f = np.sqrt(((xx - cx) / rad) ** 2 + ((yy - c[1]) / (0.85 * rad)) ** 2)
            canvas.paint(box, f < 1, "muscle", only_into=("fat_visceral", "fat_subcut"))


def paint_spine(canvas: Canvas, lay: dict, seed: int) -> None:
    """Vertebral bodies (cortical shell, cancellous core), discs, posterior arch and spinal canal."""
    g, sp = canvas.grid, lay["spine"]
    V, rx, ry = sp["y_body"], sp["body_rx"], sp["body_ry"]
    box = g.box((-rx - 45, V - ry - 75, -1e4), (rx + 45, V + ry + 3, 1e4))
    if box is None:
        return
    z, y, x = g.coords(box)
    period = sp["level_mm"] + sp["disc_mm"]
    phase = np.mod(z + sp["phase_mm"], period)
    in_disc = np.broadcast_to(phase < sp["disc_mm"], (z.shape[0], 1, 1))
    # vertebral body: an elliptic cylinder slightly concave at the back (where the canal sits)
    f_body = np.sqrt((x / rx) ** 2 + ((y - V) / ry) ** 2)
    canal_c = V - ry - 9.0
    f_canal = np.sqrt((x / 11.0) ** 2 + ((y - canal_c) / 8.5) ** 2)
    f_arch = np.sqrt((x / 18.0) ** 2 + ((y - canal_c + 2) / 15.0) ** 2)
    dist_mid = np.abs(phase - (sp["disc_mm"] + sp["level_mm"] / 2))
    # the spinous process slants down: at each level it sits lower the further back it reaches
    slant = np.abs(phase - sp["disc_mm"] - 0.35 * sp["level_mm"] + 0.25 * (y - canal_c + 8))
    spinous = (np.abs(x) < 4.0 - 0.04 * (canal_c - y)) & (y < canal_c - 8) & (y > canal_c - 42) & (slant < 8)
    transverse = (np.abs(x) < rx + 18 - 0.5 * np.abs(y - canal_c - 4)) & (np.abs(y - (canal_c + 4)) < 3.5)
    posterior = (f_arch < 1) | spinous | (transverse & (dist_mid < 3.5))
    posterior = posterior & ~in_disc
    shell = 1.0 - 2.0 / min(rx, ry)
    trab = SmoothField(seed, 3.0, (-rx - 50, V - ry - 80, g.zs.min() - 5), (rx + 50, V + ry + 5, g.zs.max() + 5))
    tex = 40.0 * trab.sample(*g.box_axes(box))
    body = f_body < 1
    canvas.paint(box, body & in_disc, "disc")
    canvas.paint(box, body & ~in_disc & (f_body >= shell), "bone_cortical")
    canvas.paint(box, body & ~in_disc & (f_body < shell), "bone_cancellous", delta=tex)
    canvas.paint(box, posterior & (f_body >= 1), "bone_cortical", only_into=("fat_visceral", "muscle", "fat_subcut"))
    canvas.paint(box, np.broadcast_to(f_canal < 1, body.shape), "canal")
