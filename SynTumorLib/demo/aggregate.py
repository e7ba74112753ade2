"""Aggregates of a study's ``results.csv`` (one row per arm × seed × test case) — the only source of
the report's DSC / NSD / sensitivity numbers, so every figure in it can be recomputed from that file.

Rules (the study's, ``experiments.tables``): tumour DSC and NSD are averaged over test cases whose
reference has a tumour (``ref_has_tumour`` = 1), pooled over seeds; the ± is the sample standard
deviation (0 for one case); lesion sensitivity pools detected lesions over all cases; numbers are
percentages rounded to 2 decimals when shown.

Example:
    >>> rows = [{"arm": "a", "tumour_dice": 0.5, "tumour_nsd": 0.4, "ref_has_tumour": True, "n_ref_lesions": 1,
    ...          "lesion_tp": 1, "lesion_fp": 0, "size_class": "small", "pancreas_dice": 0.8},
    ...         {"arm": "a", "tumour_dice": 0.7, "tumour_nsd": 0.6, "ref_has_tumour": True, "n_ref_lesions": 1,
    ...          "lesion_tp": 0, "lesion_fp": 2, "size_class": "large", "pancreas_dice": 0.9}]
    >>> r = arm_summary(rows)["a"]
    >>> pct(r["dsc_mean"]), pct(r["dsc_sd"]), r["n"], r["sensitivity"]
    ('60.00', '14.14', 2, 0.5)
"""

from __future__ import annotations

import csv
import math
import os
import statistics
from collections.abc import Iterable
from typing import Any

INT_COLUMNS = ("n_ref_lesions", "lesion_tp", "lesion_fp")
FLOAT_COLUMNS = ("tumour_dice", "tumour_nsd", "pancreas_dice", "tumour_hd95", "ref_tumour_ml", "pred_tumour_ml")


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of ``results.csv`` with numbers parsed (empty → None, ``inf`` → inf, flags → bool)."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            r: dict[str, Any] = dict(row)
            for c in FLOAT_COLUMNS:
                r[c] = float(row[c]) if row.get(c) not in (None, "") else None
            for c in INT_COLUMNS:
                r[c] = int(row[c]) if row.get(c) not in (None, "") else 0
            r["ref_has_tumour"] = row.get("ref_has_tumour") == "1"
            out.append(r)
    return out


def _mean_sd(values: Iterable[float | None]) -> tuple[float | None, float | None, int]:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None, None, 0
    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0), len(v)


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    tum = [r for r in rows if r["ref_has_tumour"]]
    dm, ds, n = _mean_sd(r["tumour_dice"] for r in tum)
    nm, ns, _ = _mean_sd(r["tumour_nsd"] for r in tum)
    lesions = sum(r["n_ref_lesions"] for r in rows)
    tp = sum(r["lesion_tp"] for r in rows)
    pm, _, _ = _mean_sd(r["pancreas_dice"] for r in rows)
    return {"dsc_mean": dm, "dsc_sd": ds, "nsd_mean": nm, "nsd_sd": ns, "n": n, "lesions": lesions, "detected": tp,
            "sensitivity": tp / lesions if lesions else None, "fp_per_case": (sum(r["lesion_fp"] for r in rows) /
                                                                               len(rows)) if rows else None,
            "pancreas_dsc_mean": pm}


def arm_summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per arm (in first-seen order): DSC / NSD mean and sd over tumour cases, n, lesion sensitivity."""
    arms: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        arms.setdefault(r["arm"], []).append(r)
    return {arm: _summary(rs) for arm, rs in arms.items()}


def size_class_summary(rows: list[dict[str, Any]], classes: Iterable[str]) -> list[dict[str, Any]]:
    """Per arm × size class of the reference tumour: cases, DSC, NSD and lesion sensitivity."""
    out = []
    for arm, _ in arm_summary(rows).items():
        for cls in classes:
            rs = [r for r in rows if r["arm"] == arm and r.get("size_class") == cls]
            if rs:
                out.append({"arm": arm, "size_class": cls, **_summary(rs)})
    return out


def pct(x: float | None) -> str:
    """A fraction as a percentage with 2 decimals ('–' when missing) — the report's number format."""
    return "–" if x is None else f"{100.0 * x:.2f}"
