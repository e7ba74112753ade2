"""Run a study: train and evaluate every arm × seed (× fold) of a spec, then write the tables.

Output folder::

    OUT/spec.json                   the spec actually run (after --set overrides)
    OUT/data/                       phantom cohorts, merged healthy set, noisy-label and offline synthetic sets
    OUT/splits/seed<S>[-fold<F>].json   train / val / test case ids (shared by every arm of that seed/fold)
    OUT/runs/<arm>/seed<S>[-fold<F>]/
        model/ | nnunet/            the trained model (MONAI model folder, or the nnU-Net work folder)
        pred/<case>.nii.gz          predictions of the test cases
        prob/<case>.nii.gz          their tumour probability maps (MONAI arms; detection metrics)
        eval/                       cases.csv, lesions.csv, summary.json, summary.md, detection.json
        result.json                 written last: the run is finished (a re-run skips it)
    OUT/results.csv, arms.csv, comparisons.csv, detection.csv, table.md, table.html, dsc_by_arm.png,
        froc.png, study.json

The validation split (model selection) is separate from the test split (evaluation); every arm of a
seed sees the same three lists. Arms whose ``result.json`` exists are skipped, and interrupted
runs resume (training from its last checkpoint, predictions case by case).

Example:
    >>> from SynTumorLib.experiments.spec import load_spec
    >>> plan = run_study(load_spec("smoke-table1"), "/tmp/study", dry_run=True)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..utils.atomic import write_json_atomic
from ..utils.errors import InputError
from ..utils.jsonio import read_json
from ..utils.progress import ProgressCallback
from .spec import Arm, StudySpec


@dataclass(frozen=True)
class Run:
    """One training + evaluation: an arm at one seed (and fold)."""

    arm: Arm
    seed: int
    fold: int | None

    @property
    def split_name(self) -> str:
        return f"seed{self.seed}" + ("" if self.fold is None else f"-fold{self.fold}")

    def folder(self, out: Path) -> Path:
        return out / "runs" / self.arm.arm_id / self.split_name


def plan_runs(spec: StudySpec, only: list[str] | None = None) -> list[Run]:
    """Every arm × seed (the arm's own seeds, else the spec's) × fold."""
    return [Run(a, s, f) for a in spec.select(only) for s in (a.seeds or spec.seeds) for f in spec.folds]


def split_cases(split: dict, ids: list[str], seed: int, fold: int | None = None) -> dict[str, list[str]]:
    """The train/val/test ids of one study seed (and fold) under a spec's ``split`` settings.

    ``split["seed"]`` (when set) shuffles every study seed's split the same way — one test set,
    several training runs; ids matching a ``split["test_only"]`` pattern are test cases of every
    split and never train (e.g. tumour-free cases for the patient-level AUROC).

    >>> split_cases({"test_fraction": 0.25, "val_fraction": 0.0, "n_folds": None, "seed": 3, "test_only": ["n*"]},
    ...             ["a", "b", "c", "d", "n1"], seed=7)["test"]
    ['d', 'n1']
    """
    import fnmatch

    from ..segmentation.splits import make_splits

    only = [i for i in ids if any(fnmatch.fnmatchcase(i, p) for p in split.get("test_only") or [])]
    rest = [i for i in ids if i not in only]
    shuffle = seed if split.get("seed") is None else int(split["seed"])
    out = make_splits(rest, shuffle, split["test_fraction"], split["val_fraction"], split.get("n_folds"), fold)
    out["test"] = sorted(out["test"] + only)
    return out


def study_splits(spec: StudySpec, real: str, seed: int, fold: int | None, out: Path) -> dict[str, list[str]]:
    """The train/val/test ids of one seed (and fold), saved under ``OUT/splits``."""
    from ..data.datasets import open_dataset

    ids = [c.case_id for c in open_dataset(real).cases() if c.label is not None]
    splits = split_cases(spec.split, ids, seed, fold)
    if not splits["test"]:
        raise InputError(f"{real}: {len(ids)} cases leave no test case; add cases or raise split.test_fraction")
    write_json_atomic(out / "splits" / (f"seed{seed}" + ("" if fold is None else f"-fold{fold}") + ".json"), splits)
    return splits


def monai_train_config(spec: StudySpec, run: Run, data: dict, splits: dict) -> dict[str, Any]:
    """The TrainConfig dict of a U-Net / DynUNet / SwinUNETR arm: budget + model preset + arm data."""
    settings = dict(spec.models.get(run.arm.model) or {})
    cfg = {**spec.budget, **{k: v for k, v in settings.items() if k != "model"}}
    cfg["model"] = settings.get("model") or {"name": run.arm.model}
    cfg["data"] = {"real": data["real"], "arm": run.arm.size,
                   "healthy": data["healthy"] if run.arm.size != "none" else None,
                   "synthetic_prob": spec.synthesis["synthetic_prob"], "noisy_labels": data.get("noisy")}
    if run.arm.size != "none":
        # a preset name, or the classes themselves: the model folder's config.json replays the arm
        cfg["data"]["size_classes"] = spec.synthesis["size_classes"]
        if spec.synthesis["texture"] != "statistical":  # the default stays unstated: existing runs keep their config
            cfg["data"]["texture"] = spec.synthesis["texture"]
    cfg["split"] = {k: list(splits[k]) for k in ("train", "val", "test")}
    cfg["seed"] = run.seed
    cfg["device"] = spec.device
    cfg["name"] = f"{spec.name}/{run.arm.arm_id}/{run.split_name}"
    return cfg


def check_run_configs(spec: StudySpec, runs: list[Run]) -> None:
    """Build every run's training config now, on placeholder data paths, so a bad ``budget`` or
    ``models`` value (an unknown key, ``iterations: 0`` …) fails before any data is generated."""
    from ..segmentation import TrainConfig
    from ..segmentation.nnunet import NNUNetConfig

    placeholder = {"real": "<real>", "healthy": "<healthy>", "noisy": "<noisy>"}
    no_split = {"train": [], "val": [], "test": []}
    for run in {Run(r.arm, spec.seeds[0], None): None for r in runs}:  # one check per arm
        try:
            if run.arm.model == "nnunet":
                NNUNetConfig.from_dict({**(spec.models.get("nnunet") or {}), "device": spec.device, "seed": run.seed})
            else:
                data = {**placeholder, "noisy": placeholder["noisy"] if run.arm.noise != "none" else None}
                TrainConfig.from_dict(monai_train_config(spec, run, data, no_split), source="training config")
        except InputError as e:
            raise InputError(f"study spec: arm {run.arm.arm_id}: {e}") from None


def _train_and_predict_monai(spec, run, data, splits, folder: Path, progress) -> dict:
    from ..data.datasets import open_dataset
    from ..data.io import write_volume
    from ..runtime.devices import device_name
    from ..segmentation import TrainConfig, load_model, predict_with_probability, train

    timings = {}
    model_dir, done = folder / "model", folder / "train.done"
    if not done.is_file():
        cfg = TrainConfig.from_dict(monai_train_config(spec, run, data, splits), source=f"arm {run.arm.arm_id}")
        t0 = time.perf_counter()
        train(cfg, model_dir, resume=(model_dir / "checkpoints" / "last.pt").is_file(),
              progress=lambda f, m: progress(0.8 * f, m))
        timings["train_s"] = round(time.perf_counter() - t0, 2)
        write_json_atomic(done, timings)
    else:
        timings.update(read_json(done))
    t0 = time.perf_counter()
    model = load_model(model_dir, device=device_name(spec.device))
    ds = open_dataset(data["real"])
    for n, cid in enumerate(splits["test"]):
        dst, prob = folder / "pred" / f"{cid}.nii.gz", folder / "prob" / f"{cid}.nii.gz"
        progress(0.8 + 0.15 * n / len(splits["test"]), f"predict {cid}")
        if not (dst.is_file() and prob.is_file()):
            seg, p = predict_with_probability(model, ds.load_image(ds.case(cid)), device=spec.device)
            write_volume(p, prob)
            write_volume(seg, dst)  # written last: a kill between the two re-predicts the case
    timings["predict_s"] = round(time.perf_counter() - t0, 2)
    return timings


def _train_and_predict_nnunet(spec, run, data, splits, folder: Path, progress) -> dict:
    from ..segmentation.nnunet import NNUNetConfig, predict_nnunet, train_nnunet

    cfg = NNUNetConfig.from_dict({**(spec.models.get("nnunet") or {}), "device": spec.device, "seed": run.seed})
    t0 = time.perf_counter()
    train_nnunet(data["real"], folder / "nnunet", cfg, synthetic=data.get("synthetic"), noisy=data.get("noisy"),
                 train_cases=splits["train"], val_cases=splits["val"] or None,
                 progress=lambda f, m: progress(0.8 * f, m))
    t1 = time.perf_counter()
    predict_nnunet(folder / "nnunet", data["real"], folder / "pred", case_ids=splits["test"],
                   progress=lambda f, m: progress(0.8 + 0.15 * f, m))
    return {"train_s": round(t1 - t0, 2), "predict_s": round(time.perf_counter() - t1, 2)}


def run_data(spec: StudySpec, run: Run, datasets: dict, out: Path) -> tuple[dict, dict]:
    """(splits, datasets of the run): the split lists and the arm's derived sets (noisy labels, offline
    synthetic cases). Idempotent — every writer skips what exists — so a parallel study prepares them
    once in the parent before the workers start (arms sharing a noise level share its folder)."""
    from .data import noisy_dataset, offline_synthetic

    splits = study_splits(spec, datasets["real"], run.seed, run.fold, out)
    data = dict(datasets)
    if run.arm.noise != "none":
        data["noisy"] = noisy_dataset(datasets["real"], out, run.arm.noise, run.seed, spec.noise_options)
    if run.arm.size != "none" and run.arm.model == "nnunet":
        data["synthetic"] = offline_synthetic(datasets["healthy"], out, run.arm.size, run.seed,
                                              spec.synthesis["offline_copies"], spec.synthesis["size_classes"],
                                              texture=spec.synthesis["texture"])
    return splits, data


def run_one(spec: StudySpec, run: Run, datasets: dict, out: Path, progress: ProgressCallback | None = None,
            prepared: tuple[dict, dict] | None = None) -> dict:
    """Prepare the arm's data (unless ``prepared``, :func:`run_data`'s result, is given), train,
    predict the test cases, evaluate; write ``result.json``."""
    from ..metrics.evaluate import evaluate_folders

    cb = progress or (lambda f, m: None)
    folder = run.folder(out)
    t0 = time.perf_counter()
    splits, data = prepared if prepared is not None else run_data(spec, run, datasets, out)
    step = _train_and_predict_nnunet if run.arm.model == "nnunet" else _train_and_predict_monai
    timings = step(spec, run, data, splits, folder, cb)
    ev = spec.evaluation
    probs = folder / "prob"  # nnU-Net arms write no probability maps (yet): no detection metrics there
    rule = {"threshold": ev["detection_threshold"], "min_lesion_mm3": ev["min_lesion_mm3"], "hit_iou": ev["hit_iou"]}
    summary = evaluate_folders(folder / "pred", datasets["real"], folder / "eval", tolerance_mm=ev["tolerance_mm"],
                               size_classes=ev["size_classes"], include_empty=ev["include_empty"],
                               prob_dir=probs if probs.is_dir() else None, detection=rule)
    cases = summary.pop("cases")
    detection = summary.pop("detection_cases", None)
    timings["total_s"] = round(time.perf_counter() - t0, 2)
    result = {"study": spec.name, "arm": run.arm.arm_id, "model": run.arm.model, "size": run.arm.size,
              "noise": run.arm.noise, "seed": run.seed, "fold": run.fold, "splits": splits,
              "summary": summary, "cases": [{k: v for k, v in c.items() if k != "lesions"} for c in cases],
              "timings": timings}
    if detection is not None:
        from .detection import compact_cases

        result["detection_cases"] = compact_cases(detection)
    write_json_atomic(folder / "result.json", result)
    cb(1.0, f"{run.arm.arm_id} {run.split_name} done")
    return result


def run_study(
    spec: StudySpec,
    out_dir: str | os.PathLike,
    only: list[str] | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Run (or, with ``dry_run``, only list) every pending run of ``spec``; then write the tables.

    ``jobs`` > 1 trains that many runs at once, each in its own process (spawned: no fork of a
    process holding torch threads). Why: the smoke and demo arms train tiny networks on one torch
    thread each (two threads make such small steps slower), so on an n-core CPU n arms side by side
    use the cores that one arm cannot. Results are identical to a serial run (each run is seeded on
    its own). On one GPU keep ``jobs`` 1 unless the arms are small.

    Returns ``{"runs": [{"arm", "split", "status", "folder"}...], "outputs": {...}, "wall_s"}``;
    status is ``done`` (skipped: result.json exists), ``ran`` or ``pending`` (dry run).
    """
    if int(jobs) < 1:
        raise InputError(f"jobs must be ≥ 1, got {jobs}")
    from .data import resolve_datasets
    from .tables import write_outputs

    out = Path(out_dir)
    runs = plan_runs(spec, only)
    check_run_configs(spec, runs)
    t0 = time.perf_counter()
    status = [{"arm": r.arm.arm_id, "split": r.split_name, "folder": str(r.folder(out)),
               "status": "done" if (r.folder(out) / "result.json").is_file() else "pending"} for r in runs]
    if dry_run:
        return {"runs": status, "datasets": resolve_datasets(spec, out, dry_run=True), "outputs": {}, "wall_s": 0.0}
    out.mkdir(parents=True, exist_ok=True)
    spec_path = out / "spec.json"
    if spec_path.is_file():
        old = read_json(spec_path)
        if _core(old) != _core(spec.raw):
            raise InputError(f"{out}: holds a study run with another spec (datasets, split, seeds, budget or models "
                             "differ); use another --out folder")
    write_json_atomic(spec_path, spec.raw)
    cb = progress or (lambda f, m: None)
    pending = [r for r, s in zip(runs, status, strict=True) if s["status"] == "pending"]
    datasets = resolve_datasets(spec, out, progress=lambda f, m: cb(0.0, m)) if pending else None
    if int(jobs) > 1 and len(pending) > 1:
        _run_parallel(spec, runs, status, datasets, out, int(jobs), cb)
    for n, (r, s) in enumerate(zip(runs, status, strict=True)):
        if s["status"] != "pending":
            continue
        run_one(spec, r, datasets, out, lambda f, m, n=n, r=r: cb((n + f) / len(runs), f"{r.arm.arm_id}: {m}"))
        s["status"] = "ran"
    outputs = write_outputs(spec, out)
    wall = round(time.perf_counter() - t0, 2)
    write_json_atomic(out / "study.json", {"name": spec.name, "runs": status, "outputs": outputs, "wall_s": wall})
    cb(1.0, "study done")
    return {"runs": status, "outputs": outputs, "wall_s": wall}


