"""A study's outputs: results.csv (one row per arm × seed × fold × test case), arms.csv (one row per
arm), comparisons.csv (each arm against its baseline), detection.csv (FROC / AP / AUROC per arm),
the paper-style table with the paired comparisons and hypothesis sentences (Markdown and HTML), a
plot of DSC/NSD by arm and the FROC curves (froc.png).

The table shows each arm's mean over test cases (each case's mean over its seeds and folds) with a
95 % CI from a hierarchical bootstrap over cases and seeds within cases
(:mod:`.comparisons`); arms.csv also keeps the pooled mean ± the sample standard deviation over
all test values. Tumour-free reference cases follow the evaluation's rule (left out unless
``evaluation.include_empty``). ``seed_sd`` is the standard deviation of the per-seed means — the
run-to-run spread, shown when a study has several seeds.

Table layout (the paper's): Table 1 (``"table": "size"``) has a "Without synthetic volumes" block
(baselines) and a "With synthetic volumes" block (one row per model × size arm); Tables 2–3
(``"table": "noise"``) have "With original labels" and "With noisy labels" blocks. Values in %.
When the spec holds published numbers (``reference``) they are shown beside ours.

Example:
    >>> rows = [{"arm": "unet-baseline", "model": "unet", "size": "none", "noise": "none", "dsc_mean": 0.5,
    ...          "dsc_sd": 0.1, "nsd_mean": 0.4, "nsd_sd": 0.1, "n_cases": 3, "n_runs": 1}]
    >>> print(table_markdown("size", rows).splitlines()[3])
    | U-Net | – | 50.00 ± 10.00 | 40.00 ± 10.00 | 3 |
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..metrics.evaluate import mean_sd, rows_to_csv
from ..utils.atomic import write_text_atomic
from ..utils.jsonio import read_json
from .spec import StudySpec

MODEL_NAMES = {"unet": "U-Net", "nnunet": "nnU-Net", "swinunetr": "SwinUNETR", "dynunet": "DynUNet"}
CASE_COLUMNS = ["study", "arm", "model", "size", "noise", "seed", "fold", "case", "tumour_dice", "tumour_nsd",
                "pancreas_dice", "tumour_hd95", "ref_has_tumour", "ref_tumour_ml", "pred_tumour_ml", "size_class",
                "n_ref_lesions", "lesion_tp", "lesion_fp", "tumour_score"]
ARM_COLUMNS = ["arm", "model", "size", "noise", "n_runs", "n_cases", "dsc_mean", "dsc_sd", "nsd_mean", "nsd_sd",
               "dsc_estimate", "dsc_ci_lo", "dsc_ci_hi", "nsd_estimate", "nsd_ci_lo", "nsd_ci_hi",
               "dsc_seed_sd", "nsd_seed_sd", "pancreas_dsc_mean", "lesion_sensitivity", "fp_per_case",
               "auroc", "average_precision", "sens_at_1_fp", "train_s_mean"]
SECTIONS = {"size": ("Without synthetic volumes", "With synthetic volumes", "Tumour size"),
            "noise": ("With original labels", "With noisy labels", "Noise level")}


def collect_results(out: str | Path) -> list[dict[str, Any]]:
    """Every finished run's ``result.json`` under ``OUT/runs``."""
    return [read_json(p) for p in sorted(Path(out).glob("runs/*/*/result.json"))]


def case_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per arm × run × test case (the rows of results.csv)."""
    return [{"study": r["study"], "arm": r["arm"], "model": r["model"], "size": r["size"], "noise": r["noise"],
             "seed": r["seed"], "fold": r["fold"], **c} for r in results for c in r["cases"]]


def arm_rows(spec: StudySpec, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per arm that has results, in the spec's arm order."""
    from .comparisons import arm_intervals
    from .detection import arm_detection

    include_empty = spec.evaluation["include_empty"]
    ev = spec.evaluation
    ids = [a.arm_id for a in spec.arms]
    ci = arm_intervals(case_rows(results), ids, include_empty, ev["n_bootstrap"], ev["bootstrap_seed"])
    det = arm_detection(results, ids)
    rows = []
    for arm in spec.arms:
        res = [r for r in results if r["arm"] == arm.arm_id]
        if not res:
            continue
        cases = [c for r in res for c in r["cases"] if include_empty or c["ref_has_tumour"]]
        dsc, nsd = mean_sd([c["tumour_dice"] for c in cases]), mean_sd([c["tumour_nsd"] for c in cases])
        seed_dsc = mean_sd([r["summary"]["metrics"]["tumour_dice"]["mean"] for r in res])
        seed_nsd = mean_sd([r["summary"]["metrics"]["tumour_nsd"]["mean"] for r in res])
        n_les = sum(c["n_ref_lesions"] for r in res for c in r["cases"])
        tp = sum(c["lesion_tp"] for r in res for c in r["cases"])
        rows.append({
            "arm": arm.arm_id, "model": arm.model, "size": arm.size, "noise": arm.noise, "n_runs": len(res),
            "n_cases": dsc["n"], "dsc_mean": dsc["mean"], "dsc_sd": dsc["sd"], "nsd_mean": nsd["mean"],
            "nsd_sd": nsd["sd"], "dsc_seed_sd": seed_dsc["sd"] if len(res) > 1 else None,
            "nsd_seed_sd": seed_nsd["sd"] if len(res) > 1 else None,
            "pancreas_dsc_mean": mean_sd([c["pancreas_dice"] for r in res for c in r["cases"]])["mean"],
            "lesion_sensitivity": tp / n_les if n_les else None,
            "fp_per_case": mean_sd([c["lesion_fp"] for r in res for c in r["cases"]])["mean"],
            "train_s_mean": mean_sd([r["timings"].get("train_s") for r in res])["mean"],
            **{f"{m}_{k}": ci[arm.arm_id][m][b] for m in ("dsc", "nsd")
               for k, b in (("estimate", "estimate"), ("ci_lo", "lo"), ("ci_hi", "hi"))},
            "auroc": det.get(arm.arm_id, {}).get("auroc"),
            "average_precision": det.get(arm.arm_id, {}).get("average_precision"),
            "sens_at_1_fp": det.get(arm.arm_id, {}).get("sensitivity_at", {}).get("1"),
        })
    return rows


