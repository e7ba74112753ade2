#!/usr/bin/env python3
"""Draw the SynTumor extension icon (Resources/Icons/SynTumor.png, 128×128, transparent background):
an axial CT-like slice with a green pancreas and a red tumour, the overlay colours the library uses.

Usage:
    python tools/make_icons.py [--out Resources/Icons/SynTumor.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def draw(out: Path, size: int = 128) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Ellipse, PathPatch
    from matplotlib.path import Path as MplPath

    fig = plt.figure(figsize=(size / 100, size / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    fig.patch.set_alpha(0)
    # body outline, fat rim and soft tissue: the grey levels of a [-175, 250] HU window
    ax.add_patch(Ellipse((0.5, 0.5), 0.96, 0.76, color="#5a5a5a"))
    ax.add_patch(Ellipse((0.5, 0.5), 0.86, 0.66, color="#8c8c8c"))
    ax.add_patch(Ellipse((0.5, 0.30), 0.12, 0.11, color="#f2f2f2"))  # vertebra
    ax.add_patch(Circle((0.56, 0.41), 0.045, color="#c8c8c8"))  # aorta
    ax.add_patch(Ellipse((0.26, 0.52), 0.30, 0.36, color="#a0a0a0"))  # liver
    # pancreas: a thick curved band from head (patient right = image left) to tail
    t = np.linspace(0, 1, 40)
    x = 0.30 + 0.45 * t
    y = 0.50 + 0.10 * np.sin(np.pi * t) + 0.04 * t
    w = 0.075 - 0.03 * t
    upper = np.column_stack([x, y + w])
    lower = np.column_stack([x, y - w])[::-1]
    verts = np.vstack([upper, lower, upper[:1]])
    codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(verts) - 2) + [MplPath.CLOSEPOLY]
    ax.add_patch(PathPatch(MplPath(verts, codes), facecolor=(0.2, 0.85, 0.3), edgecolor="#1d6b2a", lw=1.2))
    ax.add_patch(Circle((0.47, 0.585), 0.075, facecolor=(0.95, 0.15, 0.1), edgecolor="#7a0c06", lw=1.2))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=100, transparent=True)
    plt.close(fig)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "Resources" / "Icons" / "SynTumor.png")
    print(draw(p.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
