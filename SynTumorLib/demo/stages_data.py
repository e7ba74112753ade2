"""The demo's data stages: phantom cohorts and their split, dataset check, tumour-size quartiles,
synthetic insertion of every size class, and label noise at every level.

Each ``stage_*`` takes the :class:`~SynTumorLib.demo.pipeline.DemoContext` and returns a JSON-able
dict (kept in ``demo_status.json``). They write their files under the demo's output folder; the
noise stage writes the noisy datasets exactly where the study runner looks for them
(``study/data/noisy-<level>-s<seed>``), so the training stage reuses them instead of redoing them.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.atomic import write_json_atomic, write_text_atomic
from ..utils.jsonio import read_json

LEVELS = ("low", "moderate", "high", "extreme")
NOISE_OPTIONS = {"control_points": 3, "mode": "independent"}  # the paper's x, y, z-independent deformation


def study_seeds(ctx) -> list[int]:
    """The study's seeds: the demo seed offset by the budget's seeds (one training run per seed; they
    share the first seed's split — see :func:`split_settings`)."""
    return [ctx.seed + int(s) for s in ctx.budget.seeds]


TUMOUR_FREE_PREFIX = "normal"


def split_settings(ctx) -> dict:
    """The study spec's ``split``: the budget's fractions, one shuffle (the first study seed's) for
    every seed, and the tumour-free cases as test-only cases."""
    b = ctx.budget
    return {"test_fraction": b.test_fraction, "val_fraction": b.val_fraction, "seed": study_seeds(ctx)[0],
            "test_only": [f"{TUMOUR_FREE_PREFIX}_*"]}


def _sub(cb, lo: float, hi: float):
    """A progress callback mapping [0, 1] of a sub-task into [lo, hi] of the stage (None-safe)."""
    return (lambda f, m: cb(lo + (hi - lo) * f, m)) if cb else None


# ----------------------------------------------------------------------------- 1. cohort + split
def stage_cohort(ctx) -> dict:
    """Two phantom cohorts — 'real' tumour cases (MSD-like) and healthy cases (NIH/BTCV-like) — and
    the train / validation / test split of the real cases for every study seed (``splits.json``).
    The budget's tumour-free cases join the 'real' cohort as test-only cases (the AUROC's negatives)."""
    from ..data.phantom import generate_cohort
    from ..experiments.data import add_tumour_free_cases
    from ..experiments.study import split_cases

    b = ctx.budget
    out: dict[str, Any] = {}
    total = b.real_cases + b.healthy_cases
    cb = ctx.progress("cohort")
    for kind, path, n, tumours, prefix, offset in (
        ("real_tumours", ctx.real_dir, b.real_cases, True, "pancreas", 0),
        ("healthy", ctx.healthy_dir, b.healthy_cases, False, "healthy", b.real_cases),
    ):
        seed = ctx.child_seed("cohort", kind)
        generate_cohort(path, n, seed, tumours=tumours, spacing=b.spacing, shape=b.shape,
                        name=f"SynTumorPhantom_{kind}", progress=_sub(cb, offset / total, (offset + n) / total),
                        case_prefix=prefix)
        out[kind] = {"path": str(path.relative_to(ctx.out)), "seed": seed, "cases": n, "tumours_per_case": int(tumours),
                     "prefix": prefix}
    free = []
    if b.tumour_free_cases:
        seed = ctx.child_seed("cohort", "tumour_free")
        free = add_tumour_free_cases(ctx.real_dir, b.tumour_free_cases, seed, spacing=b.spacing, shape=b.shape,
                                     prefix=TUMOUR_FREE_PREFIX)
        out["tumour_free"] = {"path": str(ctx.real_dir.relative_to(ctx.out)), "seed": seed, "cases": len(free),
                              "prefix": TUMOUR_FREE_PREFIX}
    ids = [f"pancreas_{i:03d}" for i in range(b.real_cases)] + free
    healthy = [f"healthy_{i:03d}" for i in range(b.healthy_cases)]
    splits = {f"seed{s}": {**split_cases(split_settings(ctx), ids, s), "test_tumour_free": free, "healthy_train": healthy}
              for s in study_seeds(ctx)}
    write_json_atomic(ctx.out / "splits.json", splits)
    out["splits"] = {k: {part: len(v) for part, v in sp.items()} for k, sp in splits.items()}
    if cb:
        cb(1.0, "cohorts written")
    return out


def stage_check(ctx) -> dict:
    """Validate both cohorts with the dataset checker; a failed check makes the CLI exit 1."""
    from ..data.check import check_dataset

    out: dict = {"available": True}
    cb = ctx.progress("check")
    dirs = {"real_tumours": ctx.real_dir, "healthy": ctx.healthy_dir}
    for i, (kind, path) in enumerate(dirs.items()):
        rep = check_dataset(path, progress=_sub(cb, i / len(dirs), (i + 1) / len(dirs)))
        md = ctx.out / "checks" / f"{kind}.md"
        write_text_atomic(md, rep.to_markdown())
        out[kind] = {"ok": rep.ok, "errors": rep.errors, "warnings": rep.warnings, "summary": rep.summary,
                     "markdown": str(md.relative_to(ctx.out))}
    return out


# ----------------------------------------------------------------------------- 2. size quartiles
def stage_sizes(ctx) -> dict:
    """Quartiles of the real tumours' equivalent radii → four size classes (``sizes/size_classes.json``),
    exactly what ``syntumor sizes analyze data/real_tumours --out sizes`` writes.

    All real cases are measured, as the paper derived its classes from the whole MSD set. The classes
    are what the study's training size arms synthesise (``build_spec`` sets the spec key
    ``synthesis.size_classes`` to this file), and they drive the insertion gallery and the
    evaluation's by-size breakdown. As in the paper, the test tumours' *sizes* therefore shape the
    classes the arms train with (their images and labels never reach training).
    """
    from ..geometry.size_analysis import analyze_dataset, write_analysis

    cb = ctx.progress("sizes")
    result = analyze_dataset(ctx.real_dir, progress=_sub(cb, 0.0, 0.8), name=f"demo-{ctx.budget.name}-quartiles")
    paths = write_analysis(result, ctx.sizes_dir)
    ctx.img_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paths["png"], ctx.img_dir / "size_histogram.png")
    if cb:
        cb(1.0, "size classes written")
    return {"json": str(paths["json"].relative_to(ctx.out)), "csv": str(paths["csv"].relative_to(ctx.out)),
            "n_cases": result["n_cases"], "n_tumours": result["n_tumours"],
            "quartiles_radius_mm": result["quartiles_radius_mm"], "classes": result["size_classes"]["classes"],
            "histogram": "img/size_histogram.png"}


