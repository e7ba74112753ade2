"""Draw the SynTumor module icons (Resources/Icons/<Module>.png, 128×128).

Each icon is an axial CT slice in outline (body, a green pancreas) plus a mark for what the
module does: a red tumour (insertion), a jagged yellow contour (label noise), a dashed prediction
contour (segmentation). Deterministic, so re-running gives identical files.

    python tools/make_module_icons.py            # writes all icons
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Ellipse, Polygon  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PANCREAS = (0.40, 0.74, 0.38)
TUMOUR = (0.72, 0.24, 0.16)
NOISY = (0.98, 0.76, 0.20)
MODULES = ("SynTumorInsertion", "SynTumorLabelNoise", "SynTumorSegmentation")


def _pancreas_outline(n: int = 60) -> np.ndarray:
    t = np.linspace(-1, 1, n)
    x = 64 + 34 * t
    y = 70 + 10 * np.sin(2.2 * t)
    top = np.c_[x, y + 7 - 3 * t]
    bottom = np.c_[x[::-1], (y - 7 + 3 * t)[::-1]]
    return np.vstack([top, bottom])


def draw(module: str, out: Path) -> Path:
    fig = plt.figure(figsize=(1.28, 1.28), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 128)
    ax.set_ylim(0, 128)
    ax.axis("off")
    ax.add_patch(Ellipse((64, 64), 118, 96, facecolor=(0.28, 0.28, 0.30), edgecolor=(0.85, 0.85, 0.85), lw=2))
    ax.add_patch(Ellipse((64, 40), 20, 16, facecolor=(0.92, 0.92, 0.90), lw=0))  # vertebra
    outline = _pancreas_outline()
    ax.add_patch(Polygon(outline, closed=True, facecolor=PANCREAS, edgecolor="white", lw=1))
    if module == "SynTumorInsertion":
        ax.add_patch(Ellipse((74, 72), 22, 18, facecolor=TUMOUR, edgecolor="white", lw=1.2))
        ax.plot([74, 74], [96, 108], color="white", lw=3)
        ax.plot([68, 80], [102, 102], color="white", lw=3)
    elif module == "SynTumorLabelNoise":
        ax.add_patch(Ellipse((70, 70), 20, 16, facecolor=TUMOUR, lw=0))
        rng = np.random.default_rng(7)
        a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        r = 13 + rng.normal(0, 2.5, a.size)
        ax.add_patch(Polygon(np.c_[70 + r * np.cos(a), 70 + 0.8 * r * np.sin(a)], closed=True, fill=False,
                             edgecolor=NOISY, lw=2.2))
    elif module == "SynTumorSegmentation":
        ax.add_patch(Ellipse((70, 70), 20, 16, facecolor=TUMOUR, lw=0))
        ax.add_patch(Ellipse((70, 70), 28, 23, fill=False, edgecolor="white", lw=2, ls=(0, (3, 2))))
    else:
        raise ValueError(f"unknown module {module}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, transparent=True, metadata={"Software": None})
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=REPO / "SynTumor", help="folder holding the module folders")
    args = p.parse_args(argv)
    for module in MODULES:
        print(draw(module, args.root / module / "Resources" / "Icons" / f"{module}.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
