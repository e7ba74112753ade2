"""Sections of the demo report: data (cohort and split, size classes, insertion, the diffusion
texture — :mod:`.report_texture` —, label noise) and results (Tables 1–3, evaluation by size class, plots, predictions). Each table names the file its
numbers come from (``data-source``)."""

from __future__ import annotations

import numpy as np

from ..utils.jsonio import read_json
from .aggregate import pct
from .report_tables import (
    RESULTS,
    add_detection_table,
    add_diameter_table,
    add_paired_table,
    add_paper_tables,
    add_size_class_table,
)
from .report_texture import add_texture_section
from .stages_study import arm_ids


def _median(rows: list[dict], key: str, kind: str) -> float | None:
    v = [r[key] for r in rows if r["cohort"] == kind and r[key] is not None]
    return float(np.median(v)) if v else None


def add_data_sections(rep, ctx, rows: list[dict], cohort_gallery: str) -> list[str]:
    """Cohort + split, checks, size classes, insertion, texture and label noise; returns the images used."""
    figs = [cohort_gallery]
    s = rep.section("1. Cohorts and split")
    s.table([{"cohort": k, "cases": sum(r["cohort"] == k for r in rows), "pancreas mL (median)": _median(rows, "pancreas mL", k),
              "tumour mL (median)": _median(rows, "tumour mL", k)} for k in ("real_tumours", "tumour_free", "healthy")
             if any(r["cohort"] == k for r in rows)],
            source="data/*/records/*.json", caption="Cohorts (MSD layout under data/).")
    s.image(cohort_gallery, "One axial slice per case.")
    splits = read_json(ctx.out / "splits.json")
    s.table([{"seed": k, "part": part, "cases": len(ids), "case ids": ", ".join(ids)}
             for k, sp in splits.items() for part, ids in sp.items()], source="splits.json",
            caption="Train / validation / test split of the real cases (the study runner makes the same split; "
                    "healthy cases only receive synthetic tumours during training; the tumour-free cases are "
                    "test cases only — the negatives of the patient-level AUROC).")
    chk = ctx.results.get("check", {})
    for kind in ("real_tumours", "healthy"):
        r = chk.get(kind)
        if r:
            s.paragraph(f"dataset check {kind}: {'OK' if r['ok'] else 'FAILED'} — {len(r['errors'])} errors, "
                        f"{len(r['warnings'])} warnings ({r['markdown']})", cls="good" if r["ok"] else "bad")
    s.table(rows, source="data/*/records/*.json", caption="Every case with its seed and planned tumour.")

    sz = ctx.results["sizes"]
    s = rep.section("2. Tumour sizes → size classes")
    q = sz["quartiles_radius_mm"]
    s.paragraph(f"{sz['n_tumours']} real tumours in {sz['n_cases']} cases; equivalent radius r = (3V/4π)^⅓ cut at its "
                f"quartiles Q1 {q[0]:.2f} mm, median {q[1]:.2f} mm, Q3 {q[2]:.2f} mm into four classes (the paper's "
                "method). These classes are what the training's size arms synthesise (the study spec's "
                "synthesis.size_classes), and they drive the insertion gallery and the evaluation's size breakdown.")
    s.image(sz["histogram"], "Equivalent radii of the real tumours with the quartile cuts.")
    figs.append(sz["histogram"])
    s.table([{"class": c, "r_sel mm": v["radius_mm"], "semi-axis range mm": v["range_mm"], "elastic σ mm": v["sigma_mm"],
              "tumours per case": v["count"]} for c, v in sz["classes"].items()], source=sz["json"],
            caption="Size classes from the quartiles.")

    ins = ctx.results["insertion"]
    s = rep.section("3. Synthetic tumours of every class")
    s.paragraph("Each class inserted into healthy phantom cases with the statistical texture: the quartile classes the "
                "training arms use and, for comparison, the syntumor preset. 'Delivered' is the tumour volume that ends up labelled; "
                "'drawn' the volume of the drawn ellipsoids; 'nominal' the sphere of radius r_sel.")
    s.table(ins["summary"], source="insertion/insertions.json", caption="Delivered vs nominal size per class (mean over "
            "the insertions).")
    s.paragraph(f"Diffusion texture: {ins['diffusion']}.", cls="note")
    items = [(src, f"class {cls}") for cls, src in ins["galleries"].items()]
    s.images(items)
    figs += [src for src, _ in items]

    figs += add_texture_section(rep, ctx, "4")

    nz = ctx.results["noise"]
    s = rep.section("5. Label noise at four levels")
    s.paragraph("The real tumour labels corrupted by elastic deformation (3 control points per axis, shifts ~ N(0, σ²), "
                "x, y and z independent); agreement with the clean label over all real cases.")
    s.table([{"level": lv, "σ mm": v["sigma_mm"], "Dice (%)": pct(v["dice"]), "NSD 2 mm (%)": pct(v["nsd"]),
              "MSD mm": v["msd_mm"], "HD95 mm": v["hd95_mm"], "cases": v["cases"], "vanished": v["vanished"]}
             for lv, v in nz["levels"].items()], source="study/data/noisy-*/summary.json",
            caption="Corrupted vs clean tumour labels (means over cases).")
    s.image(nz["gallery"], f"Clean (yellow) vs corrupted (red) tumour contour of {nz['gallery_case']} at each level.")
    figs.append(nz["gallery"])
    return figs