def _worker(spec: StudySpec, run: Run, datasets: dict, out: Path, prepared: tuple[dict, dict]) -> str:
    """One run in a worker process (module-level so that it pickles); one torch thread per worker."""
    import torch

    torch.set_num_threads(1)
    run_one(spec, run, datasets, out, prepared=prepared)
    return run.arm.arm_id


def _run_parallel(spec: StudySpec, runs: list[Run], status: list[dict], datasets: dict, out: Path, jobs: int,
                  cb: ProgressCallback) -> None:
    """Train the pending runs ``jobs`` at a time; marks each finished one ``ran`` in ``status``.

    Shared derived data is prepared first, serially, so no two workers write the same folder. A
    failing run raises here (after the others finish) with its arm named; finished runs keep their
    ``result.json``, so a re-run continues with what is left.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    todo = [(r, s) for r, s in zip(runs, status, strict=True) if s["status"] == "pending"]
    prepared = [run_data(spec, r, datasets, out) for r, _ in todo]
    errors = []
    from ..utils.workers import watch_parent

    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=watch_parent,
                             initargs=(os.getpid(),)) as pool:  # workers die with this process
        futures = {pool.submit(_worker, spec, r, datasets, out, prep): (r, s)
                   for (r, s), prep in zip(todo, prepared, strict=True)}
        for n, fut in enumerate(as_completed(futures)):
            r, s = futures[fut]
            try:
                fut.result()
            except Exception as e:  # noqa: BLE001 - reported with the arm's name below
                errors.append(f"{r.arm.arm_id} {r.split_name}: {type(e).__name__}: {e}")
                s["status"] = "failed"
                continue
            s["status"] = "ran"
            cb((n + 1) / len(todo), f"{r.arm.arm_id} {r.split_name} done ({n + 1}/{len(todo)})")
    if errors:
        raise InputError("study runs failed (finished runs are kept; re-run to retry): " + "; ".join(errors))


def _core(d: dict) -> dict:
    """The parts of a spec that change results (arms may be added; titles and references may change)."""
    from .spec import SYNTH_DEFAULTS

    core = {k: d.get(k) for k in ("datasets", "phantom", "split", "seeds", "budget", "models", "synthesis",
                                  "noise_options", "evaluation")}
    # synthesis gained keys with defaults (size_classes): stating a default is the same spec
    if isinstance(core["synthesis"], dict) or core["synthesis"] is None:
        core["synthesis"] = {**SYNTH_DEFAULTS, **(core["synthesis"] or {})}
    return core