# ----------------------------------------------------------------------------- 3. insertion
def _class_sets(ctx) -> dict[str, str]:
    """The class sets shown: the demo's quartile classes — the ones the study's size arms train with
    (spec key ``synthesis.size_classes``) — and, for comparison, the ``syntumor`` preset."""
    return {"quartile": str(ctx.sizes_dir / "size_classes.json"), "syntumor": "syntumor"}


def stage_insertion(ctx) -> dict:
    """One insertion of every size class (statistical texture) into each of the first healthy cases,
    for both class sets; a gallery PNG per class and the delivered vs nominal volume per class."""
    from ..data.datasets import open_dataset
    from ..geometry.sizes import CLASS_ORDER, load_size_classes
    from ..insertion import insert_tumours
    from ..utils.errors import InputError
    from .figures import insertion_gallery

    ds = open_dataset(ctx.healthy_dir)
    cases = ds.cases()[: ctx.budget.insert_cases]
    sets = _class_sets(ctx)
    cb = ctx.progress("insertion")
    rows, panels = [], {c: [] for c in CLASS_ORDER}
    jobs = [(c, name, src, case) for c in CLASS_ORDER for name, src in sets.items() for case in cases]
    loaded = {case.case_id: ds.load(case) for case in cases}
    for n, (cls, set_name, src, case) in enumerate(jobs):
        image, label = loaded[case.case_id]
        seed = ctx.child_seed("insert", set_name, cls, case.case_id)
        size = load_size_classes(src)[cls]
        row = {"class": cls, "class set": set_name, "case": case.case_id, "seed": seed,
               "r_sel mm": size.radius_mm, "range mm": list(size.range_mm),
               "nominal mL": 4.0 / 3.0 * math.pi * size.radius_mm ** 3 / 1000.0}
        try:
            new, lab, rec = insert_tumours(image, label, {"size_class": cls, "classes": src}, seed=seed)
        except InputError as e:  # a small pancreas may not host a large class: report it, do not fail
            rows.append({**row, "tumours": 0, "drawn mL": None, "delivered mL": None, "error": str(e)})
            continue
        write_json_atomic(ctx.out / "insertion" / "records" / f"{case.case_id}_{set_name}_{cls}.json", rec)
        rows.append({**row, "tumours": len(rec["tumours"]),
                     "drawn mL": sum(t["drawn_mm3"] for t in rec["tumours"]) / 1000.0,
                     "delivered mL": rec["delivered_mm3"] / 1000.0, "error": None})
        panels[cls].append({"image": new, "label": lab, "title": f"{case.case_id} · {set_name} {cls}\n"
                            f"{rec['delivered_mm3'] / 1000.0:.1f} mL delivered"})
        if cb:
            cb((n + 1) / (len(jobs) + 1), f"{set_name} {cls} {case.case_id}")
    galleries = {}
    for cls, ps in panels.items():
        if ps:
            path = ctx.img_dir / f"insert_{cls}.png"
            insertion_gallery(ps, path, f"Synthetic '{cls}' tumours (statistical texture), axial slice through the tumour")
            galleries[cls] = str(path.relative_to(ctx.out))
    summary = []
    for cls in CLASS_ORDER:
        for set_name in sets:
            rs = [r for r in rows if r["class"] == cls and r["class set"] == set_name]
            ok = [r for r in rs if r["delivered mL"] is not None]
            summary.append({"class": cls, "class set": set_name, "r_sel mm": rs[0]["r_sel mm"],
                            "nominal mL": rs[0]["nominal mL"], "insertions": len(ok), "failed": len(rs) - len(ok),
                            "drawn mL": float(np.mean([r["drawn mL"] for r in ok])) if ok else None,
                            "delivered mL": float(np.mean([r["delivered mL"] for r in ok])) if ok else None})
    for s in summary:
        s["delivered / drawn"] = (s["delivered mL"] / s["drawn mL"]) if s["drawn mL"] else None
    result = {"class_sets": sets, "texture": "statistical", "rows": rows, "summary": summary, "galleries": galleries,
              "diffusion": ("these galleries use the statistical texture; the texture stage (next section) trains "
                            "the latent-diffusion texture on the training split and compares both textures on the test "
                            "tumours — insert with it by `syntumor insert --texture texture/model`")}
    write_json_atomic(ctx.out / "insertion" / "insertions.json", result)
    return result


