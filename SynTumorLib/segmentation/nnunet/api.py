"""Train and predict with the real nnU-Net v2, from our datasets, in a work folder of our own.

Work folder layout (everything an nnU-Net experiment is, on disk)::

    WORK/nnunet.json            our settings: NNUNetConfig, sources, case lists, split, timings
    WORK/nnUNet_raw/Dataset<ID>_<name>/       written by :func:`SynTumorLib.data.nnunet_export.export_nnunet`
    WORK/nnUNet_preprocessed/Dataset<ID>_<name>/   plans, preprocessed data, our splits_final.json
    WORK/nnUNet_results/Dataset<ID>_<name>/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_F/
    WORK/logs/{plan,train,predict}.log        nnU-Net's console output

nnU-Net itself runs in a child process (:mod:`.run`) whose ``nnUNet_*`` variables point into the
work folder; the caller's environment is never changed. Re-running :func:`train_nnunet` with the
same settings resumes: exported cases are kept, planning is skipped once done, training continues
from ``checkpoint_latest.pth`` and is skipped once ``checkpoint_final.pth`` exists.

Example (CPU, a tiny budget; see Testing/test_nnunet.py)::

    from SynTumorLib.segmentation.nnunet import NNUNetConfig, train_nnunet, predict_nnunet
    cfg = NNUNetConfig(dataset_id=501, epochs=1, iterations_per_epoch=3, val_iterations_per_epoch=1,
                       device="cpu", da_processes=0, tta=False)
    train_nnunet("phantom/", "work/", cfg, train_cases=[...], val_cases=[...])
    predict_nnunet("work/", "phantom/", "pred/", case_ids=[...])
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...data.nnunet_export import SOURCES_FILE, export_nnunet
from ...utils.atomic import write_json_atomic
from ...utils.errors import InputError, ModelFolderError, SynTumorError
from ...utils.jsonio import read_json
from ...utils.paths import case_id_from_path, ensure_outside
from ...utils.progress import ProgressCallback
from .config import NNUNetConfig
from .env import ERROR_PREFIX, PARENT_PID_ENV, set_nnunet_env

_EPOCH_RE = re.compile(r"Epoch (\d+)\s*$")


def model_folder(work: str | os.PathLike) -> Path:
    """The nnU-Net results folder of the run in ``work`` (holds plans.json and fold_*/)."""
    work = Path(work)
    cfg = NNUNetConfig.from_dict(read_json(work / "nnunet.json")["config"])
    return work / "nnUNet_results" / cfg.dataset_name / cfg.trainer_folder_name


def _check_device(name: str | None) -> None:
    """``cuda`` without a GPU fails now, before any export or preprocessing (the child would fail only
    after them); the one device rule (:mod:`SynTumorLib.runtime.devices`) decides."""
    if name is None or str(name).lower() in ("auto", "cpu"):
        return
    from ...runtime.devices import resolve_device

    resolve_device(name)


def _check_checkpoints(folder: Path, pattern: str) -> None:
    """Refuse, before nnU-Net sees them, checkpoints it would have to unpickle unsafely."""
    from .safe_loading import check_nnunet_checkpoint

    for ckpt in sorted(folder.glob(pattern)):
        check_nnunet_checkpoint(ckpt)


def _run_child(work: Path, step: str, extra: Sequence[str] = (), *, env_extra: dict | None = None,
               on_line=None) -> float:
    """Run one ``run.py`` step; stream its output to ``logs/<step>.log``; return wall seconds."""
    env = dict(os.environ)
    set_nnunet_env(work, env)
    env.update(env_extra or {})
    env[PARENT_PID_ENV] = str(os.getpid())  # the child exits (with its workers) when this process dies
    log = work / "logs" / f"{step}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "SynTumorLib.segmentation.nnunet.run", step, "--work", str(work), *extra]
    t0 = time.perf_counter()
    error = None
    tail: list[str] = []
    with open(log, "w", encoding="utf-8") as f:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace")
        assert proc.stdout is not None
        for line in proc.stdout:
            f.write(line)
            tail = (tail + [line.rstrip()])[-25:]
            if line.startswith(ERROR_PREFIX):
                error = line[len(ERROR_PREFIX):].strip()
            if on_line is not None:
                on_line(line.rstrip())
        rc = proc.wait()
    if rc == 2 and error:
        raise InputError(error)
    if rc != 0:
        raise SynTumorError(f"nnU-Net {step} failed (exit {rc}); see {log}. Last lines:\n" + "\n".join(tail))
    return time.perf_counter() - t0


def _make_splits(real_ids: list[str], syn_ids: list[str], val_cases: Sequence[str] | None,
                 cfg: NNUNetConfig) -> list[dict] | None:
    """Our splits_final.json: validation from real cases only; synthetic cases always train."""
    if cfg.fold == "all":
        if val_cases:
            raise InputError("fold 'all' trains on every case and has no validation split; drop the validation cases")
        return None
    if val_cases:
        unknown = sorted(set(val_cases) - set(real_ids))
        if unknown:
            raise InputError(f"validation case(s) {', '.join(unknown[:5])} are not among the exported real cases")
        if cfg.fold != 0:
            raise InputError(f"with explicit validation cases the split is fold 0, got fold {cfg.fold}")
        train = [c for c in real_ids if c not in set(val_cases)] + syn_ids
        return [{"train": train, "val": list(val_cases)}]
    n_folds = min(5, len(real_ids))
    if n_folds < 2:
        raise InputError(f"{len(real_ids)} real case(s) cannot make a validation split; use fold 'all'")
    if cfg.fold >= n_folds:
        raise InputError(f"fold {cfg.fold} does not exist: {len(real_ids)} real cases give {n_folds} folds")
    order = np.random.default_rng(cfg.seed).permutation(len(real_ids))
    folds = np.array_split(order, n_folds)
    return [{"train": [real_ids[i] for j, f in enumerate(folds) if j != k for i in f] + syn_ids,
             "val": [real_ids[i] for i in folds[k]]} for k in range(n_folds)]


# Settings that do not change what is trained: a run may resume on another device or worker count.
RUNTIME_KEYS = ("device", "da_processes", "preprocess_processes", "tta", "validate")


def _identity(settings: dict, key: str):
    value = settings.get(key)
    if key == "config" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in RUNTIME_KEYS}
    return value


def train_nnunet(
    dataset: str | os.PathLike,
    work: str | os.PathLike,
    config: NNUNetConfig | dict | None = None,
    *,
    synthetic: str | os.PathLike | None = None,
    noisy: str | os.PathLike | None = None,
    train_cases: Sequence[str] | None = None,
    val_cases: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Export, plan/preprocess and train nnU-Net v2; returns :func:`model_folder`.

    Args:
        dataset: real-tumour dataset (any kind ``open_dataset`` reads).
        work: the work folder (created; a re-run with the same settings resumes).
        config: :class:`NNUNetConfig` or its dict (default: nnU-Net's full budget).
        synthetic / noisy: an offline synthetic dataset added to training, or a dataset whose
            labels replace the real labels (see :func:`SynTumorLib.data.nnunet_export.export_nnunet`).
        train_cases, val_cases: real case ids; exported = train + val (None = every labelled case). With
            ``val_cases`` fold 0 is exactly that split; otherwise a seeded 5-fold split of the real
            cases is written (synthetic cases are always training cases).

    Raises:
        InputError: bad config or cases, a work folder holding a run with other settings, CUDA
            requested without a GPU, nnU-Net refusing the dataset.
    """
    cfg = config if isinstance(config, NNUNetConfig) else NNUNetConfig.from_dict(config or {})
    work = Path(work).resolve()
    ensure_outside(work, dataset, synthetic, noisy, what="work folder")  # before anything is created
    _check_device(cfg.device)
    if synthetic is not None and noisy is not None:
        # One factor per run: a study arm adds synthetic tumours *or* degrades the labels.
        raise InputError("give either a synthetic dataset or a noisy-label dataset, not both")
    if cfg.fold == "all" and val_cases:
        _make_splits([], [], val_cases, cfg)  # raises the "no validation split" error before any export
    if train_cases is not None and val_cases is not None and set(train_cases) & set(val_cases):
        raise InputError("a case is in both the training and the validation cases")
    cases = None if train_cases is None else list(train_cases) + [c for c in (val_cases or []) if c not in train_cases]
    settings = {"config": cfg.to_dict(), "dataset": str(Path(dataset).resolve()),
                "synthetic": str(Path(synthetic).resolve()) if synthetic else None,
                "noisy": str(Path(noisy).resolve()) if noisy else None,
                "cases": cases, "val_cases": list(val_cases) if val_cases else None}
    state_path = work / "nnunet.json"
    if state_path.is_file():
        old = read_json(state_path)
        changed = sorted(k for k in settings if _identity(old, k) != _identity(settings, k))
        if changed:
            raise InputError(f"{work}: holds an nnU-Net run with other settings ({', '.join(changed)} differ); "
                             "use another --work folder")
        state = dict(old, config=settings["config"])  # runtime keys of this call apply
    else:
        state = dict(settings, timings={})
    # no work.mkdir here: the export creates it with its first file (a refused dataset leaves nothing)

    def report(frac: float, msg: str) -> None:
        if progress:
            progress(frac, msg)

    # No imagesTs: training needs none, and an MSD dataset's test images would only cost time and disk.
    folder = export_nnunet(dataset, work / "nnUNet_raw", cfg.dataset_id, cfg.name, cases=cases,
                           synthetic=synthetic, noisy=noisy, unlabelled_as_test=False,
                           progress=lambda f, m: report(0.1 * f, m))
    exported = read_json(folder / SOURCES_FILE)["cases"]
    syn_ids = sorted(i for i, src in exported.items() if src["role"] == "synthetic")
    real_ids = sorted(i for i, src in exported.items() if src["role"] == "real" and src["split"] == "Tr")
    state["splits"] = _make_splits(real_ids, syn_ids, val_cases, cfg)
    write_json_atomic(state_path, state)

    env_extra = {}
    if cfg.da_processes is not None:
        env_extra["nnUNet_n_proc_DA"] = str(cfg.da_processes)
    if not (work / "logs" / "plan.done").is_file():
        report(0.1, "nnU-Net plan and preprocess")
        # The planner sets torch's thread count to nnUNet_n_proc_DA, which must then be positive.
        plan_env = {"nnUNet_n_proc_DA": str(max(1, cfg.da_processes or cfg.preprocess_processes))}
        state["timings"]["plan_s"] = round(_run_child(work, "plan", env_extra=plan_env), 2)
        write_json_atomic(state_path, state)
        write_json_atomic(work / "logs" / "plan.done", {"seconds": state["timings"]["plan_s"]})

    mf = model_folder(work)
    final = mf / f"fold_{cfg.fold}" / "checkpoint_final.pth"
    if not final.is_file():
        _check_checkpoints(mf / f"fold_{cfg.fold}", "checkpoint_latest.pth")  # the resume nnU-Net would load
        def on_line(line: str) -> None:
            m = _EPOCH_RE.search(line)
            if m:
                report(0.2 + 0.8 * int(m.group(1)) / cfg.epochs, f"nnU-Net epoch {m.group(1)}/{cfg.epochs}")

        state["timings"]["train_s"] = round(_run_child(work, "train", env_extra=env_extra, on_line=on_line), 2)
        write_json_atomic(state_path, state)
        if not final.is_file():
            raise ModelFolderError(f"{mf}: nnU-Net finished without writing fold_{cfg.fold}/checkpoint_final.pth")
    report(1.0, "nnU-Net trained")
    return mf


