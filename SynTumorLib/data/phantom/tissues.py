"""Tissue classes of the phantom and their CT numbers in the portal-venous phase (~70 s).

Values are typical of contrast-enhanced abdominal CT (e.g. liver 100–115 HU, pancreas 100–130,
spleen 110–130, renal cortex 150–200, portal vein 160–200, aorta 150–200, fat −120 to −80). Each
case jitters the enhancement a little (``sample_hu``), and the jittered table is recorded.

Example:
    >>> hu = sample_hu(__import__("numpy").random.default_rng(0))
    >>> 90 <= hu["pancreas"] <= 140 and hu["fat_subcut"] < -50
    True
"""

from __future__ import annotations

import numpy as np

# name: (base HU, ± jitter HU, texture sd HU of slow heterogeneity, label value)
TISSUES: dict[str, tuple[float, float, float, int]] = {
    "air": (-1000, 0, 0, 0),
    "fat_subcut": (-105, 8, 6, 0),
    "skin": (35, 8, 4, 0),
    "table_shell": (250, 30, 10, 0),  # CT couch: carbon-fibre skin around a foam core
    "table_core": (-650, 40, 10, 0),
    "muscle": (55, 6, 4, 0),
    "fat_visceral": (-95, 8, 6, 0),
    "fat_plane": (-92, 8, 6, 0),  # fat around organs that bowel loops may not enter
    "liver": (108, 10, 5, 0),
    "spleen": (118, 10, 4, 0),
    "kidney_cortex": (175, 15, 6, 0),
    "kidney_medulla": (150, 12, 6, 0),
    "renal_sinus": (-70, 10, 10, 0),
    "bone_cortical": (780, 60, 60, 0),
    "bone_cancellous": (240, 40, 45, 0),
    "disc": (90, 10, 6, 0),
    "canal": (28, 5, 3, 0),
    "aorta": (170, 20, 2, 0),
    "ivc": (135, 15, 6, 0),
    "portal": (175, 15, 3, 0),  # portal, superior mesenteric and splenic veins
    "artery_small": (165, 20, 3, 0),  # SMA, renal arteries
    "renal_vein": (160, 15, 3, 0),
    "hepatic_vessel": (160, 15, 4, 0),
    "gallbladder": (8, 5, 2, 0),
    "bowel_wall": (85, 10, 6, 0),
    "bowel_fluid": (18, 8, 5, 0),
    "stomach_fluid": (10, 5, 4, 0),
    "stool": (25, 10, 30, 0),
    "gas": (-1000, 0, 0, 0),
    "lung": (-860, 20, 15, 0),
    "pancreas": (118, 10, 4, 1),
    "duct": (20, 5, 2, 1),
    "tumour": (75, 0, 6, 2),  # base only: each tumour sets its own attenuation below the pancreas
}

ID = {name: i for i, name in enumerate(TISSUES)}
LABEL_OF = np.array([v[3] for v in TISSUES.values()], np.uint8)
TEXTURE_SD = np.array([v[2] for v in TISSUES.values()], np.float32)
SOFT = frozenset(ID[n] for n in ("fat_visceral", "fat_plane", "fat_subcut", "muscle"))


def sample_hu(rng: np.random.Generator) -> dict[str, float]:
    """A per-case HU table (enhancement varies between patients and scan timing)."""
    enhancement = rng.uniform(-1.0, 1.0)  # one shared factor: a late or early scan shifts all vessels
    out = {}
    for name, (base, jitter, _, _) in TISSUES.items():
        if name in ("aorta", "portal", "ivc", "artery_small", "renal_vein", "hepatic_vessel", "kidney_cortex"):
            v = base + jitter * (0.7 * enhancement + 0.3 * rng.uniform(-1, 1))
        else:
            v = base + jitter * rng.uniform(-1, 1)
        out[name] = round(float(v), 1)
    return out


def hu_lut(hu: dict[str, float]) -> np.ndarray:
    """HU per tissue id (float32 lookup table)."""
    return np.array([hu[name] for name in TISSUES], np.float32)
