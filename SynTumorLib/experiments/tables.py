"""A study's outputs: results.csv (one row per arm × seed × fold × test case), arms.csv (one row per
arm), the paper-style table (Markdown and HTML) and a plot of DSC/NSD by arm.

Means pool the test cases of all seeds and folds of an arm; the ± is the sample standard deviation
over those cases (the paper reports means over its test cases). Tumour-free reference cases follow
the evaluation's rule (left out unless ``evaluation.include_empty``). ``seed_sd`` is the standard
deviation of the per-seed means — the run-to-run spread, shown when a study has several seeds.

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
                "n_ref_lesions", "lesion_tp", "lesion_fp"]
ARM_COLUMNS = ["arm", "model", "size", "noise", "n_runs", "n_cases", "dsc_mean", "dsc_sd", "nsd_mean", "nsd_sd",
               "dsc_seed_sd", "nsd_seed_sd", "pancreas_dsc_mean", "lesion_sensitivity", "fp_per_case",
               "train_s_mean"]
SECTIONS = {"size": ("Without synthetic volumes", "With synthetic volumes", "Tumour size"),
            "noise": ("With original labels", "With noisy labels", "Noise level")}


def collect_results(out: str | Path) -> list[dict[str, Any]]:
    """Every finished run's ``result.json`` under ``OUT/runs``."""
    return [read_json(p) for p in sorted(Path(out).glob("runs/*/*/result.json"))]


def arm_rows(spec: StudySpec, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per arm that has results, in the spec's arm order."""
    include_empty = spec.evaluation["include_empty"]
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
        })
    return rows


def _pm(mean, sd) -> str:
    return "–" if mean is None else f"{100 * mean:.2f} ± {100 * (sd or 0):.2f}"


def _table_rows(table: str, rows: list[dict[str, Any]], reference: dict | None) -> list[tuple[str, list[str]]]:
    """(kind, cells) rows: kind 'section' or 'row'; shared by Markdown and HTML."""
    first, second, _ = SECTIONS[table]
    varying = "size" if table == "size" else "noise"
    other = "noise" if table == "size" else "size"
    out: list[tuple[str, list[str]]] = []

    def cells(r: dict, method: str, level: str) -> list[str]:
        c = [method, level, _pm(r["dsc_mean"], r["dsc_sd"]), _pm(r["nsd_mean"], r["nsd_sd"])]
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
               note: str = "") -> str:
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
            + "</tr>" + "".join(body) + f"</table><p>{html.escape(note)}</p></body></html>\n")


def plot_arms(rows: list[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """DSC and NSD (mean ± sd, %) per arm as grouped bars; PNG."""
    import numpy as np

    from ..viz import pyplot, save_figure

    plt = pyplot()

    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(rows) + 2), 3.6), dpi=110)
    top = 10.0
    for k, (key, label) in enumerate((("dsc", "DSC"), ("nsd", "NSD"))):
        means = [100 * (r[f"{key}_mean"] or 0) for r in rows]
        sds = [100 * (r[f"{key}_sd"] or 0) for r in rows]
        top = max(top, *(m + s for m, s in zip(means, sds, strict=True)))
        ax.bar(x + (k - 0.5) * 0.38, means, 0.38, yerr=sds, capsize=3, label=label)
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
    """Write results.csv, arms.csv, table.md, table.html and dsc_by_arm.png from the finished runs."""
    out = Path(out)
    order = {a.arm_id: i for i, a in enumerate(spec.arms)}
    results = sorted(collect_results(out), key=lambda r: (order.get(r["arm"], len(order)), r["arm"], r["seed"],
                                                          -1 if r["fold"] is None else r["fold"]))
    case_rows = [{"study": r["study"], "arm": r["arm"], "model": r["model"], "size": r["size"], "noise": r["noise"],
                  "seed": r["seed"], "fold": r["fold"], **c} for r in results for c in r["cases"]]
    rows = arm_rows(spec, results)
    reference = spec.reference or None
    title = spec.title or spec.name
    ev = spec.evaluation
    note = (f"Mean ± sd over test cases (all seeds/folds); NSD at {ev['tolerance_mm']:g} mm (DeepMind definition); "
            f"tumour-free cases {'included' if ev['include_empty'] else 'excluded'}.")
    paths = {"results_csv": out / "results.csv", "arms_csv": out / "arms.csv", "table_md": out / "table.md",
             "table_html": out / "table.html", "plot_png": out / "dsc_by_arm.png"}
    write_text_atomic(paths["results_csv"], rows_to_csv(case_rows, CASE_COLUMNS))
    write_text_atomic(paths["arms_csv"], rows_to_csv(rows, ARM_COLUMNS))
    write_text_atomic(paths["table_md"], f"# {title}\n\n" + table_markdown(spec.table, rows, reference) + f"\n{note}\n")
    write_text_atomic(paths["table_html"], table_html(title, spec.table, rows, reference, note))
    if rows:
        plot_arms(rows, paths["plot_png"], title)
    else:
        paths.pop("plot_png")
    return {k: str(v) for k, v in paths.items()}
