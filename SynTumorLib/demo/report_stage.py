"""The demo's report stage: ``report.html`` (figures in ``img/``) with the cohort and its split, the
size classes, the insertion and label-noise galleries, Tables 1–3 laid out like the paper's, the
evaluation by size class, plots, the configuration and seeds, and the commands that reproduce each
number. Phantom figures are labelled as what they are: not clinical results.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..utils.jsonio import read_json
from .report import HtmlReport
from .stages_data import TUMOUR_FREE_PREFIX

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
        free = kind == "real_tumours" and cid.startswith(f"{TUMOUR_FREE_PREFIX}_")  # the tumour-free test-only cases
        rows.append({
            "case": cid, "cohort": "tumour_free" if free else kind, "seed": rec.get("seed"),
            "pancreas mL": rec.get("pancreas_ml"), "tumour mL": rec.get("tumour_ml"),
            "tumour Ø mm (planned)": ", ".join(f"{t['diameter_mm']:.1f}" for t in tum) or "—",
            "site": ", ".join(t["region"] for t in tum) or "—",
            "grid (i×j×k)": "×".join(str(s) for s in rec.get("shape_ijk", [])),
        })
    return rows


def _cohort_gallery(ctx, rows: list[dict]) -> str:
    """One axial slice per shown case (tumour red, pancreas green contours); returns its img/ path."""
    from ..data.io import read_volume
    from ..viz.overlay import save_gallery_png

    real = [r for r in rows if r["cohort"] == "real_tumours"][: ctx.budget.figure_cases]
    healthy = [r for r in rows if r["cohort"] == "healthy"][: max(1, ctx.budget.figure_cases // 2)]
    panels = []
    for r in real + healthy:
        root = ctx.real_dir if r["cohort"] == "real_tumours" else ctx.healthy_dir
        image = read_volume(root / "imagesTr" / f"{r['case']}.nii.gz")
        label = read_volume(root / "labelsTr" / f"{r['case']}.nii.gz")
        sub = f"tumour {r['tumour mL']:.1f} mL, {r['site']}" if r["cohort"] == "real_tumours" else "healthy"
        panels.append({"image": image, "label": label, "plane": "axial", "title": f"{r['case']}\n{sub}",
                       "contour_only": True})
    save_gallery_png(panels, ctx.img_dir / "cohort_axial.png", ncols=4,
                     title="Phantom cohort: axial slice through the tumour (red) or pancreas (green) centre")
    return "img/cohort_axial.png"


def _commands(ctx) -> str:
    """Shell commands that reproduce every stage's numbers, from the stored seeds and settings."""
    from ..utils.seeding import child_seed

    b, c = ctx.budget, ctx.results.get("cohort", {})
    q = shlex.quote
    lines = [f"syntumor demo --out {q(str(ctx.out))} --budget {b.name} --seed {ctx.seed}   # everything, resumable",
             "", f"cd {q(str(ctx.out))}   # or stage by stage:", "# 1. cohorts (case i uses child_seed(cohort seed, 'case', i))"]
    sp = " ".join(f"{s:g}" for s in b.spacing)
    shape = f" --shape {' '.join(str(s) for s in b.shape)}" if b.shape else ""
    for kind in ("real_tumours", "healthy"):
        info = c.get(kind)
        if info:
            tum = " --tumours" if info["tumours_per_case"] else ""
            lines.append(f"syntumor phantom --out {info['path']} --cases {info['cases']}{tum} --seed {info['seed']} "
                         f"--spacing {sp}{shape} --prefix {info['prefix']} --name SynTumorPhantom_{kind}")
    free = c.get("tumour_free")
    if free:
        shape_arg = f", shape={tuple(b.shape)}" if b.shape else ""
        lines += ["# tumour-free test-only cases (the AUROC's negatives) in the same folder as the real cases",
                  "python -c 'from SynTumorLib.experiments.data import add_tumour_free_cases; add_tumour_free_cases("
                  f"\"{free['path']}\", {free['cases']}, {free['seed']}, spacing={tuple(b.spacing)}{shape_arg}, "
                  f"prefix=\"{free['prefix']}\")'"]
    lines += [f"syntumor dataset check {c[k]['path']}" for k in ("real_tumours", "healthy") if k in c]
    lines += ["# 2. size classes from the quartiles of the real tumours",
              "syntumor sizes analyze data/real_tumours --out sizes"]
    ins = ctx.results.get("insertion", {})
    lines.append("# 3. one insertion (seed and class set per row of insertion/insertions.json), e.g.")
    for r in ins.get("rows", [])[:1]:
        classes = "sizes/size_classes.json" if r["class set"] == "quartile" else r["class set"]
        lines.append(f"syntumor insert --image data/healthy/imagesTr/{r['case']}.nii.gz --label "
                     f"data/healthy/labelsTr/{r['case']}.nii.gz --size-class {r['class']} --classes {classes} "
                     f"--seed {r['seed']} --out insert_{r['case']}_{r['class']}")
    tx = ctx.results.get("texture", {})
    if tx:
        plan, tr = tx["plan"], tx["training"]
        lines.append("# 3b. diffusion texture on the training split (texture/train_data links those cases), then its "
                     "quality on the test split")
        if not tr["reused"]:
            dev = plan["device"]
            lines += [f"syntumor train autoencoder {tr['data']} --out texture/autoencoder --config {plan['config']}"
                      + (f" --steps {plan['autoencoder_steps']}" if plan["autoencoder_steps"] else "")
                      + f" --seed {plan['autoencoder_seed']} --device {dev}",
                      f"syntumor train diffusion {tr['data']} --autoencoder texture/autoencoder --out texture/model"
                      + (f" --steps {plan['diffusion_steps']}" if plan["diffusion_steps"] else "")
                      + f" --seed {plan['diffusion_seed']} --device {dev}"]
        model = "texture/model" if not tr["reused"] else shlex.quote(tx["model"]["folder"])
        lines.append(f"syntumor demo --out {q(str(ctx.out))} --budget {b.name} --seed {ctx.seed} --texture-model {model}"
                     "   # re-measures (texture/quality.json, quality.md)")
    noise = ctx.results.get("noise", {})
    lines.append("# 4. noisy labels (the study's noise arms read these folders; dataset seed = child_seed(study seed, 'noise', level))")
    for lv, info in noise.get("levels", {}).items():
        lines.append(f"syntumor corrupt --dataset data/real_tumours --out {info['folder']} --level {lv} "
                     f"--seed {child_seed(noise['seeds'][0], 'noise', lv)} --control-points 3 --mode independent")
    lines += ["# 5–6. train every arm, predict and evaluate the test cases, write results.csv and the tables",
              "syntumor study run study_spec.json --out study",
              "syntumor study tables --out study   # tables with CIs, comparisons.csv, detection.csv, froc.png",
              "# one arm's evaluation again (cases.csv, lesions.csv, summary.json, detection.json)",
              f"syntumor evaluate --pred study/runs/unet-size-large/seed{noise.get('seeds', [0])[0]}/pred "
              f"--prob study/runs/unet-size-large/seed{noise.get('seeds', [0])[0]}/prob "
              "--ref data/real_tumours --out eval_large --size-classes sizes/size_classes.json"]
    return "\n".join(lines)


