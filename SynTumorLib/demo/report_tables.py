"""The report's result tables, laid out like the paper's Tables 1–3, the paired comparisons with the
hypothesis sentences, the by-size-class and by-diameter tables and the detection table.

Every DSC / NSD number comes from ``study/results.csv`` — through :mod:`~SynTumorLib.demo.aggregate`
(means, sd, counts) and :mod:`SynTumorLib.experiments.comparisons` (bootstrap intervals, paired
differences, Wilcoxon and Holm) — and the detection and by-diameter numbers from the runs'
``result.json``; every table carries its ``data-source`` and each row its ``data-arm``, so a
reader — or the test — can recompute each figure from those files. The paper's U-Net numbers
(MSD-Pancreas, real CT) are shown beside ours for orientation only.
"""

from __future__ import annotations

import html
from typing import Any

from .aggregate import pct
from .stages_data import LEVELS
from .stages_study import MODEL, SIZE_ARMS

RESULTS = "study/results.csv"
# The paper's U-Net rows (Tables 1 and 3, DSC % / NSD %), for orientation beside the phantom numbers.
PAPER_UNET = {"baseline": (48.48, 43.26), "tiny": (47.92, 43.62), "small": (50.07, 46.45), "medium": (51.32, 47.77),
              "large": (54.84, 49.76), "mixed": (54.49, 49.41), "low": (43.48, 37.90), "moderate": (40.86, 35.31),
              "high": (41.12, 34.94), "extreme": (32.49, 25.10)}
RUNS = "study/runs/*/seed*/result.json"
HEADER = ["Method", "{level}", "DSC (%) [95 % CI]", "NSD (%) [95 % CI]", "n test cases", "lesion sensitivity (%)",
          "paper U-Net DSC (%)", "paper U-Net NSD (%)"]


def _pm(mean: float | None, sd: float | None) -> str:
    return "–" if mean is None else f"{pct(mean)} ± {pct(sd)}"


def ci(b: dict[str, Any]) -> str:
    """A bootstrap result as ``mean [lo, hi]`` in %, 2 decimals (the report's format)."""
    if b["estimate"] is None:
        return "–"
    return pct(b["estimate"]) if b["lo"] is None else f"{pct(b['estimate'])} [{pct(b['lo'])}, {pct(b['hi'])}]"


def _row(arm: str, s: dict[str, Any], iv: dict[str, Any], method: str, level: str, paper_key: str) -> tuple[dict, list[str]]:
    paper = PAPER_UNET.get(paper_key, (None, None))
    return ({"arm": arm}, [method, level, ci(iv[arm]["dsc"]), ci(iv[arm]["nsd"]), str(s["n"]), pct(s["sensitivity"]),
                           "–" if paper[0] is None else f"{paper[0]:.2f}", "–" if paper[1] is None else f"{paper[1]:.2f}"])


def _header(level: str) -> list[str]:
    return [h.format(level=level) for h in HEADER]


def add_paper_tables(section, arms: dict[str, dict[str, Any]], intervals: dict[str, Any], boot: dict[str, int],
                     tolerance_mm: float = 2.0) -> None:
    """Tables 1, 2 and 3 of the paper, with our phantom numbers (one U-Net, scaled down)."""
    base = f"{MODEL}-baseline"
    note = (f"Mean over the test cases with a tumour (each case: its mean over the seeds) with a 95 % CI from a "
            f"hierarchical bootstrap ({boot['n_bootstrap']} resamples of the cases, then of the seeds within each case; "
            f"seed {boot['bootstrap_seed']}); NSD at {tolerance_mm:g} mm (DeepMind definition); source: " + RESULTS + ".")
    section.grouped_table(_header("Tumour size"), [
        ("Without synthetic volumes", [_row(base, arms[base], intervals, "U-Net", "–", "baseline")]),
        ("With synthetic volumes", [_row(f"{MODEL}-size-{s}", arms[f"{MODEL}-size-{s}"], intervals, "U-Net" if i == 0 else "",
                                         s.capitalize(), s) for i, s in enumerate(SIZE_ARMS)]),
    ], RESULTS, "Table 1. Segmentation with synthetic tumours of each size arm. " + note)
    section.grouped_table(_header("Labels"), [
        ("With original labels", [_row(base, arms[base], intervals, "U-Net", "original", "baseline")]),
        ("With noisy labels", [_row(f"{MODEL}-noise-low", arms[f"{MODEL}-noise-low"], intervals, "U-Net", "noisy (low)",
                                    "low")]),
    ], RESULTS, "Table 2. Original vs noisy tumour labels (the paper's Table 2 noisy row is its low level). " + note)
    section.grouped_table(_header("Noise level"), [
        ("With original labels", [_row(base, arms[base], intervals, "U-Net", "–", "baseline")]),
        ("With noisy labels", [_row(f"{MODEL}-noise-{lv}", arms[f"{MODEL}-noise-{lv}"], intervals, "U-Net" if i == 0 else "",
                                    lv.capitalize(), lv) for i, lv in enumerate(LEVELS)]),
    ], RESULTS, "Table 3. Every label-noise level. " + note)