def _pm(mean, sd) -> str:
    return "–" if mean is None else f"{100 * mean:.2f} ± {100 * (sd or 0):.2f}"


def _cell(r: dict, key: str) -> str:
    """``mean [95 % CI]`` when the row has the bootstrap (arm_rows), else ``mean ± sd``."""
    if r.get(f"{key}_estimate") is not None:
        lo, hi = r.get(f"{key}_ci_lo"), r.get(f"{key}_ci_hi")
        est = 100 * r[f"{key}_estimate"]
        return f"{est:.2f}" if lo is None else f"{est:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]"
    return _pm(r[f"{key}_mean"], r[f"{key}_sd"])


def _table_rows(table: str, rows: list[dict[str, Any]], reference: dict | None) -> list[tuple[str, list[str]]]:
    """(kind, cells) rows: kind 'section' or 'row'; shared by Markdown and HTML."""
    first, second, _ = SECTIONS[table]
    varying = "size" if table == "size" else "noise"
    other = "noise" if table == "size" else "size"
    out: list[tuple[str, list[str]]] = []

    def cells(r: dict, method: str, level: str) -> list[str]:
        c = [method, level, _cell(r, "dsc"), _cell(r, "nsd")]
        if reference is not None:
            ref = reference.get(r["arm"]) or {}
            c += [f"{ref['dsc']:.2f}" if "dsc" in ref else "–", f"{ref['nsd']:.2f}" if "nsd" in ref else "–"]
        return c + [str(r["n_cases"])]

    base = [r for r in rows if r["size"] == "none" and r["noise"] == "none"]
    rest = [r for r in rows if r not in base]
    if base:
        out.append(("section", [first]))
        out += [("row", cells(r, MODEL_NAMES.get(r["model"], r["model"]), "–")) for r in base]
    if rest:
        out.append(("section", [second]))
        last_model = None
        for r in rest:
            parts = [str(r[varying]).capitalize()] if r[varying] != "none" else []
            if r[other] != "none":
                parts.append(f"{other} {r[other]}")
            level = " + ".join(parts)
            name = MODEL_NAMES.get(r["model"], r["model"]) if r["model"] != last_model else ""
            last_model = r["model"]
            out.append(("row", cells(r, name, level)))
    return out


def _header(table: str, reference: dict | None) -> list[str]:
    h = ["Method", SECTIONS[table][2], "DSC (%)", "NSD (%)"]
    if reference is not None:
        h += ["paper DSC", "paper NSD"]
    return h + ["n"]


def table_markdown(table: str, rows: list[dict[str, Any]], reference: dict | None = None) -> str:
    """The paper-style table as Markdown (``reference``: published numbers per arm id, or None)."""
    header = _header(table, reference)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for kind, cells in _table_rows(table, rows, reference):
        if kind == "section":
            lines.append(f"| **{cells[0]}** |" + " |" * (len(header) - 1))
        else:
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def table_html(title: str, table: str, rows: list[dict[str, Any]], reference: dict | None = None,
               note: str = "", extra_html: str = "") -> str:
    header = _header(table, reference)
    body = []
    for kind, cells in _table_rows(table, rows, reference):
        if kind == "section":
            body.append(f'<tr class="section"><th colspan="{len(header)}">{html.escape(cells[0])}</th></tr>')
        else:
            body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ccc}"
            "tr.section th{text-align:left;background:#eee}</style></head><body>"
            f"<h2>{html.escape(title)}</h2><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
            + "</tr>" + "".join(body) + f"</table><p>{html.escape(note)}</p>{extra_html}</body></html>\n")


