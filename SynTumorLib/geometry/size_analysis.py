"""``syntumor sizes analyze``: derive size classes from the quartiles of real tumour sizes.

What the paper describes and its code lacks: every connected tumour component of a labelled
dataset (canonical label 2) is measured in mm³, turned into an equivalent radius
``r = (3V / 4π)^(1/3)``, and the radii are cut at their quartiles into four classes — tiny (≤ Q1),
small (Q1–Q2), medium (Q2–Q3), large (> Q3). Each class gets ``r_sel`` = the median radius of its
quartile and a semi-axis range from the spread inside the quartile (its 5th–95th percentile, at
least ±10 % of ``r_sel``). σ and count ranges are taken from the ``syntumor`` preset of the same
class name. The result is a size-class JSON that insertion and training read directly.

Example:
    >>> import numpy as np
    >>> r = analyze_radii([("a", 1, 100.0), ("b", 1, 200.0), ("c", 1, 400.0), ("d", 1, 800.0)])
    >>> [round(x, 2) for x in r["quartiles_radius_mm"]]
    [3.44, 4.1, 4.87]
    >>> sorted(r["size_classes"]["classes"])
    ['large', 'medium', 'small', 'tiny']
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..data.labels import TUMOUR, equivalent_radius_mm, tumour_components
from ..utils.errors import InputError
from ..utils.progress import ProgressCallback
from .sizes import CLASS_ORDER, SizeClassSet, load_size_classes


def tumour_volumes_mm3(label: np.ndarray, voxel_volume_mm3: float, tumour_value: int = TUMOUR) -> list[float]:
    """Volumes (mm³) of the tumours (26-connected components, :func:`~SynTumorLib.data.labels.tumour_components`)."""
    return [float(c) * voxel_volume_mm3 for c in tumour_components(label == tumour_value).voxels]


def analyze_radii(tumours: Iterable[tuple[str, int, float]], name: str = "analyzed") -> dict[str, Any]:
    """From ``(case, component, volume_mm3)`` rows to quartiles and a size-class set (as dicts)."""
    rows = [{"case": c, "component": int(k), "volume_mm3": float(v), "radius_mm": float(equivalent_radius_mm(v))}
            for c, k, v in tumours]
    if len(rows) < 4:
        raise InputError(f"need at least 4 tumours to cut size quartiles, found {len(rows)}")
    r = np.array([row["radius_mm"] for row in rows])
    q = np.percentile(r, [25, 50, 75])
    group = np.digitize(r, q, right=True)  # 0: ≤Q1, 1: (Q1,Q2], 2: (Q2,Q3], 3: >Q3
    preset = load_size_classes("syntumor")
    classes = {}
    for g, cname in enumerate(CLASS_ORDER):
        rg = r[group == g]
        if rg.size == 0:  # ties at a cut can empty a quartile: fall back to the cut itself
            rg = np.array([q[min(g, 2)]])
        rsel = float(np.median(rg))
        lo, hi = (float(x) for x in np.percentile(rg, [5, 95]))
        lo, hi = min(lo, 0.9 * rsel), max(hi, 1.1 * rsel)
        base = preset[cname]
        classes[cname] = {"radius_mm": round(rsel, 3), "range_mm": [round(lo, 3), round(hi, 3)],
                          "sigma_mm": list(base.sigma_mm), "count": list(base.count)}
    for row, g in zip(rows, group, strict=True):
        row["class"] = CLASS_ORDER[int(g)]
    sizes = SizeClassSet.from_dict({"name": name, "classes": classes})
    return {
        "n_tumours": len(rows),
        "n_cases": len({row["case"] for row in rows}),
        "quartiles_radius_mm": [float(x) for x in q],
        "quartiles_volume_mm3": [float(x) for x in np.percentile([row["volume_mm3"] for row in rows], [25, 50, 75])],
        "size_classes": sizes.to_dict(),
        "tumours": rows,
    }


def analyze_dataset(dataset, progress: ProgressCallback | None = None, name: str | None = None) -> dict[str, Any]:
    """Measure every tumour of a labelled dataset (path or ``Dataset``) and cut size classes."""
    from ..data.datasets import open_dataset

    ds = open_dataset(dataset) if isinstance(dataset, (str, os.PathLike)) else dataset
    rows: list[tuple[str, int, float]] = []
    cases = ds.cases()
    for n, case in enumerate(cases):
        label = ds.load_label(case)
        if label is not None:
            for k, v in enumerate(tumour_volumes_mm3(label.array, label.voxel_volume_mm3)):
                rows.append((case.case_id, k + 1, v))
        if progress:
            progress((n + 1) / len(cases), case.case_id)
    if not rows:
        raise InputError(f"{getattr(ds, 'root', dataset)}: no tumour (label 2) in any of its {len(cases)} cases")
    out = analyze_radii(rows, name or Path(str(getattr(ds, "root", "dataset"))).name)
    out["source"] = str(getattr(ds, "root", dataset))
    return out


def write_analysis(result: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``size_classes.json``, ``tumours.csv``, ``size_classes.md`` and ``size_histogram.png``."""
    from ..utils.atomic import write_json_atomic, write_text_atomic
    from ..viz import pyplot, save_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "size_classes.json", "csv": out / "tumours.csv",
             "md": out / "size_classes.md", "png": out / "size_histogram.png"}
    sc = dict(result["size_classes"])
    sc["source"] = result.get("source")
    sc["quartiles_radius_mm"] = result["quartiles_radius_mm"]
    write_json_atomic(paths["json"], sc)
    lines = ["case,component,volume_mm3,radius_mm,class"]
    lines += [f"{t['case']},{t['component']},{t['volume_mm3']:.3f},{t['radius_mm']:.4f},{t['class']}" for t in result["tumours"]]
    write_text_atomic(paths["csv"], "\n".join(lines) + "\n")
    q = result["quartiles_radius_mm"]
    sizes = SizeClassSet.from_dict(result["size_classes"])
    md = [f"# Tumour size classes from {result.get('source', 'a dataset')}", "",
          f"{result['n_tumours']} tumours in {result['n_cases']} cases. Equivalent-radius quartiles: "
          f"Q1 {q[0]:.2f} mm, median {q[1]:.2f} mm, Q3 {q[2]:.2f} mm.", "", sizes.table(), ""]
    write_text_atomic(paths["md"], "\n".join(md))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    r = [t["radius_mm"] for t in result["tumours"]]
    ax.hist(r, bins=max(10, min(40, len(r) // 3)), color="0.6", edgecolor="0.3")
    for x, lab in zip(q, ("Q1", "median", "Q3"), strict=True):
        ax.axvline(x, color="crimson", lw=1.2)
        ax.text(x, ax.get_ylim()[1] * 0.95, f" {lab} {x:.1f}", color="crimson", fontsize=8, va="top")
    ax.set_xlabel("equivalent radius (mm)")
    ax.set_ylabel("tumours")
    ax.set_title("tumour sizes and quartile cuts", fontsize=10)
    save_figure(fig, paths["png"])
    return paths
