"""The demo's report stage: cohort tables, check results, slice figures, configuration, seeds and
the commands that reproduce the run — written as ``report.html`` with its figures in ``img/``.

Example:
    >>> import tempfile
    >>> from SynTumorLib.demo.pipeline import run_demo
    >>> ctx = run_demo(tempfile.mkdtemp(), budget="tiny", seed=2, log=lambda s: None)
    >>> sorted(ctx.results["report"])
    ['figures', 'html']
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..utils.jsonio import read_json
from .report import HtmlReport

NOT_CLINICAL = ("All images are procedural phantoms generated on this machine, not patient data; every "
                "number here describes the phantom run at the stated budget and is not a clinical result.")


def _cohort_rows(root: Path, kind: str) -> list[dict]:
    meta = read_json(root / "dataset.json")
    rows = []
    for entry in meta["training"]:
        cid = Path(entry["image"]).name.removesuffix(".nii.gz")
        rec_path = root / "records" / f"{cid}.json"
        rec = read_json(rec_path) if rec_path.exists() else {}
        tum = rec.get("tumours", [])
        rows.append({
            "case": cid, "cohort": kind, "seed": rec.get("seed"),
            "pancreas mL": rec.get("pancreas_ml"), "tumour mL": rec.get("tumour_ml"),
            "tumour Ø mm (planned)": ", ".join(f"{t['diameter_mm']:.1f}" for t in tum) or "—",
            "site": ", ".join(t["region"] for t in tum) or "—",
            "grid (i×j×k)": "×".join(str(s) for s in rec.get("shape_ijk", [])),
        })
    return rows


def _figures(ctx, rows: list[dict], img_dir: Path) -> list[dict]:
    from ..data.io import read_volume
    from ..viz.overlay import save_gallery_png, save_slices_png

    figs = []
    real = [r for r in rows if r["cohort"] == "real_tumours"][: ctx.budget.figure_cases]
    healthy = [r for r in rows if r["cohort"] == "healthy"][: max(1, ctx.budget.figure_cases // 2)]
    panels = []
    chosen = real + healthy
    cb = ctx.progress("report")
    for n, r in enumerate(chosen):
        root = ctx.real_dir if r["cohort"] == "real_tumours" else ctx.healthy_dir
        image = read_volume(root / "imagesTr" / f"{r['case']}.nii.gz")
        label = read_volume(root / "labelsTr" / f"{r['case']}.nii.gz")
        name = f"{r['case']}.png"
        title = f"{r['case']} — pancreas {r['pancreas mL']:.1f} mL" + (
            f", tumour {r['tumour mL']:.1f} mL ({r['site']})" if r["cohort"] == "real_tumours" else " (healthy)")
        save_slices_png(image, label, img_dir / name, planes=("axial", "coronal"), title=title)
        figs.append({"src": f"img/{name}", "caption": title})
        panels.append({"image": image, "label": label, "plane": "axial", "title": r["case"], "contour_only": True})
        if cb:
            cb((n + 1) / (len(chosen) + 1), r["case"])
    if panels:
        save_gallery_png(panels, img_dir / "gallery_axial.png", ncols=4,
                         title="Axial slices through the tumour (red) or pancreas (green) centre")
        figs.insert(0, {"src": "img/gallery_axial.png", "caption": "Gallery: one axial slice per case (contours)."})
    return figs


def _commands(ctx) -> str:
    b, c = ctx.budget, ctx.results.get("cohort", {})
    out = shlex.quote(str(ctx.out))
    lines = [f"syntumor demo --out {out} --budget {b.name} --seed {ctx.seed}", "", "# or stage by stage:"]
    sp = " ".join(f"{s:g}" for s in b.spacing)
    shape = f" --shape {' '.join(str(s) for s in b.shape)}" if b.shape else ""
    for kind in ("real_tumours", "healthy"):
        info = c.get(kind)
        if not info:
            continue
        tum = " --tumours" if info["tumours_per_case"] else ""
        path = shlex.quote(str(ctx.out / info["path"]))
        lines.append(f"syntumor phantom --out {path} --cases {info['cases']}{tum} --seed {info['seed']} "
                     f"--spacing {sp}{shape} --prefix {info['prefix']} --name SynTumorPhantom_{kind}")
    for kind in ("real_tumours", "healthy"):
        if kind in c:
            lines.append(f"syntumor dataset check {shlex.quote(str(ctx.out / c[kind]['path']))}")
    return "\n".join(lines)


def write_report(ctx) -> dict:
    img_dir = ctx.out / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    rows = _cohort_rows(ctx.real_dir, "real_tumours") + _cohort_rows(ctx.healthy_dir, "healthy")
    b = ctx.budget
    rep = HtmlReport("SynTumor demo", f"budget {b.name} · seed {ctx.seed} · SynTumorLib {__version__}")

    s = rep.section("What this run did")
    s.paragraph(f"Generated {b.real_cases} phantom CTs with 'real' hypodense pancreatic tumours (an MSD-like cohort) "
                f"and {b.healthy_cases} healthy phantom CTs (an NIH/BTCV-like cohort), checked both datasets and "
                "rendered the slices below. Pancreas is green, tumour red.")
    s.paragraph(NOT_CLINICAL, cls="note")
    s.table([{"stage": k, "seconds": v} for k, v in ctx.seconds.items()] or [{"stage": "—", "seconds": None}])

    s = rep.section("Cohorts")
    real = [r for r in rows if r["cohort"] == "real_tumours"]
    tum_ml = [r["tumour mL"] for r in real if r["tumour mL"]]
    summary = [{"cohort": kind, "cases": sum(r["cohort"] == kind for r in rows),
                "pancreas mL (median)": float(np.median([r["pancreas mL"] for r in rows if r["cohort"] == kind] or [np.nan])),
                "tumour mL (median)": float(np.median([r["tumour mL"] for r in rows if r["cohort"] == kind] or [np.nan]))}
               for kind in ("real_tumours", "healthy")]
    s.table(summary)
    s.table(rows)
    figs = []
    if len(tum_ml) >= 2:
        from ..viz.plots import save_histogram_png

        save_histogram_png(tum_ml, img_dir / "tumour_volumes.png", xlabel="tumour volume (mL)",
                           title="Real-tumour volumes with quartile cuts", quartiles=len(tum_ml) >= 4)
        s.image("img/tumour_volumes.png", "Tumour volumes of the 'real' cohort (dashed: quartiles).")
        figs.append("img/tumour_volumes.png")

    s = rep.section("Dataset checks")
    chk = ctx.results.get("check", {})
    if not chk.get("available", False):
        s.paragraph(chk.get("message", "the check stage did not run"), cls="bad")
    for kind in ("real_tumours", "healthy"):
        r = chk.get(kind)
        if not r:
            continue
        s.paragraph(f"{kind}: {'OK' if r['ok'] else 'FAILED'} — {len(r['errors'])} errors, {len(r['warnings'])} warnings "
                    f"(details: {r['markdown']})", cls="good" if r["ok"] else "bad")
        if r["errors"] or r["warnings"]:
            s.table(r["errors"] + r["warnings"], ["case", "file", "problem"])

    s = rep.section("Slices")
    for f in _figures(ctx, rows, img_dir):
        s.image(f["src"], f["caption"])
        figs.append(f["src"])

    s = rep.section("Configuration and seeds")
    cfg = {"budget": b.name, "seed": ctx.seed, "real cases": b.real_cases, "healthy cases": b.healthy_cases,
           "spacing mm (i, j, k)": list(b.spacing), "grid (i, j, k)": list(b.shape) if b.shape else "full field of view",
           "SynTumorLib": __version__, "python": sys.version.split()[0], "numpy": np.__version__}
    for kind, info in ctx.results.get("cohort", {}).items():
        cfg[f"{kind} cohort seed"] = info["seed"]
    s.key_values(cfg)
    s.paragraph("Case i of a cohort uses seed child_seed(cohort seed, 'case', i); records/<case>.json in each "
                "dataset holds every anatomy and tumour parameter.")

    s = rep.section("Reproduce")
    s.code(_commands(ctx))
    html_path = rep.write(ctx.out / "report.html")
    return {"html": str(html_path.relative_to(ctx.out)), "figures": figs}
