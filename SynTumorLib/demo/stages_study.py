"""The demo's study stages: train every arm of Tables 1–3 (scaled down) through the study runner
(:mod:`SynTumorLib.experiments`) on the demo's own cohort, then evaluate and plot.

The spec is built from the demo's cohort and budget and saved as ``study_spec.json``, so
``syntumor study run study_spec.json --out study`` reproduces the training stage on its own. One
study holds all arms (baseline, five size arms, four noise levels): the baseline is shared by the
three tables as in the paper, where "without synthetic volumes" and "with original labels" are the
same models. The size arms synthesise tumours of the cohort's quartile classes (``sizes/size_classes.json``,
the paper's method), the same classes the evaluation breaks results down by.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..utils.atomic import write_json_atomic
from ..utils.errors import InputError
from ..utils.jsonio import read_json
from .aggregate import arm_summary, read_results, size_class_summary
from .stages_data import LEVELS, NOISE_OPTIONS, split_settings, study_seeds

SIZE_ARMS = ("tiny", "small", "medium", "large", "mixed")
MODEL = "unet"


def arm_ids() -> list[str]:
    """The study's arm ids in table order."""
    return ([f"{MODEL}-baseline"] + [f"{MODEL}-size-{s}" for s in SIZE_ARMS] + [f"{MODEL}-noise-{lv}" for lv in LEVELS])