# ----------------------------------------------------------------------------- 4. label noise
def stage_noise(ctx) -> dict:
    """Corrupt the real tumour labels at the four levels — written where the study's noise arms read
    them — and a gallery of one tumour's clean vs corrupted contour per level."""
    from ..corruption import sigma_for_level
    from ..data.datasets import open_dataset
    from ..experiments.data import noisy_dataset
    from .figures import noise_gallery

    cb = ctx.progress("noise")
    seeds = study_seeds(ctx)
    levels: dict[str, Any] = {}
    jobs = [(lv, s) for lv in LEVELS for s in seeds]
    for n, (level, seed) in enumerate(jobs):
        folder = Path(noisy_dataset(str(ctx.real_dir), ctx.study_dir, level, seed, dict(NOISE_OPTIONS),
                                    progress=_sub(cb, n / (len(jobs) + 1), (n + 1) / (len(jobs) + 1))))
        summary = read_json(folder / "summary.json")
        if seed == seeds[0]:
            levels[level] = {"sigma_mm": sigma_for_level(level), "folder": str(folder.relative_to(ctx.out)),
                             "summary": str((folder / "summary.json").relative_to(ctx.out)),
                             **{m: (summary.get(m) or {}).get("mean") for m in ("dice", "nsd", "msd_mm", "hd95_mm")},
                             "cases": summary["cases"], "vanished": summary["vanished"]}
    # the gallery shows the training case with the largest tumour, so every level's change is visible
    split = read_json(ctx.out / "splits.json")[f"seed{seeds[0]}"]
    ds = open_dataset(ctx.real_dir)
    sizes = {c: int((ds.load_label(ds.case(c)).array == 2).sum()) for c in split["train"]}
    case = max(sizes, key=sizes.get)
    image, clean = ds.load(ds.case(case))
    noisy = {lv: open_dataset(ctx.out / levels[lv]["folder"]).load_label(ds.case(case)) for lv in LEVELS}
    path = ctx.img_dir / "noise_levels.png"
    noise_gallery(image, clean, noisy, {lv: levels[lv]["sigma_mm"] for lv in LEVELS}, path, case)
    if cb:
        cb(1.0, "noise gallery written")
    return {"levels": levels, "seeds": seeds, "options": NOISE_OPTIONS, "gallery": str(path.relative_to(ctx.out)),
            "gallery_case": case}