def add_result_sections(rep, ctx) -> list[str]:
    """Tables 1–3, all-arm metrics, by-size-class table, DSC plot, loss curves, prediction galleries."""
    ev = ctx.results["evaluate"]
    arms = ev["arms"]
    free = ev.get("test_tumour_free", [])
    s = rep.section("6–7. Segmentation: Tables 1–3 on the phantom")
    s.paragraph("One small U-Net per arm, trained by the study runner on the real training cases — plus online synthetic "
                "tumours in the healthy cases (size arms) or with corrupted labels (noise arms) — and evaluated on the "
                f"{len(ev['test_cases']) - len(free)} held-out test cases with a tumour "
                f"({', '.join(c for c in ev['test_cases'] if c not in free)}) against the clean labels"
                + (f"; the {len(free)} tumour-free test cases ({', '.join(free)}) enter only the detection metrics." if free
                   else "."))
    add_paper_tables(s, arms, ev["intervals"], ev["bootstrap"])
    s.image(ev["plots"]["dsc_by_arm"], "Tumour DSC and NSD by arm (mean and 95 % bootstrap CI over the test cases).")
    s = rep.section("Paired comparisons and hypotheses")
    s.paragraph("Every arm against the baseline U-Net on the same test cases. At this budget the arms are small networks "
                "trained briefly on phantoms: the sentences say what these data show, not what the paper's "
                "hypotheses are worth on real CT.")
    add_paired_table(s, ev["comparisons"], ev["bootstrap"])
    header = ["Arm", "DSC mean (%)", "NSD mean (%)", "n", "lesion sensitivity (%)", "FP lesions per case",
              "pancreas DSC (%)"]
    s.grouped_table(header, [(None, [({"arm": a}, [a, pct(arms[a]["dsc_mean"]), pct(arms[a]["nsd_mean"]), str(arms[a]["n"]),
                                                 pct(arms[a]["sensitivity"]), f"{arms[a]['fp_per_case']:.4g}",
                                                 pct(arms[a]["pancreas_dsc_mean"])]) for a in arm_ids()])],
                    RESULTS, "Every arm: tumour and pancreas metrics (pancreas DSC and FP over all test cases). "
                    "Source: " + RESULTS + ".")
    s = rep.section("Evaluation by tumour size class and diameter")
    add_size_class_table(s, ev["by_size_class"])
    add_diameter_table(s, ev["by_diameter"])
    s = rep.section("Lesion detection: FROC, average precision, AUROC")
    if ev.get("detection"):
        n_pos = next(iter(ev["detection"].values()))["n_positive_cases"]
        n_all = next(iter(ev["detection"].values()))["n_cases"]
        s.paragraph(f"PANORAMA-style detection from each arm's tumour probability maps on the {n_all} test cases "
                    f"({n_pos} with a tumour, {n_all - n_pos} tumour-free). The AUROC asks whether a case's highest "
                    "tumour probability tells the tumour cases from the tumour-free ones; the FROC how many lesions "
                    "are found at a given number of false-positive candidates per case.")
        add_detection_table(s, ev["detection"], ev["rule"])
        s.image(ev["plots"]["froc"], "Lesion-level FROC of every arm (sensitivity vs false positives per case).")
    else:
        s.paragraph("No probability maps: detection metrics are not available for this run.")
    s = rep.section("Training curves and predictions")
    s.image(ev["plots"]["loss"], "Training loss and validation tumour Dice of every arm.")
    figs = [ev["plots"]["dsc_by_arm"], ev["plots"]["loss"]] + ([ev["plots"]["froc"]] if "froc" in ev["plots"] else [])
    for g in ev["predictions"]:
        s.image(g["src"], f"Predictions of every arm on test case {g['case']}.")
        figs.append(g["src"])
    return figs
