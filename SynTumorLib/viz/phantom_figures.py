"""Figures that show what the built-in phantom looks like (used for the README images).

Example::

    from SynTumorLib.viz.phantom_figures import save_phantom_figures
    save_phantom_figures("docs/img", seed=5)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.phantom import generate_case
from .overlay import save_gallery_png


def save_phantom_figures(out_dir: str | os.PathLike, seed: int = 5, spacing: float = 1.5) -> list[Path]:
    """Write ``phantom_overview.png`` (axial levels + coronal of one case, with and without labels),
    ``phantom_pancreas.png`` (zoom on the pancreas and its tumour) and ``phantom_seeds.png`` (the
    same level for four seeds: the anatomy varies)."""
    out = Path(out_dir)
    im, lab, info = generate_case(seed, spacing=(spacing,) * 3, tumours=1)
    levels = (90, 50, 20, 0, -20, -50)
    panels = [{"image": im, "label": None, "plane": "axial", "index": int(round(im.ras_to_kji([0, 0, z])[0])),
               "title": f"axial, {z:+d} mm"} for z in levels]
    c = np.argwhere(lab.array > 0).mean(axis=0).astype(int)
    panels += [{"image": im, "label": None, "plane": "coronal", "index": int(c[1]), "title": "coronal"},
               {"image": im, "label": lab, "plane": "coronal", "index": int(c[1]), "title": "coronal + labels",
                "contour_only": True}]
    paths = [save_gallery_png(panels, out / "phantom_overview.png", ncols=4,
                              title=f"Phantom seed {seed}: {spacing} mm, pancreas {info['pancreas_ml']:.0f} mL, "
                                    f"tumour {info['tumour_ml']:.1f} mL ({info['tumours'][0]['region']})")]
    idx = np.argwhere(lab.array > 0)
    lo, hi = np.maximum(idx.min(0) - 12, 0), idx.max(0) + 12
    ci, cl = im.crop(tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))), lab.crop(
        tuple(slice(a, b) for a, b in zip(lo, hi, strict=True)))
    t = np.argwhere(cl.array == 2).mean(axis=0).astype(int)
    p = np.argwhere(cl.array == 1)
    body_k = int(np.median(p[p[:, 2] > np.median(p[:, 2]), 0]))  # a level through body/tail
    zoom = [{"image": ci, "label": None, "plane": "axial", "index": int(t[0]), "title": "tumour level"},
            {"image": ci, "label": cl, "plane": "axial", "index": int(t[0]), "title": "labels", "contour_only": True},
            {"image": ci, "label": None, "plane": "axial", "index": body_k, "title": "body / tail level"},
            {"image": ci, "label": cl, "plane": "axial", "index": body_k, "title": "labels", "contour_only": True}]
    paths.append(save_gallery_png(zoom, out / "phantom_pancreas.png", ncols=4,
                                  title="Pancreas (green) and a hypodense tumour (red); right: body and tail level"))
    seeds = []
    for s in range(seed, seed + 4):
        im2, lab2, info2 = generate_case(s, spacing=(2.0,) * 3)
        k = int(np.round(np.argwhere(lab2.array > 0)[:, 0].mean()))
        seeds.append({"image": im2, "label": lab2, "plane": "axial", "index": k, "contour_only": True,
                      "title": f"seed {s}: pancreas {info2['pancreas_ml']:.0f} mL"})
    paths.append(save_gallery_png(seeds, out / "phantom_seeds.png", ncols=4, title="Anatomy varies with the seed"))
    return paths