def _input_images(images: str | os.PathLike, case_ids: Sequence[str] | None) -> dict[str, Path]:
    """case id → image file: a folder of volumes (``<case>.nii.gz`` or ``<case>_0000.nii.gz``) or a dataset."""
    from ...data.io import list_volume_files

    root = Path(images)
    if not root.exists():
        raise InputError(f"{root}: images folder not found")
    if root.is_file():
        raise InputError(f"{root}: give a folder of images (or a dataset folder), not a file")
    plain = list_volume_files(root)
    if plain:
        found = {case_id_from_path(p, channel=True): p for p in plain}
    else:
        from ...data.datasets import open_dataset

        ds = open_dataset(root)
        found = {c.case_id: c.image for c in ds.cases() + ds.test_cases()}
    if case_ids is not None:
        missing = [c for c in case_ids if c not in found]
        if missing:
            raise InputError(f"{root}: no image for case(s) {', '.join(missing[:5])}")
        found = {c: found[c] for c in case_ids}
    if not found:
        raise InputError(f"{root}: no images found")
    return found


def predict_nnunet(
    work: str | os.PathLike,
    images: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    case_ids: Sequence[str] | None = None,
    device: str | None = None,
    tta: bool | None = None,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Predict with the trained model in ``work``; writes ``OUT/<case>.nii.gz`` (0/1/2 on each input's grid).

    Args:
        images: a folder of CT volumes or a dataset folder (its cases and test cases).
        case_ids: predict only these cases.
        device, tta: override the run's settings (``tta=False`` is ~8× faster on a CPU).

    Returns the written files (each moved into place whole: a crash leaves no partial file).
    """
    from ...data.io import read_volume, write_volume

    work = Path(work).resolve()
    if not (work / "nnunet.json").is_file():
        raise InputError(f"{work}: not a SynTumor nnU-Net work folder (no nnunet.json); run `syntumor nnunet train` first")
    final = model_folder(work)
    if not any(final.glob("fold_*/checkpoint_final.pth")):
        raise ModelFolderError(f"{final}: no trained checkpoint (checkpoint_final.pth); training did not finish")
    if device is not None:
        from ...runtime.devices import check_device_name

        device = check_device_name(device)
    _check_device(device if device is not None else
                  NNUNetConfig.from_dict(read_json(work / "nnunet.json")["config"]).device)
    out_dir = Path(out_dir)
    ensure_outside(out_dir, images, final)
    _check_checkpoints(final, "fold_*/checkpoint_final.pth")
    inputs = _input_images(images, case_ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".nnunet-predict.", suffix=".tmp", dir=out_dir))  # stale ones: utils.paths
    try:
        items = []
        for cid, path in inputs.items():
            if not str(path).endswith(".nii.gz"):
                converted = tmp / "inputs" / f"{cid}_0000.nii.gz"
                write_volume(read_volume(path), converted)
                path = converted
            items.append([str(Path(path).resolve()), str(tmp / cid)])
        job = tmp / "job.json"
        write_json_atomic(job, {"items": items, "device": device, "tta": tta})
        done = [0]

        def on_line(line: str) -> None:
            if progress and "perform_everything_on_device" in line:  # printed once per case
                done[0] += 1
                progress(done[0] / len(items), f"nnU-Net predicted {done[0]}/{len(items)}")

        _run_child(work, "predict", ["--job", str(job)], on_line=on_line)
        written = []
        for cid in inputs:
            src = tmp / f"{cid}.nii.gz"
            if not src.is_file():
                raise SynTumorError(f"nnU-Net wrote no prediction for case {cid!r}; see {work / 'logs' / 'predict.log'}")
            os.replace(src, out_dir / f"{cid}.nii.gz")
            written.append(out_dir / f"{cid}.nii.gz")
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
