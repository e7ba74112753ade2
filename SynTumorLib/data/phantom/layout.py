"""Anatomy parameters of one phantom case, drawn from a seed.

All positions are RAS millimetres (x → patient's right, y → anterior, z → superior) with the
origin on the body's midline at the level of the pancreatic body. Organ positions are laid out
relative to the front of the spine, so a bigger or smaller body moves the wall, not the
retroperitoneum. The dict returned is JSON-able and is stored in every case's record.

Example:
    >>> import numpy as np
    >>> a = sample_layout(np.random.default_rng(0))
    >>> a["spine"]["y_body"] < 0 < a["body"]["front_inner"]
    True
"""

from __future__ import annotations

import numpy as np


def _r(x: float) -> float:
    return round(float(x), 3)


def _pts(arr) -> list[list[float]]:
    return [[_r(v) for v in p] for p in np.asarray(arr, float)]


def sample_layout(rng: np.random.Generator) -> dict:
    """Draw every anatomy parameter of a case (sizes, positions, shape of the pancreas)."""
    u = rng.uniform
    V = u(-26, -14)  # y of the vertebral-body centre
    body = {
        "half_width_inner": _r(u(112, 135)),
        "front_inner": _r(u(78, 100)),
        "back_inner": _r(-V + u(72, 80)),
        "power": _r(u(2.1, 2.6)),
        "muscle_mm": _r(u(7, 13)),
        "fat_mm": _r(u(8, 42)),
        "widening_per_100mm": _r(u(-0.06, 0.02)),  # flanks widen inferiorly in most people
    }
    spine = {"y_body": _r(V), "body_rx": _r(u(19, 24)), "body_ry": _r(u(14, 18)),
             "level_mm": _r(u(26, 32)), "disc_mm": _r(u(6, 9)), "phase_mm": _r(u(0, 30))}
    ry = spine["body_ry"]
    r_ao = u(9, 12)
    aorta = {"x": _r(u(-18, -10)), "y": _r(V + ry + 1.5 + r_ao), "r": _r(r_ao)}
    ivc = {"x": _r(u(20, 28)), "y": _r(V + ry + u(6, 10)), "rx": _r(u(11, 15)), "ry": _r(u(7, 10))}

    # pancreas centreline, tail → neck → head → uncinate (y relative to the spine, jittered)
    base = np.array([
        [-88, 20, 22], [-72, 32, 18], [-50, 48, 12], [-25, 62, 7], [5, 66, 3],
        [26, 60, -6], [32, 54, -18], [27, 47, -30], [12, 40, -36], [2, 38, -38],
    ], float)
    base[:, 1] += V
    tail_lift = u(-8, 16)  # the tail rises towards the splenic hilum by a varying amount
    frac = np.clip((5 - base[:, 0]) / 93.0, 0, 1)  # 1 at the tail tip, 0 at the neck and head
    base[:, 2] += tail_lift * frac
    yaw = np.deg2rad(u(-8, 8))
    c, s = np.cos(yaw), np.sin(yaw)
    neck = base[4].copy()
    xy = base[:, :2] - neck[:2]
    base[:, :2] = neck[:2] + xy @ np.array([[c, s], [-s, c]])
    base += rng.normal(0, 2.0, base.shape) * np.array([1, 1, 1.5])
    scale = u(0.85, 1.15)
    radii = np.array([7, 10, 10.5, 10, 9, 13.5, 15, 13.5, 8.5, 5.5]) * scale * rng.uniform(0.9, 1.1, 10)
    pancreas = {"centreline": _pts(base), "radii": [_r(v) for v in radii], "scale": _r(scale),
                "tail_lift_mm": _r(tail_lift), "yaw_deg": _r(np.rad2deg(yaw)),
                "lobulation": _r(u(0.08, 0.16)), "fat_infiltration": _r(u(0.0, 0.2))}

    kid = []
    for side, zc in (("right", u(-32, -18)), ("left", u(-16, -4))):
        sgn = 1 if side == "right" else -1
        kid.append({"side": side, "centre": [_r(sgn * u(66, 78)), _r(V + u(-4, 6)), _r(zc)],
                    "radii": [_r(u(22, 27)), _r(u(19, 24)), _r(u(48, 60))],
                    "yaw_deg": _r(sgn * u(20, 40)), "pitch_deg": _r(sgn * u(-15, -5))})
    liver = {"right": {"centre": [_r(u(80, 92)), _r(V + u(30, 42)), _r(u(58, 70))],
                       "radii": [_r(u(70, 82)), _r(u(85, 95)), _r(u(74, 86))]},
             "left": {"centre": [_r(u(0, 20)), _r(V + u(80, 92)), _r(u(62, 78))],
                      "radii": [_r(u(50, 68)), _r(u(28, 38)), _r(u(32, 44))]}}
    tail = base[0]
    spleen = {"centre": [_r(tail[0] - u(8, 16)), _r(tail[1] - u(22, 32)), _r(tail[2] + u(18, 30))],
              "radii": [_r(u(17, 23)), _r(u(34, 44)), _r(u(42, 55))], "yaw_deg": _r(u(-40, -20))}
    gall = {"centre": [_r(u(42, 56)), _r(V + u(95, 108)), _r(u(0, 15))],
            "radii": [_r(u(11, 16)), _r(u(12, 18)), _r(u(25, 38))], "pitch_deg": _r(u(10, 30)),
            "present": bool(rng.uniform() < 0.85)}
    stomach = {"centreline": _pts(np.array([[-55, 45, 105], [-55, 72, 65], [-35, 100, 38], [0, 108, 22],
                                            [20, 96, 20], [36, 82, 16]]) + [0, V, 0] + rng.normal(0, 3, (6, 3))),
               "radii": [_r(v) for v in np.array([36, 36, 28, 19, 12, 11]) * u(0.8, 1.1)],
               "gas_fraction": _r(u(0.1, 0.5)), "wall_mm": _r(u(3, 5))}
    duod = np.array([[36, 82, 16], [52, 66, 6], [56, 52, -10], [54, 46, -35], [40, 44, -50],
                     [15, 48, -53], [-10, 54, -50], [-28, 56, -40], [-36, 64, -22]], float)
    duod[:, 1] += V
    duodenum = {"centreline": _pts(duod + rng.normal(0, 1.5, duod.shape)), "radius": _r(u(9, 12)),
                "wall_mm": _r(u(2, 3)), "gas_fraction": _r(u(0.0, 0.4))}
    colon = np.array([[80, 40, -130], [84, 42, -40], [72, 70, -8], [30, 100, -28], [-20, 100, -26],
                      [-65, 85, -5], [-86, 52, 18], [-94, 28, -20], [-94, 28, -130]], float)
    colon[:, 1] += V
    colon[:, :2] += rng.normal(0, 4, (len(colon), 2))
    colon_p = {"centreline": _pts(colon), "radius": _r(u(17, 23)), "wall_mm": 2.5,
               "stool_fraction": _r(u(0.2, 0.8))}
    ribs = {"z_top": _r(u(85, 105)), "gap_mm": _r(u(24, 30)), "drop_mm_per_deg": _r(u(0.55, 0.8)),
            "radius": _r(u(4.0, 5.5))}
    lung = {"z_base": _r(u(55, 80)), "slope": _r(u(0.3, 0.6))}
    return {"body": body, "spine": spine, "ribs": ribs, "lung": lung, "aorta": aorta, "ivc": ivc, "pancreas": pancreas,
            "kidneys": kid, "liver": liver, "spleen": spleen, "gallbladder": gall, "stomach": stomach,
            "duodenum": duodenum, "colon": colon_p, "small_bowel_seed": int(rng.integers(2**31)),
            "vessel_seed": int(rng.integers(2**31))}