def plot_arms(rows: list[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """DSC and NSD per arm as grouped bars (%): the bootstrap estimate with its 95 % CI when the rows
    carry one (``dsc_ci_lo`` …, as :func:`arm_rows` gives), else mean ± sd; PNG."""
    import numpy as np

    from ..viz import pyplot, save_figure

    plt = pyplot()

    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(rows) + 2), 3.6), dpi=110)
    top = 10.0
    for k, (key, label) in enumerate((("dsc", "DSC"), ("nsd", "NSD"))):
        if all(r.get(f"{key}_ci_lo") is not None for r in rows):
            means = [100 * r[f"{key}_estimate"] for r in rows]
            err = np.array([[m - 100 * r[f"{key}_ci_lo"] for m, r in zip(means, rows, strict=True)],
                            [100 * r[f"{key}_ci_hi"] - m for m, r in zip(means, rows, strict=True)]])
        else:
            means = [100 * (r[f"{key}_mean"] or 0) for r in rows]
            err = np.array([[100 * (r[f"{key}_sd"] or 0) for r in rows]] * 2)
        top = max(top, *(m + e for m, e in zip(means, err[1], strict=True)))
        ax.bar(x + (k - 0.5) * 0.38, means, 0.38, yerr=np.maximum(err, 0), capsize=3, label=label)
    ax.set_xticks(x, [r["arm"] for r in rows], rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, min(100.0, 1.15 * top))  # small smoke-study scores stay readable
    ax.legend(fontsize=8)
    import textwrap

    width = fig.get_size_inches()[0]
    ax.set_title("\n".join(textwrap.wrap(title, int(width * 11))), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=None, tight=False)


def write_outputs(spec: StudySpec, out: str | Path) -> dict[str, str]:
    """Write results.csv, arms.csv, comparisons.csv, detection.csv, table.md, table.html,
    dsc_by_arm.png and froc.png from the finished runs."""
    from .comparisons import (
        COMPARISON_COLUMNS,
        compare_arms,
        comparison_rows,
        comparisons_html,
        comparisons_markdown,
    )
    from .detection import DETECTION_COLUMNS, arm_detection, detection_markdown, detection_rows, plot_froc

    out = Path(out)
    order = {a.arm_id: i for i, a in enumerate(spec.arms)}
    results = sorted(collect_results(out), key=lambda r: (order.get(r["arm"], len(order)), r["arm"], r["seed"],
                                                          -1 if r["fold"] is None else r["fold"]))
    flat = case_rows(results)
    rows = arm_rows(spec, results)
    reference = spec.reference or None
    title = spec.title or spec.name
    ev = spec.evaluation
    seeds = sorted({r["seed"] for r in results})
    note = (f"Mean over test cases (each case: its mean over seeds/folds) with a 95 % CI from a hierarchical bootstrap "
            f"({ev['n_bootstrap']} resamples of cases, then of seeds within cases; seed {ev['bootstrap_seed']}); "
            f"{len(seeds)} seed(s); NSD at {ev['tolerance_mm']:g} mm (DeepMind definition); "
            f"tumour-free cases {'included' if ev['include_empty'] else 'excluded'}.")
    comparisons = compare_arms(flat, spec.arms, ev["include_empty"], ev["n_bootstrap"], ev["bootstrap_seed"])
    det = arm_detection(results, [a.arm_id for a in spec.arms])
    paths = {"results_csv": out / "results.csv", "arms_csv": out / "arms.csv", "table_md": out / "table.md",
             "table_html": out / "table.html", "plot_png": out / "dsc_by_arm.png",
             "comparisons_csv": out / "comparisons.csv", "detection_csv": out / "detection.csv",
             "froc_png": out / "froc.png"}
    write_text_atomic(paths["results_csv"], rows_to_csv(flat, CASE_COLUMNS))
    write_text_atomic(paths["arms_csv"], rows_to_csv(rows, ARM_COLUMNS))
    write_text_atomic(paths["comparisons_csv"], rows_to_csv(comparison_rows(comparisons), COMPARISON_COLUMNS))
    write_text_atomic(paths["detection_csv"], rows_to_csv(detection_rows(det), DETECTION_COLUMNS))
    md_det = detection_markdown(det, ev)
    write_text_atomic(paths["table_md"], f"# {title}\n\n" + table_markdown(spec.table, rows, reference) + f"\n{note}\n\n"
                      + comparisons_markdown(comparisons, ev["n_bootstrap"]) + (f"\n{md_det}" if md_det else ""))
    extra = comparisons_html(comparisons) + ('<p><img src="froc.png" alt="FROC"></p>' if det else "")
    write_text_atomic(paths["table_html"], table_html(title, spec.table, rows, reference, note, extra))
    if rows:
        plot_arms(rows, paths["plot_png"], title)
    else:
        paths.pop("plot_png")
    if det:
        plot_froc(det, paths["froc_png"], f"{title}: lesion-level FROC (IoU ≥ {ev['hit_iou']:g})")
    else:
        paths.pop("froc_png")
    return {k: str(v) for k, v in paths.items()}