def _timing_rows(ctx) -> list[dict]:
    rows = [{"stage": k, "wall s": v, "CPU s": ctx.cpu_seconds.get(k)} for k, v in ctx.seconds.items() if k != "report"]
    rows.append({"stage": "total (before the report)", "wall s": round(sum(r["wall s"] for r in rows), 1),
                 "CPU s": round(sum(r["CPU s"] or 0.0 for r in rows), 1)})
    return rows


def write_report(ctx) -> dict:
    """Assemble ``report.html`` from the earlier stages' results and files."""
    from .report_sections import add_data_sections, add_result_sections

    ctx.img_dir.mkdir(parents=True, exist_ok=True)
    rows = _cohort_rows(ctx.real_dir, "real_tumours") + _cohort_rows(ctx.healthy_dir, "healthy")
    b = ctx.budget
    rep = HtmlReport("SynTumor demo — the study on the built-in phantom",
                     f"budget {b.name} · seed {ctx.seed} · SynTumorLib {__version__}")
    s = rep.section("What this run did")
    s.paragraph(NOT_CLINICAL, cls="warn")
    s.paragraph(f"On {b.real_cases} phantom CTs with 'real' pancreatic tumours (MSD-like), {b.tumour_free_cases} "
                f"tumour-free test CTs and {b.healthy_cases} healthy "
                "phantom CTs (NIH/BTCV-like): a train/validation/test split, size classes from the quartiles of the real "
                "tumours, synthetic tumours of every class, label noise at four levels, a small U-Net trained on every "
                "arm of the paper's Tables 1–3 through the study runner, and an evaluation on the held-out test cases "
                "(DSC, NSD at 2 mm with bootstrap 95 % CIs, paired comparisons with the baseline and one sentence per "
                "hypothesis, lesion sensitivity by size class and diameter, and PANORAMA-style detection: FROC, "
                "average precision, patient-level AUROC). Pancreas is green, tumour red in every figure.")
    s.paragraph(f"Budget '{b.name}': {b.iterations} training steps of batch {b.batch_size} on {b.crop}³ crops at "
                f"{b.spacing[0]:g} mm per arm. The tiny and small budgets are far too short for the networks to "
                "converge: their numbers show that the chain runs end to end, not which arm is better.")
    s.table(_timing_rows(ctx), source="demo_status.json", caption="Wall and CPU seconds per stage (this report's own "
            "time is in demo_status.json after it is written).")
    figs = add_data_sections(rep, ctx, rows, _cohort_gallery(ctx, rows))
    figs += add_result_sections(rep, ctx)

    s = rep.section("Configuration and seeds")
    cfg = {"budget": b.name, "seed": ctx.seed, "real cases": b.real_cases, "healthy cases": b.healthy_cases,
           "spacing mm (i, j, k)": list(b.spacing), "grid (i, j, k)": list(b.shape) if b.shape else "full field of view",
           "study seeds": list(ctx.results.get("noise", {}).get("seeds", [])),
           "training": f"{b.iterations} steps × batch {b.batch_size}, crop {b.crop}³, AdamW lr {b.lr:g}, cosine, "
                       f"U-Net channels {list(b.channels)}, device {b.device}",
           "texture": "statistical in the insertion gallery and the study's size arms; the diffusion texture "
                      "is trained and measured in section 4",
           "SynTumorLib": __version__, "python": sys.version.split()[0], "numpy": np.__version__}
    for kind, info in ctx.results.get("cohort", {}).items():
        if isinstance(info, dict) and "seed" in info:
            cfg[f"{kind} cohort seed"] = info["seed"]
    s.key_values(cfg)
    s.paragraph("The study spec the training stage ran (study_spec.json):")
    s.code(json.dumps(read_json(ctx.out / "study_spec.json"), indent=1))

    s = rep.section("Reproduce")
    s.paragraph("Run from the demo folder; each command rewrites the files its numbers come from.")
    s.code(_commands(ctx))
    s.paragraph(NOT_CLINICAL, cls="note")
    html_path = rep.write(ctx.out / "report.html")
    return {"html": str(html_path.relative_to(ctx.out)), "figures": figs}
