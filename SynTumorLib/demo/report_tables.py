"""The report's result tables, laid out like the paper's Tables 1–3, and the by-size-class table.

Every number comes from ``study/results.csv`` through :mod:`~SynTumorLib.demo.aggregate` (the
tables carry ``data-source="study/results.csv"`` and each row its ``data-arm``), so a reader — or
the test — can recompute each figure from that file. The paper's U-Net numbers (MSD-Pancreas, real
CT) are shown beside ours for orientation only.
"""

from __future__ import annotations

from typing import Any

from .aggregate import pct
from .stages_data import LEVELS
from .stages_study import MODEL, SIZE_ARMS

RESULTS = "study/results.csv"
# The paper's U-Net rows (Tables 1 and 3, DSC % / NSD %), for orientation beside the phantom numbers.
PAPER_UNET = {"baseline": (48.48, 43.26), "tiny": (47.92, 43.62), "small": (50.07, 46.45), "medium": (51.32, 47.77),
              "large": (54.84, 49.76), "mixed": (54.49, 49.41), "low": (43.48, 37.90), "moderate": (40.86, 35.31),
              "high": (41.12, 34.94), "extreme": (32.49, 25.10)}
HEADER = ["Method", "{level}", "DSC (%)", "NSD (%)", "n test cases", "lesion sensitivity (%)",
          "paper U-Net DSC (%)", "paper U-Net NSD (%)"]


def _pm(mean: float | None, sd: float | None) -> str:
    return "–" if mean is None else f"{pct(mean)} ± {pct(sd)}"


def _row(arm: str, s: dict[str, Any], method: str, level: str, paper_key: str) -> tuple[dict, list[str]]:
    paper = PAPER_UNET.get(paper_key, (None, None))
    return ({"arm": arm}, [method, level, _pm(s["dsc_mean"], s["dsc_sd"]), _pm(s["nsd_mean"], s["nsd_sd"]),
                           str(s["n"]), pct(s["sensitivity"]),
                           "–" if paper[0] is None else f"{paper[0]:.2f}", "–" if paper[1] is None else f"{paper[1]:.2f}"])


def _header(level: str) -> list[str]:
    return [h.format(level=level) for h in HEADER]


def add_paper_tables(section, arms: dict[str, dict[str, Any]], tolerance_mm: float = 2.0) -> None:
    """Tables 1, 2 and 3 of the paper, with our phantom numbers (one U-Net, scaled down)."""
    base = f"{MODEL}-baseline"
    note = (f"Mean ± sd over the test cases with a tumour (all seeds); NSD at {tolerance_mm:g} mm (DeepMind "
            "definition); source: " + RESULTS + ".")
    section.grouped_table(_header("Tumour size"), [
        ("Without synthetic volumes", [_row(base, arms[base], "U-Net", "–", "baseline")]),
        ("With synthetic volumes", [_row(f"{MODEL}-size-{s}", arms[f"{MODEL}-size-{s}"], "U-Net" if i == 0 else "",
                                         s.capitalize(), s) for i, s in enumerate(SIZE_ARMS)]),
    ], RESULTS, "Table 1. Segmentation with synthetic tumours of each size arm. " + note)
    section.grouped_table(_header("Labels"), [
        ("With original labels", [_row(base, arms[base], "U-Net", "original", "baseline")]),
        ("With noisy labels", [_row(f"{MODEL}-noise-low", arms[f"{MODEL}-noise-low"], "U-Net", "noisy (low)", "low")]),
    ], RESULTS, "Table 2. Original vs noisy tumour labels (the paper's Table 2 noisy row is its low level). " + note)
    section.grouped_table(_header("Noise level"), [
        ("With original labels", [_row(base, arms[base], "U-Net", "–", "baseline")]),
        ("With noisy labels", [_row(f"{MODEL}-noise-{lv}", arms[f"{MODEL}-noise-{lv}"], "U-Net" if i == 0 else "",
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
