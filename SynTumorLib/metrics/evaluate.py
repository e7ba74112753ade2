"""Evaluate tumour segmentations: per case, per folder, with a summary by tumour size class.

Per case (:func:`evaluate_case`), labels 0 background / 1 pancreas / 2 tumour:

* ``tumour_dice``, ``tumour_nsd`` (normalised surface Dice at ``tolerance_mm``, **DeepMind's
  surface-distance definition** — the reference evaluation's and the paper's NSD at 2 mm),
  ``tumour_hd95`` (mm), ``tumour_msd`` (mean surface distance, mm) on the tumour (label 2);
* ``pancreas_dice`` on the whole organ, pancreas ∪ tumour (labels 1 and 2): a tumour is part of
  the pancreas, and a tumour voxel predicted as pancreas is still an organ hit (DiffTumor's organ
  score does the same);
* lesion-wise detection (:func:`.lesions.lesion_detection`, 26-connected components, any overlap
  detects): ``n_ref_lesions``, ``lesion_tp``, ``lesion_fn``, ``lesion_fp``, ``lesion_sensitivity``;
* ``ref_tumour_ml`` / ``pred_tumour_ml`` and the size class of the case (equivalent radius of its
  whole reference tumour) and of each reference lesion (:mod:`.size_breakdown`).

**Empty ground truth** (the reference holds no tumour). Dice and NSD are then 1 when the
prediction holds no tumour either and 0 otherwise; HD95 and MSD are 0 or ``inf``;
``lesion_sensitivity`` is empty (no lesion to find) and every predicted blob is a false positive.
Such cases are reported separately in the summary (``tumour_free``: how many, and the fraction
with no false-positive tumour) and are **excluded from the tumour means by default**, because the
paper's DSC/NSD (and the DiffTumor evaluation they follow) average over tumour-bearing MSD cases
only; ``include_empty=True`` puts them back into the means. Infinite distances are left out of the
HD95/MSD means and counted (``n_inf``).

Mean ± sd use the sample standard deviation (ddof = 1; 0 for a single case).

**Detection** (:mod:`.detection`, PI-CAI's protocol): given tumour probability maps
(``prob_dir``: ``<case>.nii.gz`` on the reference grid, as ``syntumor predict --probability-out``
writes), every case also gets ``tumour_score`` (its maximum tumour probability, the patient-level
score) and its lesion candidates and matches; the folder's FROC, average precision and AUROC go to
``detection.json``. Sensitivity by diameter (< 2 cm, 2–5 cm, > 5 cm; TextoMorph's bins) is in the
summary beside the size-class breakdown, from the same lesion-wise rule as ``lesion_sensitivity``.
What every metric does with an empty reference or an empty prediction: ``docs/metrics.md``.

Example:
    >>> import numpy as np
    >>> from SynTumorLib import Volume
    >>> ref = np.zeros((20, 20, 20), np.uint8); ref[4:16, 4:16, 4:16] = 1; ref[8:12, 8:12, 8:12] = 2
    >>> pred = ref.copy(); pred[8:12, 8:12, 11] = 1
    >>> r = evaluate_case(Volume.from_geometry(pred), Volume.from_geometry(ref))
    >>> round(r["tumour_dice"], 3), r["pancreas_dice"], r["lesion_tp"], r["size_class"]
    (0.857, 1.0, 1, 'tiny')
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.volume import Volume
from ..utils.atomic import write_json_atomic, write_text_atomic
from ..utils.errors import InputError
from ..utils.paths import case_id_from_path
from ..utils.progress import ProgressCallback, track
from .lesions import equivalent_radius_mm, lesion_detection
from .overlap import dice, volume_ml
from .size_breakdown import DIAMETER_BINS, SizeBins
from .surface import hausdorff_from_distances, mean_from_distances, nsd_from_distances, surface_distances

CASE_COLUMNS = [
    "case", "tumour_dice", "tumour_nsd", "tumour_hd95", "tumour_msd", "pancreas_dice",
    "ref_has_tumour", "pred_has_tumour", "ref_tumour_ml", "pred_tumour_ml", "size_class",
    "n_ref_lesions", "n_pred_lesions", "lesion_tp", "lesion_fn", "lesion_fp", "lesion_sensitivity", "tumour_score",
]
LESION_COLUMNS = ["case", "lesion", "volume_ml", "radius_mm", "size_class", "diameter_bin", "detected", "dice"]
SUMMARY_METRICS = ["tumour_dice", "tumour_nsd", "tumour_hd95", "tumour_msd", "pancreas_dice"]


def _check_labels(arr: np.ndarray, what: str) -> None:
    bad = np.setdiff1d(np.unique(arr), [0, 1, 2])
    if bad.size:
        raise InputError(f"{what}: label values {bad[:10].tolist()} outside 0 background / 1 pancreas / 2 tumour")


def evaluate_case(
    pred: Volume,
    ref: Volume,
    tolerance_mm: float = 2.0,
    size_classes: Any = None,
    *,
    pred_name: str = "prediction",
    ref_name: str = "reference",
) -> dict[str, Any]:
    """Metrics of one predicted label map against its reference (rules in the module doc).

    Args:
        pred, ref: label maps (0/1/2) on the same grid.
        tolerance_mm: NSD tolerance (the paper: 2 mm).
        size_classes: bins for the size breakdown — see :meth:`.size_breakdown.SizeBins.resolve`.
        pred_name, ref_name: how errors name the two inputs (file paths in :func:`evaluate_folders`).

    Returns:
        A JSON-able dict with the :data:`CASE_COLUMNS` values (except ``case``) plus ``lesions``
        (per reference lesion: volume, radius, size class, detected, Dice) and ``tolerance_mm``.
    """
    from ..data.datasets import geometry_difference

    diff = geometry_difference(pred, ref)
    if diff is not None:
        raise InputError(f"{pred_name} and {ref_name} are on different grids ({diff})")
    _check_labels(pred.array, pred_name)
    _check_labels(ref.array, ref_name)
    bins = SizeBins.resolve(size_classes)
    sp = ref.array_spacing
    p_t, r_t = pred.array == 2, ref.array == 2
    sd = surface_distances(p_t, r_t, sp)
    det = lesion_detection(p_t, r_t, sp)
    ref_ml = volume_ml(r_t, sp)
    lesions = [{"lesion": les["id"], "volume_ml": les["volume_ml"], "radius_mm": les["radius_mm"],
                "size_class": bins.classify(les["radius_mm"]), "diameter_bin": DIAMETER_BINS.classify(les["radius_mm"]),
                "detected": les["detected"], "dice": les["dice"]} for les in det["lesions"]]
    return {
        "tumour_dice": dice(p_t, r_t),
        "tumour_nsd": nsd_from_distances(sd, tolerance_mm),
        "tumour_hd95": hausdorff_from_distances(sd, 95.0),
        "tumour_msd": mean_from_distances(sd),
        "pancreas_dice": dice(pred.array > 0, ref.array > 0),
        "ref_has_tumour": bool(r_t.any()),
        "pred_has_tumour": bool(p_t.any()),
        "ref_tumour_ml": ref_ml,
        "pred_tumour_ml": volume_ml(p_t, sp),
        "size_class": bins.classify(equivalent_radius_mm(ref_ml * 1000.0)) if r_t.any() else "none",
        "n_ref_lesions": det["n_ref"],
        "n_pred_lesions": det["n_pred"],
        "lesion_tp": det["tp"],
        "lesion_fn": det["fn"],
        "lesion_fp": det["fp"],
        "lesion_sensitivity": det["sensitivity"],
        "lesions": lesions,
        "tolerance_mm": float(tolerance_mm),
    }


def mean_sd(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "sd", "median", "n", "n_inf"}`` over finite values (sd with ddof=1, 0 for n=1)."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    finite = v[np.isfinite(v)]
    n = int(finite.size)
    return {
        "mean": float(finite.mean()) if n else None,
        "sd": float(finite.std(ddof=1)) if n > 1 else (0.0 if n == 1 else None),
        "median": float(np.median(finite)) if n else None,
        "n": n,
        "n_inf": int(v.size - n),
    }


def summarize(rows: list[dict[str, Any]], bins: SizeBins, include_empty: bool = False) -> dict[str, Any]:
    """The summary of per-case results (as :func:`evaluate_case` returns, with ``case``)."""
    tumour_rows = [r for r in rows if r["ref_has_tumour"]]
    free_rows = [r for r in rows if not r["ref_has_tumour"]]
    mean_rows = rows if include_empty else tumour_rows
    metrics = {m: mean_sd([r[m] for r in (rows if m == "pancreas_dice" else mean_rows)]) for m in SUMMARY_METRICS}
    n_les = sum(r["n_ref_lesions"] for r in rows)
    tp = sum(r["lesion_tp"] for r in rows)
    metrics["lesion_sensitivity"] = {"pooled": tp / n_les if n_les else None, "tp": tp, "n_lesions": n_les}
    metrics["fp_per_case"] = mean_sd([r["lesion_fp"] for r in rows])
    by_diameter = {}
    for name in DIAMETER_BINS.names:
        les = [le for r in rows for le in r["lesions"] if DIAMETER_BINS.classify(le["radius_mm"]) == name]
        found = sum(1 for le in les if le["detected"])
        by_diameter[name] = {"n_lesions": len(les), "detected": found, "lesion_sensitivity": found / len(les) if les else None}
    by_size: dict[str, Any] = {}
    for name in bins.names:
        les = [le for r in rows for le in r["lesions"] if le["size_class"] == name]
        cases = [r for r in tumour_rows if r["size_class"] == name]
        by_size[name] = {
            "n_lesions": len(les),
            "detected": sum(1 for le in les if le["detected"]),
            "lesion_sensitivity": (sum(1 for le in les if le["detected"]) / len(les)) if les else None,
            "n_cases": len(cases),
            "tumour_dice": mean_sd([r["tumour_dice"] for r in cases]),
            "tumour_nsd": mean_sd([r["tumour_nsd"] for r in cases]),
        }
    return {
        "n_cases": len(rows),
        "n_tumour_cases": len(tumour_rows),
        "include_empty": bool(include_empty),
        "tolerance_mm": rows[0]["tolerance_mm"] if rows else None,
        "metrics": metrics,
        "tumour_free": {"n": len(free_rows),
                        "no_fp_fraction": (sum(1 for r in free_rows if not r["pred_has_tumour"]) / len(free_rows))
                        if free_rows else None},
        "by_size_class": by_size,
        "size_bins": bins.to_dict(),
        "by_diameter": by_diameter,
        "diameter_bins": DIAMETER_BINS.to_dict(),
    }


def _fmt(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, float):
        return "inf" if math.isinf(x) else f"{x:.6g}"
    return str(x)


def rows_to_csv(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_fmt(r.get(c)) for c in columns])
    return buf.getvalue()


def _pm(s: dict[str, Any], scale: float = 100.0, digits: int = 2) -> str:
    if s.get("mean") is None:
        return "–"
    return f"{s['mean'] * scale:.{digits}f} ± {s['sd'] * scale:.{digits}f}"


def summary_markdown(summary: dict[str, Any], title: str = "Evaluation") -> str:
    """A human-readable Markdown page of a :func:`summarize` result."""
    m = summary["metrics"]
    tol = summary["tolerance_mm"]
    lines = [f"# {title}", "",
             f"{summary['n_cases']} cases, {summary['n_tumour_cases']} with a reference tumour; "
             f"tumour means {'include' if summary['include_empty'] else 'exclude'} tumour-free cases.", "",
             "| metric | mean ± sd | median | n |", "|---|---|---|---|"]
    for key, label, scale, unit in (("tumour_dice", "tumour DSC", 100, "%"), ("tumour_nsd", f"tumour NSD @ {tol:g} mm", 100, "%"),
                                    ("pancreas_dice", "pancreas DSC", 100, "%"), ("tumour_hd95", "tumour HD95", 1, " mm"),
                                    ("tumour_msd", "tumour mean surface distance", 1, " mm")):
        s = m[key]
        med = "–" if s["median"] is None else f"{s['median'] * scale:.2f}{unit}"
        inf = f" (+{s['n_inf']} inf)" if s["n_inf"] else ""
        lines.append(f"| {label} | {_pm(s, scale)}{unit if s['mean'] is not None else ''} | {med} | {s['n']}{inf} |")
    ls = m["lesion_sensitivity"]
    sens = "–" if ls["pooled"] is None else f"{100 * ls['pooled']:.1f} % ({ls['tp']}/{ls['n_lesions']})"
    lines += ["", f"Lesion-wise sensitivity: {sens}; false positives per case: {_pm(m['fp_per_case'], 1)}."]
    tf = summary["tumour_free"]
    if tf["n"]:
        lines.append(f"Tumour-free cases: {tf['n']}, of which {100 * tf['no_fp_fraction']:.0f} % have no predicted tumour.")
    lines += ["", f"## By size class ({summary['size_bins']['source']}; cuts {summary['size_bins']['cuts_mm']} mm)", "",
              "| class | lesions | detected | sensitivity | cases | DSC (%) | NSD (%) |", "|---|---|---|---|---|---|---|"]
    for name, b in summary["by_size_class"].items():
        sens = "–" if b["lesion_sensitivity"] is None else f"{100 * b['lesion_sensitivity']:.1f} %"
        lines.append(f"| {name} | {b['n_lesions']} | {b['detected']} | {sens} | {b['n_cases']} | "
                     f"{_pm(b['tumour_dice'])} | {_pm(b['tumour_nsd'])} |")
    lines += ["", "## By diameter (equivalent sphere; TextoMorph's bins)", "", "| diameter | lesions | detected | sensitivity |",
              "|---|---|---|---|"]
    for name, b in summary.get("by_diameter", {}).items():
        sens = "–" if b["lesion_sensitivity"] is None else f"{100 * b['lesion_sensitivity']:.1f} %"
        lines.append(f"| {name} | {b['n_lesions']} | {b['detected']} | {sens} |")
    det = summary.get("detection")
    if det:
        from .detection import detection_markdown

        lines += ["", detection_markdown(det)]
    return "\n".join(lines) + "\n"


def _volume_files(folder: Path) -> dict[str, Path]:
    from ..data.io import list_volume_files

    return {case_id_from_path(p): p for p in list_volume_files(folder)}


def _reference_cases(ref_dir: Path) -> tuple[dict[str, Path], Any]:
    """case id → reference label file, and the dataset (None for a plain folder of label maps)."""
    if not ref_dir.is_dir():
        raise InputError(f"{ref_dir}: reference folder not found")
    plain = _volume_files(ref_dir)
    if plain and not (ref_dir / "labelsTr").is_dir():
        return plain, None
    from ..data.datasets import open_dataset

    ds = open_dataset(ref_dir)
    cases = {c.case_id: c for c in ds.cases() + ds.test_cases() if c.label is not None}
    if not cases:
        raise InputError(f"{ref_dir}: the reference dataset holds no label maps")
    return cases, ds


def evaluate_folders(
    pred_dir: str | os.PathLike,
    ref_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    tolerance_mm: float = 2.0,
    size_classes: Any = None,
    *,
    include_empty: bool = False,
    progress: ProgressCallback | None = None,
    prob_dir: str | os.PathLike | None = None,
    detection: Any = None,
) -> dict[str, Any]:
    """Evaluate every prediction ``PRED/<case>.nii.gz`` against its reference; write the results.

    Args:
        pred_dir: predicted label maps named by case id.
        ref_dir: a dataset (MSD layout: ``labelsTr/<case>.nii.gz``; any kind ``open_dataset``
            reads, labels canonicalised) or a plain folder of reference label maps ``<case>.nii.gz``.
        out_dir: receives ``cases.csv``, ``lesions.csv``, ``summary.json``, ``summary.md``
            (each written atomically).
        tolerance_mm, size_classes, include_empty: see :func:`evaluate_case` and the module doc.
        prob_dir: tumour probability maps ``<case>.nii.gz`` (one per prediction, on its grid): adds
            the detection metrics (``detection.json``: per case its score, lesions and candidates;
            the summary's ``detection``: FROC, AP, AUROC).
        detection: the :class:`.detection.DetectionRule` (or its dict; None: the defaults).

    Returns:
        The summary dict (also in ``summary.json``), with ``cases`` (the per-case rows) added, and
        ``detection_cases`` with ``prob_dir``.

    Raises:
        InputError: no prediction matches a reference, a prediction without reference, a grid
            mismatch (naming both files), label values outside 0/1/2.
    """
    from ..data.io import read_volume

    pred_dir, ref_dir, out_dir = Path(pred_dir), Path(ref_dir), Path(out_dir)
    if not pred_dir.is_dir():
        raise InputError(f"{pred_dir}: prediction folder not found")
    preds = _volume_files(pred_dir)
    if not preds:
        raise InputError(f"{pred_dir}: no predicted label maps (<case>.nii.gz) found")
    refs, ds = _reference_cases(ref_dir)
    orphans = sorted(set(preds) - set(refs))
    if orphans:
        raise InputError(f"{pred_dir}: prediction(s) without a reference in {ref_dir}: {', '.join(orphans[:5])}"
                         f"{' ...' if len(orphans) > 5 else ''}")
    bins = SizeBins.resolve(size_classes)
    probs, rule = _prob_files(prob_dir, preds), None
    if probs is not None:
        from .detection import DetectionRule, case_detection, detection_summary

        rule = DetectionRule.resolve(detection)
    rows, det_cases = [], []
    ids = sorted(preds)
    for n, cid in enumerate(track(ids, desc="evaluate")):
        if progress:
            progress(n / len(ids), f"evaluate {cid}")
        pred = read_volume(preds[cid])
        if ds is None:
            ref, ref_name = read_volume(refs[cid]), str(refs[cid])
        else:
            ref, ref_name = ds.load_label(refs[cid]), str(refs[cid].label)
        row = {"case": cid, **evaluate_case(pred, ref, tolerance_mm, bins, pred_name=str(preds[cid]), ref_name=ref_name)}
        if probs is not None:
            prob = read_volume(probs[cid])
            from ..data.datasets import geometry_difference

            diff = geometry_difference(prob, ref)
            if diff is not None:
                raise InputError(f"{probs[cid]} and {ref_name} are on different grids ({diff})")
            try:
                det = case_detection(prob.array, ref.array == 2, ref.array_spacing, rule)
            except InputError as e:
                raise InputError(f"{probs[cid]}: {e}") from None
            row["tumour_score"] = det["score"]
            det_cases.append({"case": cid, **det})
        rows.append(row)
    summary = summarize(rows, bins, include_empty)
    if probs is not None:
        summary["detection"] = detection_summary(det_cases)
    summary.update(pred_dir=str(pred_dir), ref_dir=str(ref_dir), n_references_unpredicted=len(set(refs) - set(preds)))
    lesion_rows = [{"case": r["case"], **le} for r in rows for le in r["lesions"]]
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "cases.csv", rows_to_csv(rows, CASE_COLUMNS))
    write_text_atomic(out_dir / "lesions.csv", rows_to_csv(lesion_rows, LESION_COLUMNS))
    write_json_atomic(out_dir / "summary.json", summary)
    write_text_atomic(out_dir / "summary.md", summary_markdown(summary))
    if probs is not None:
        write_json_atomic(out_dir / "detection.json", {"summary": summary["detection"], "cases": det_cases})
    if progress:
        progress(1.0, "evaluation done")
    return dict(summary, cases=rows, **({"detection_cases": det_cases} if probs is not None else {}))


def _prob_files(prob_dir: str | os.PathLike | None, preds: dict[str, Path]) -> dict[str, Path] | None:
    """case id → probability map for every prediction (None without ``prob_dir``)."""
    if prob_dir is None:
        return None
    folder = Path(prob_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: probability-map folder not found")
    probs = _volume_files(folder)
    missing = sorted(set(preds) - set(probs))
    if missing:
        raise InputError(f"{folder}: no probability map for prediction(s) {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}")
    return probs