def add_size_class_table(section, by_size: list[dict[str, Any]]) -> None:
    """Per arm × size class of the reference tumour: cases, DSC, NSD, lesion sensitivity."""
    rows = [({"arm": r["arm"], "size-class": r["size_class"]},
             [r["arm"], r["size_class"], str(r["n"]), _pm(r["dsc_mean"], r["dsc_sd"]), _pm(r["nsd_mean"], r["nsd_sd"]),
              f"{r['detected']}/{r['lesions']}", pct(r["sensitivity"])]) for r in by_size]
    section.grouped_table(["Arm", "Size class", "n test cases", "DSC (%)", "NSD (%)", "lesions found", "sensitivity (%)"],
                          [(None, rows)], RESULTS,
                          "By size class of the test case's reference tumour (bins: the demo's quartile classes). "
                          "Source: " + RESULTS + ".")


FAMILIES = (("size", "Table 1: synthetic tumour size arms vs no synthesis"),
            ("noise", "Tables 2–3: noisy labels vs the original labels"))


def add_paired_table(section, comparisons: list[dict[str, Any]], boot: dict[str, int]) -> None:
    """Arm − baseline on the same test cases, with paired CIs, Wilcoxon and Holm; then one sentence per
    hypothesis (the rule of :func:`SynTumorLib.experiments.comparisons.hypothesis_sentence`)."""
    from ..experiments.comparisons import PAIRED_HEADER, paired_cells

    blocks = [(f"{title} (Holm over {sum(c['family'] == fam for c in comparisons)} arms)",
               [({"arm": c["arm"]}, paired_cells(c)) for c in comparisons if c["family"] == fam])
              for fam, title in FAMILIES if any(c["family"] == fam for c in comparisons)]
    section.grouped_table(PAIRED_HEADER, blocks, RESULTS,
                          "Paired comparisons: arm − baseline on the same test cases (and seeds), DSC / NSD points; "
                          f"95 % CI from a paired hierarchical bootstrap ({boot['n_bootstrap']} resamples, seed "
                          f"{boot['bootstrap_seed']}); p: two-sided Wilcoxon signed-rank test of the per-case "
                          "differences; Holm's correction across the arms of one table. Source: " + RESULTS + ".")
    section.paragraph("Each hypothesis in one sentence. 'Support' needs the whole 95 % CI of ΔDSC on the "
                      "hypothesised side of zero and a Holm-adjusted p below 0.05; everything else reads 'do not show'.")
    section.html("<ul class=\"hypotheses\">" + "".join(f"<li data-arm=\"{html.escape(c['arm'])}\" "
                 f"data-verdict=\"{html.escape(c['verdict'])}\">{html.escape(c['sentence'])}</li>" for c in comparisons)
                 + "</ul>")


def add_diameter_table(section, by_diameter: list[dict[str, Any]]) -> None:
    rows = [({"arm": r["arm"], "bin": r["bin"]}, [r["arm"], r["bin"], f"{r['detected']}/{r['lesions']}", pct(r["sensitivity"])])
            for r in by_diameter]
    section.grouped_table(["Arm", "Diameter", "lesions found", "sensitivity (%)"], [(None, rows)], RUNS,
                          "Lesion sensitivity by tumour diameter (equivalent sphere; TextoMorph's bins < 2 cm, 2–5 cm, "
                          "> 5 cm), the same lesion-wise rule as the size-class table. Source: each run's "
                          "summary.by_diameter in " + RUNS + ".")


def add_detection_table(section, det: dict[str, dict[str, Any]], rule: dict[str, Any]) -> None:
    from ..experiments.detection import DETECTION_HEADER, detection_cells

    rows = [({"arm": a}, detection_cells(d)) for a, d in det.items()]
    section.grouped_table(DETECTION_HEADER, [(None, rows)], RUNS,
                          "Detection in PI-CAI's protocol: candidates = 26-connected components of tumour probability ≥ "
                          f"{rule['detection_threshold']:g} of at least {rule['min_lesion_mm3']:g} mm³, confidence = "
                          f"their maximum probability; hit = IoU ≥ {rule['hit_iou']:g}; AUROC: patient level, case "
                          "score = maximum tumour probability, positives = test cases with a tumour; AP and FROC: "
                          "lesion level. Source: detection_cases in " + RUNS + ".")