def build_spec(ctx) -> dict[str, Any]:
    """The study spec (JSON-able) of the demo's cohort, split fractions, seeds and training budget."""
    b = ctx.budget
    channels = list(b.channels)
    return {
        "name": f"demo-{b.name}",
        "title": f"SynTumor demo ({b.name} budget): Tables 1–3 on the phantom",
        "description": "Built by `syntumor demo` from its phantom cohort; phantom numbers are not clinical results.",
        "table": "size",
        "datasets": {"real": str(ctx.real_dir), "healthy": [str(ctx.healthy_dir)]},
        "split": split_settings(ctx),
        "seeds": study_seeds(ctx),
        "arms": ([{"model": MODEL}] + [{"model": MODEL, "size": s} for s in SIZE_ARMS]
                 + [{"model": MODEL, "noise": lv} for lv in LEVELS]),
        "budget": {"spacing": list(b.spacing), "crop_size": [b.crop] * 3, "batch_size": b.batch_size,
                   "iterations": b.iterations, "optimizer": "adamw", "lr": b.lr, "schedule": "cosine",
                   "warmup_iterations": max(1, b.iterations // 10), "val_every": b.val_every,
                   "checkpoint_every": b.iterations, "max_val_cases": 2, "device": b.device,
                   **({"augment": {"flip_prob": b.flip_prob}} if b.flip_prob is not None else {})},
        "models": {MODEL: {"model": {"name": MODEL, "args": {"channels": channels, "strides": [2] * (len(channels) - 1),
                                                             "num_res_units": 1}}}},
        # the size arms draw from the cohort's quartile classes, the classes the evaluation bins by
        "synthesis": {"synthetic_prob": 0.5, "offline_copies": 1,
                      "size_classes": str(ctx.sizes_dir / "size_classes.json")},
        "noise_options": dict(NOISE_OPTIONS),
        "evaluation": {"tolerance_mm": 2.0, "size_classes": str(ctx.sizes_dir / "size_classes.json"),
                       "include_empty": False},
        "device": b.device,
    }


def stage_train(ctx) -> dict:
    """Run the study (resumable: finished arms are skipped) and check it used the demo's split."""
    from ..experiments import StudySpec, run_study

    spec_dict = build_spec(ctx)
    write_json_atomic(ctx.out / "study_spec.json", spec_dict)
    cb = ctx.progress("train")
    res = run_study(StudySpec.from_dict(spec_dict), ctx.study_dir, progress=cb, jobs=ctx.budget.study_jobs)
    demo_splits = read_json(ctx.out / "splits.json")
    for seed in study_seeds(ctx):
        used = read_json(ctx.study_dir / "splits" / f"seed{seed}.json")
        mine = {k: demo_splits[f"seed{seed}"][k] for k in ("train", "val", "test")}
        if {k: used[k] for k in mine} != mine:  # both come from make_splits: a mismatch is a bug
            raise InputError(f"study split seed{seed} differs from the demo's splits.json: {used} vs {mine}")
    return {"spec": "study_spec.json", "study": str(ctx.study_dir.relative_to(ctx.out)), "wall_s": res["wall_s"],
            "runs": [{"arm": r["arm"], "split": r["split"], "status": r["status"]} for r in res["runs"]],
            "results_csv": str((ctx.study_dir / "results.csv").relative_to(ctx.out))}


def _histories(ctx, seed: int) -> dict[str, list[dict]]:
    out = {}
    for arm in arm_ids():
        p = ctx.study_dir / "runs" / arm / f"seed{seed}" / "model" / "log.json"
        if p.is_file():
            out[arm] = read_json(p)
    return out


def _statistics(ctx, rows: list[dict]) -> dict[str, Any]:
    """Bootstrap intervals and paired comparisons (from ``results.csv``), detection and sensitivity
    by diameter (from the runs' ``result.json``), with the rule and bootstrap settings of the spec."""
    from ..experiments import StudySpec
    from ..experiments.comparisons import arm_intervals, compare_arms
    from ..experiments.detection import arm_detection, plot_froc
    from ..experiments.tables import collect_results
    from ..metrics.size_breakdown import DIAMETER_BINS

    spec = StudySpec.from_dict(read_json(ctx.out / "study_spec.json"))
    ev = spec.evaluation
    boot = {"n_bootstrap": ev["n_bootstrap"], "bootstrap_seed": ev["bootstrap_seed"]}
    intervals = arm_intervals(rows, arm_ids(), ev["include_empty"], ev["n_bootstrap"], ev["bootstrap_seed"])
    comparisons = compare_arms(rows, spec.arms, ev["include_empty"], ev["n_bootstrap"], ev["bootstrap_seed"])
    results = collect_results(ctx.study_dir)
    det = arm_detection(results, arm_ids())
    if det:
        plot_froc(det, ctx.img_dir / "froc.png", f"Lesion-level FROC of every arm (IoU ≥ {ev['hit_iou']:g}; "
                  f"{ctx.budget.name} budget, phantom)")
    by_diameter = []
    for arm in arm_ids():
        runs = [r for r in results if r["arm"] == arm]
        for name in DIAMETER_BINS.names:
            n = sum(r["summary"]["by_diameter"][name]["n_lesions"] for r in runs)
            found = sum(r["summary"]["by_diameter"][name]["detected"] for r in runs)
            by_diameter.append({"arm": arm, "bin": name, "lesions": n, "detected": found,
                                "sensitivity": found / n if n else None})
    return {"intervals": intervals, "comparisons": comparisons, "detection": det, "by_diameter": by_diameter,
            "rule": {k: ev[k] for k in ("detection_threshold", "min_lesion_mm3", "hit_iou")}, "bootstrap": boot,
            "include_empty": ev["include_empty"]}


def stage_evaluate(ctx) -> dict:
    """Aggregate ``results.csv`` per arm and per size class (with bootstrap intervals and the paired
    comparisons), the detection metrics and FROC curves, plot DSC/NSD by arm and the loss curves,
    and draw predictions vs ground truth for the first test cases."""
    from ..data.datasets import open_dataset
    from ..data.io import read_volume
    from ..experiments.tables import plot_arms
    from ..geometry.sizes import CLASS_ORDER
    from .figures import loss_curves, prediction_gallery

    cb = ctx.progress("evaluate")
    rows = read_results(ctx.study_dir / "results.csv")
    if not rows:
        raise InputError(f"{ctx.study_dir / 'results.csv'}: no results (did the training stage finish?)")
    arms = arm_summary(rows)
    missing = [a for a in arm_ids() if a not in arms]
    if missing:
        raise InputError(f"{ctx.study_dir / 'results.csv'}: no results for arms {missing}")
    by_size = size_class_summary(rows, CLASS_ORDER)
    ctx.img_dir.mkdir(parents=True, exist_ok=True)
    stats = _statistics(ctx, rows)
    ci = stats["intervals"]
    plot_rows = [{"arm": a, **{k: arms[a][k] for k in ("dsc_mean", "dsc_sd", "nsd_mean", "nsd_sd")},
                  **{f"{m}_{k}": ci[a][m][b] for m in ("dsc", "nsd")
                     for k, b in (("estimate", "estimate"), ("ci_lo", "lo"), ("ci_hi", "hi"))}} for a in arm_ids()]
    plot_arms(plot_rows, ctx.img_dir / "dsc_by_arm.png",
              f"Tumour DSC and NSD (2 mm) by arm, mean and 95 % CI (bootstrap over test cases) — {ctx.budget.name} "
              "budget, phantom")
    seed = study_seeds(ctx)[0]
    loss_curves(_histories(ctx, seed), ctx.img_dir / "loss_curves.png",
                f"Training of every arm (seed {seed}): loss and validation tumour Dice")
    if cb:
        cb(0.4, "plots")
    split = read_json(ctx.out / "splits.json")[f"seed{seed}"]
    ds = open_dataset(ctx.real_dir)
    galleries = []
    tumour_tests = [c for c in split["test"] if c not in split.get("test_tumour_free", [])]
    tests = tumour_tests[: max(1, ctx.budget.figure_cases // 2)]
    for n, case in enumerate(tests):
        image, ref = ds.load(ds.case(case))
        preds = {a: read_volume(ctx.study_dir / "runs" / a / f"seed{seed}" / "pred" / f"{case}.nii.gz")
                 for a in arm_ids()}
        path = ctx.img_dir / f"pred_{case}.png"
        prediction_gallery(image, ref, preds, path, case)
        galleries.append({"case": case, "src": str(Path(path).relative_to(ctx.out))})
        if cb:
            cb(0.4 + 0.6 * (n + 1) / len(tests), case)
    plots = {"dsc_by_arm": "img/dsc_by_arm.png", "loss": "img/loss_curves.png"}
    if stats["detection"]:
        plots["froc"] = "img/froc.png"
    result = {"source": str((ctx.study_dir / "results.csv").relative_to(ctx.out)), "arms": arms,
              "by_size_class": by_size, "plots": plots, "predictions": galleries, "test_cases": split["test"],
              "test_tumour_free": split.get("test_tumour_free", []), "seed": seed, **stats}
    write_json_atomic(ctx.out / "evaluation.json", result)
    return result
