"""The data a study's arms train on, prepared once under ``OUT/data/`` and reused by every arm:

* ``phantom-real`` / ``phantom-healthy`` — phantom cohorts when a dataset is ``"phantom"``; with
  ``phantom.n_tumour_free`` the real cohort also holds that many tumour-free cases (``normal_###``;
  the smoke specs test them only — ``split.test_only`` — for the patient-level AUROC);
* ``healthy-merged`` — several healthy datasets (NIH + BTCV) merged into one MSD dataset (the
  trainer takes one healthy folder); case ids are prefixed with the source's folder name;
* ``noisy-<level>-s<seed>`` — the real dataset with corrupted tumour labels (noise arms);
* ``synthetic-<size>-s<seed>`` — offline synthetic tumours in the healthy cases (nnU-Net size arms:
  nnU-Net trains from files, so it cannot synthesise online).

Every step resumes: finished cases are kept, so an interrupted study continues where it stopped.

Example:
    >>> import tempfile
    >>> from SynTumorLib.experiments.spec import StudySpec
    >>> real = tempfile.mkdtemp()   # the real-tumour dataset folder
    >>> spec = StudySpec.from_dict({"name": "t", "datasets": {"real": real}, "arms": {"models": ["unet"]}})
    >>> resolve_datasets(spec, tempfile.mkdtemp(), dry_run=True) == {"real": real, "healthy": None}
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..utils.errors import InputError
from ..utils.paths import ensure_outside
from ..utils.progress import ProgressCallback
from ..utils.seeding import child_seed
from .spec import StudySpec

PHANTOM = "phantom"


def _phantom_cohort(out: Path, spec: StudySpec, healthy: bool, progress: ProgressCallback | None) -> Path:
    from ..data.phantom import generate_cohort

    p = spec.phantom
    n = p["n_healthy"] if healthy else p["n_real"]
    folder = out / ("phantom-healthy" if healthy else "phantom-real")
    generate_cohort(folder, int(n), seed=child_seed(int(p["seed"]), "healthy" if healthy else "real"),
                    tumours=0 if healthy else p["tumours"], spacing=tuple(p["spacing"]),
                    fov_mm=tuple(p["fov_mm"]), name=folder.name, progress=progress,
                    case_prefix="healthy" if healthy else "phantom")
    if not healthy and int(p.get("n_tumour_free") or 0):
        add_tumour_free_cases(folder, int(p["n_tumour_free"]), child_seed(int(p["seed"]), "tumour-free"),
                              spacing=tuple(p["spacing"]), fov_mm=tuple(p["fov_mm"]))
    return folder


def add_tumour_free_cases(folder: str | os.PathLike, n: int, seed: int, spacing, shape=None, fov_mm=None,
                          prefix: str = "normal", progress: ProgressCallback | None = None) -> list[str]:
    """Add ``n`` tumour-free phantom cases ``<prefix>_###`` (case i: ``child_seed(seed, "case", i)``)
    to an MSD dataset — the negatives of a patient-level AUROC. Resumable; returns their ids."""
    from ..data.msd import MSDWriter
    from ..data.phantom import generate_case
    from ..data.phantom.generator import DEFAULT_FOV_MM

    writer = MSDWriter(folder)
    ids = []
    for i in range(int(n)):
        cid = f"{prefix}_{i:03d}"
        ids.append(cid)
        if progress:
            progress(i / max(n, 1), cid)
        if writer.has_case(cid) and writer.record_path(cid).exists():
            continue
        cs = child_seed(seed, "case", i)
        image, label, info = generate_case(cs, spacing=spacing, shape=shape, tumours=0,
                                           fov_mm=DEFAULT_FOV_MM if fov_mm is None else fov_mm)
        writer.add_case(cid, image, label, record={**info, "cohort_seed": int(seed), "case_index": i, "case_id": cid},
                        info={"seed": cs, "pancreas_ml": info["pancreas_ml"], "tumour_ml": info["tumour_ml"],
                              "n_tumours": 0, "tumour_diameters_mm": []})
    return ids


def _merge_healthy(sources: list[str], folder: Path, progress: ProgressCallback | None) -> Path:
    from ..data.datasets import open_dataset
    from ..data.msd import MSDWriter

    writer = MSDWriter(folder, name="healthy-merged", extra={"sources": sources})
    jobs = []
    for src in sources:
        ds = open_dataset(src)
        tag = Path(src).name or "healthy"
        jobs += [(ds, c, f"{tag}_{c.case_id}") for c in ds.cases() if c.label is not None]
    if not jobs:
        raise InputError(f"healthy datasets {sources}: no labelled cases")
    for n, (ds, case, cid) in enumerate(jobs):
        if progress:
            progress(n / len(jobs), f"merge healthy {cid}")
        if not writer.has_case(cid):
            image, label = ds.load(case)
            writer.add_case(cid, image, label, info={"source": str(ds.root), "case": case.case_id})
    return folder


def resolve_datasets(spec: StudySpec, out: str | os.PathLike, progress: ProgressCallback | None = None,
                     dry_run: bool = False) -> dict[str, str | None]:
    """``{"real": folder, "healthy": folder or None}`` — generating phantoms / merging as needed."""
    data = Path(out) / "data"
    real = spec.datasets["real"]
    healthy = list(spec.datasets["healthy"])
    # checked in a dry run too: "validate the spec" includes that its datasets exist
    for key, p in [("datasets.real", real)] + [("datasets.healthy", h) for h in healthy]:
        if p.startswith("SET_ME"):
            raise InputError(f"{key} is a placeholder in this spec; set it, e.g. {p.removeprefix('SET_ME:').strip()}")
        if p != PHANTOM and not Path(p).exists():
            raise InputError(f"{key}: dataset {p} not found (set it with --set datasets.real=... / datasets.healthy=[...])")
        if p != PHANTOM:
            ensure_outside(out, p, what="study folder")
    if dry_run:
        return {"real": str(data / "phantom-real") if real == PHANTOM else real,
                "healthy": None if not healthy else (str(data / "phantom-healthy") if healthy == [PHANTOM] else
                                                     healthy[0] if len(healthy) == 1 else str(data / "healthy-merged"))}
    if real == PHANTOM:
        real = str(_phantom_cohort(data, spec, False, progress))
    if not healthy:
        return {"real": real, "healthy": None}
    if PHANTOM in healthy:
        if healthy != [PHANTOM]:
            raise InputError("datasets.healthy: 'phantom' cannot be mixed with other healthy datasets")
        return {"real": real, "healthy": str(_phantom_cohort(data, spec, True, progress))}
    if len(healthy) == 1:
        return {"real": real, "healthy": healthy[0]}
    return {"real": real, "healthy": str(_merge_healthy(healthy, data / "healthy-merged", progress))}


def noisy_dataset(real: str, out: str | os.PathLike, level: str, seed: int, options: dict,
                  progress: ProgressCallback | None = None) -> str:
    """The real dataset with corrupted tumour labels at ``level`` (resumable)."""
    from ..corruption import corrupt_dataset

    folder = Path(out) / "data" / f"noisy-{level}-s{seed}"
    corrupt_dataset(real, folder, level=level, seed=child_seed(seed, "noise", level), progress=progress, **options)
    return str(folder)


def offline_synthetic(healthy: str, out: str | os.PathLike, size: str, seed: int, copies: int,
                      size_classes: str | dict = "syntumor", progress: ProgressCallback | None = None,
                      texture: Any = "statistical") -> str:
    """``copies`` synthetic-tumour versions of every healthy case (size arm ``size`` of ``size_classes``:
    the spec's ``synthesis.size_classes``, as the MONAI arms' online synthesis), MSD layout, with the
    spec's ``synthesis.texture``.

    Delegates to :func:`SynTumorLib.insertion.dataset.synthesize_dataset` (the same tool as
    ``syntumor synthesize-dataset``: resumable, one record per case). A healthy case whose pancreas
    cannot host the class is listed under ``syntumor.failed`` in ``dataset.json`` rather than
    failing the study; only when no case at all could host it is that an error.
    """
    from ..geometry.sizes import arm_classes
    from ..insertion.dataset import synthesize_dataset

    folder = Path(out) / "data" / f"synthetic-{Path(size).stem if size.endswith('.json') else size}-s{seed}"
    size_class, classes = arm_classes(size, size_classes)
    result = synthesize_dataset(healthy, folder, classes=size_class, per_case=int(copies), size_classes=classes,
                                seed=child_seed(seed, "offline", size), progress=progress, texture=texture)
    if result["written"] + result["skipped"] == 0:
        first = next(iter(result["errors"].items()), ("", "no labelled healthy case"))
        raise InputError(f"{healthy}: no healthy case could host a '{size}' tumour ({first[0]}: {first[1]})")
    return str(folder)
