"""A study's detection results per arm: patient-level AUROC, lesion-level average precision and the
FROC (sensitivity at 1/8 … 8 false positives per case), from the candidates every run stored in its
``result.json`` (``detection_cases``; rules in :mod:`SynTumorLib.metrics.detection`).

An arm's numbers **pool its runs**: every test case of every seed (and fold) is one case of the
FROC, the AP and the AUROC — so with several seeds the false positives per case are per case and
run, and a curve stays one curve. Arms without probability maps (the nnU-Net arms) have none.

Example:
    >>> cases = [{"score": 0.9, "has_tumour": True, "lesions": [{"hit": True, "confidence": 0.9, "diameter_mm": 12.0}],
    ...           "candidates": [{"confidence": 0.9, "kind": "tp"}]},
    ...          {"score": 0.3, "has_tumour": False, "lesions": [], "candidates": [{"confidence": 0.3, "kind": "fp"}]}]
    >>> r = arm_detection([{"arm": "a", "detection_cases": cases}], ["a"])["a"]
    >>> r["auroc"], r["average_precision"], r["sensitivity_at"]["1"]
    (1.0, 1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..metrics.detection import FP_PER_CASE, auroc, average_precision, froc

DETECTION_COLUMNS = ["arm", "n_runs", "n_cases", "n_positive_cases", "n_lesions", "n_candidates", "auroc",
                     "average_precision"] + [f"sens_at_{x:g}_fp" for x in FP_PER_CASE]


def compact_cases(cases: Sequence[dict]) -> list[dict[str, Any]]:
    """What a run keeps of :func:`~SynTumorLib.metrics.detection.case_detection` results: enough to
    recompute FROC, AP and AUROC (not the voxel counts)."""
    return [{"case": c["case"], "score": c["score"], "has_tumour": c["has_tumour"],
             "lesions": [{k: le[k] for k in ("hit", "confidence", "iou", "diameter_mm")} for le in c["lesions"]],
             "candidates": [{k: x[k] for k in ("confidence", "kind", "volume_mm3")} for x in c["candidates"]]}
            for c in cases]


def arm_detection(results: Sequence[dict], arm_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per arm with detection results: pooled AUROC, AP, FROC (see the module doc)."""
    out = {}
    for arm in arm_ids:
        runs = [r for r in results if r["arm"] == arm and r.get("detection_cases") is not None]
        cases = [c for r in runs for c in r["detection_cases"]]
        if not cases:
            continue
        f = froc(cases)
        out[arm] = {"arm": arm, "n_runs": len(runs), "n_cases": len(cases),
                    "n_positive_cases": sum(1 for c in cases if c["has_tumour"]), "n_lesions": f["n_lesions"],
                    "n_candidates": sum(len(c["candidates"]) for c in cases),
                    "auroc": auroc([c["score"] for c in cases], [c["has_tumour"] for c in cases]),
                    "average_precision": average_precision(cases), "sensitivity_at": f["sensitivity_at"],
                    "froc": {k: f[k] for k in ("sensitivity", "fp_per_case")}}
    return out


def detection_rows(det: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat rows for ``detection.csv``."""
    return [{**{k: d[k] for k in DETECTION_COLUMNS[:8]},
             **{f"sens_at_{x:g}_fp": d["sensitivity_at"][f"{x:g}"] for x in FP_PER_CASE}} for d in det.values()]


def _f(x: float | None, pct: bool = False) -> str:
    return "–" if x is None else (f"{100 * x:.1f}" if pct else f"{x:.3f}")


DETECTION_HEADER = ["Arm", "cases (with tumour)", "lesions", "AUROC", "AP"] + [f"sens. @ {x:g} FP (%)" for x in FP_PER_CASE]


def detection_cells(d: dict[str, Any]) -> list[str]:
    return ([d["arm"], f"{d['n_cases']} ({d['n_positive_cases']})", str(d["n_lesions"]), _f(d["auroc"]),
             _f(d["average_precision"])] + [_f(d["sensitivity_at"][f"{x:g}"], pct=True) for x in FP_PER_CASE])


def detection_markdown(det: dict[str, dict[str, Any]], rule: dict[str, Any]) -> str:
    if not det:
        return ""
    lines = ["## Detection (PI-CAI protocol)", "",
             f"Candidates: 26-connected components of tumour probability ≥ {rule['detection_threshold']:g} of at least "
             f"{rule['min_lesion_mm3']:g} mm³, confidence = their maximum probability; hit = IoU ≥ {rule['hit_iou']:g}. "
             "AUROC: patient level, case score = maximum tumour probability (needs tumour-free test cases). "
             "Runs pooled: each test case of each seed is one case.", "",
             "| " + " | ".join(DETECTION_HEADER) + " |", "|" + "---|" * len(DETECTION_HEADER)]
    lines += ["| " + " | ".join(detection_cells(d)) + " |" for d in det.values()]
    return "\n".join(lines) + "\n"


def plot_froc(det: dict[str, dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """FROC curves of every arm (sensitivity vs false positives per case, log axis 1/8 … 8); PNG."""
    from ..viz import pyplot, save_figure  # the one figure helper: Agg backend, atomic write, closed

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for n, (arm, d) in enumerate(det.items()):
        fpc, sens = d["froc"]["fp_per_case"], d["froc"]["sensitivity"]
        if not fpc or sens[0] is None:
            continue
        # a step curve: each operating point holds until the next threshold adds detections
        xs = [min(fpc[0], FP_PER_CASE[0])] + list(fpc) + [max(FP_PER_CASE[-1], fpc[-1])]
        ys = [0.0 if fpc[0] > FP_PER_CASE[0] else sens[0]] + list(sens) + [sens[-1]]
        ax.step([max(x, 1e-3) for x in xs], [100 * y for y in ys], where="post", lw=1.4,
                ls="-" if n < 10 else "--", label=arm)
    ax.set_xscale("log", base=2)
    ax.set_xlim(FP_PER_CASE[0] / 1.5, FP_PER_CASE[-1] * 1.5)
    ax.set_xticks(list(FP_PER_CASE), ["1/8", "1/4", "1/2", "1", "2", "4", "8"])
    ax.set_ylim(0, 102)
    ax.set_xlabel("false positives per case")
    ax.set_ylabel("lesion sensitivity (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
