"""Export datasets to the nnU-Net v2 raw format — the ONE writer of nnU-Net raw datasets::

    OUT/DatasetNNN_Name/dataset.json        channel_names {"0": "CT"}, labels, numTraining, file_ending
    OUT/DatasetNNN_Name/imagesTr/<case>_0000.nii.gz
    OUT/DatasetNNN_Name/labelsTr/<case>.nii.gz     canonical labels (or a chosen subset)
    OUT/DatasetNNN_Name/imagesTs/<case>_0000.nii.gz  test / unlabelled cases (labelsTs/ when labelled)
    OUT/DatasetNNN_Name/syntumor_sources.json      which source case (and label) became which file

Besides the real dataset an export can take an offline **synthetic** dataset, whose cases are all
added to training as ``syn_<case>`` (so they never collide with real ids, and nnU-Net splits can keep
them out of validation), and a **noisy-label** dataset: each real training case then takes its label
from the case with the same id there (its image still comes from the real dataset).

Files are written atomically and cases already present *from the same sources* are skipped, so an
interrupted export is resumed by running it again; a re-export with other cases, labels or sources
removes or rewrites what no longer fits (nnU-Net trains on every file in ``labelsTr``).
``dataset.json`` is written last. The inputs are only read.

Example:
    >>> import numpy as np, tempfile
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.data.msd import MSDWriter
    >>> src, out = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> v = Volume.from_geometry(np.zeros((4, 4, 4), np.int16))
    >>> MSDWriter(src).add_case("c0", v, v.with_array(np.ones((4, 4, 4), np.uint8)))
    >>> folder = export_nnunet(src, out, 501, "PancreasSyn")
    >>> folder.name, sorted(p.name for p in (folder / "imagesTr").iterdir())
    ('Dataset501_PancreasSyn', ['c0_0000.nii.gz'])
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..utils.atomic import write_json_atomic
from ..utils.errors import InputError
from ..utils.jsonio import read_json
from ..utils.paths import ensure_outside
from ..utils.progress import ProgressCallback
from .datasets import Case, Dataset, LabelSpec, open_dataset
from .io import write_volume
from .labels import LABEL_VALUES, NNUNET_LABELS, TUMOUR

SYNTHETIC_PREFIX = "syn_"
SOURCES_FILE = "syntumor_sources.json"
_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def _output_lut(labels: dict[str, int]) -> np.ndarray:
    """Lookup table canonical value (0/1/2) → exported value; classes not named become background."""
    by_name = dict(LABEL_VALUES)
    by_name["tumor"] = TUMOUR
    values = sorted(labels.values())
    if values != list(range(len(values))) or labels.get("background") != 0:
        raise InputError(f"labels must be background=0 and consecutive values 0..N, got {labels}")
    lut = np.zeros(3, np.uint8)
    for name, value in labels.items():
        if name not in by_name:
            raise InputError(f"unknown label name {name!r} (choose from background, pancreas, tumour)")
        lut[by_name[name]] = value
    return lut


@dataclass(frozen=True)
class _Job:
    """One exported case: its nnU-Net id, split, image source and label source (None: unlabelled)."""

    nid: str
    split: str  # "Tr" or "Ts"
    role: str  # "real" or "synthetic"
    image_ds: Dataset
    case: Case
    label_ds: Dataset | None
    label_case: Case | None

    def source(self) -> dict:
        return {"split": self.split, "role": self.role, "dataset": str(self.image_ds.root),
                "case": self.case.case_id,
                "labels_from": None if self.label_ds is None else str(self.label_ds.root)}

    def paths(self, folder: Path) -> tuple[Path, Path]:
        return (folder / f"images{self.split}" / f"{self.nid}_0000.nii.gz",
                folder / f"labels{self.split}" / f"{self.nid}.nii.gz")


def _plan(ds: Dataset, cases: Sequence[str] | None, test_cases: Sequence[str] | None,
          unlabelled_as_test: bool, synthetic: Dataset | None, noisy: Dataset | None,
          prefix: str) -> list[_Job]:
    """Every case to export, checked (ids, labels, noisy counterparts, collisions) before any write."""
    everything = {c.case_id: c for c in ds.cases() + ds.test_cases()}
    test_ids = set(test_cases or [])
    train_ids = list(cases) if cases is not None else [c.case_id for c in ds.cases() if c.label is not None]
    unknown = sorted((set(train_ids) | test_ids) - set(everything))
    if unknown:
        raise InputError(f"{ds.root}: unknown case ids {unknown[:5]}")
    label_src = {i: (ds, everything[i]) for i in train_ids}
    if noisy is not None:
        by_id = {c.case_id: c for c in noisy.cases()}
        missing = [i for i in train_ids if i not in test_ids and i not in by_id]
        if missing:
            raise InputError(f"{noisy.root}: noisy-label dataset has no case(s) "
                             f"{', '.join(map(repr, missing[:5]))}")
        label_src = {i: (noisy, by_id[i]) if i in by_id else (ds, everything[i]) for i in train_ids}
    # Only explicit ids can be unlabelled in the real dataset; any noisy counterpart can be.
    unlabelled = [i for i in train_ids if label_src[i][1].label is None]
    if unlabelled:
        raise InputError(f"{label_src[unlabelled[0]][0].root}: cases {unlabelled[:5]} have no label and "
                         "cannot be training cases")
    if unlabelled_as_test:
        test_ids |= {c.case_id for c in ds.cases() + ds.test_cases() if c.label is None}
    train_ids = sorted({i for i in train_ids if i not in test_ids})
    if not train_ids:
        raise InputError(f"{ds.root}: no labelled training cases to export")

    jobs = [_Job(i, "Tr", "real", ds, everything[i], *label_src[i]) for i in train_ids]
    for i in sorted(test_ids):  # test labels are always the real ones
        case = everything[i]
        jobs.append(_Job(i, "Ts", "real", ds, case, ds if case.label is not None else None,
                         case if case.label is not None else None))
    if synthetic is not None:
        syn_cases = synthetic.cases()
        if not syn_cases:
            raise InputError(f"{synthetic.root}: the synthetic dataset holds no cases")
        unlabelled = [c.case_id for c in syn_cases if c.label is None]
        if unlabelled:
            raise InputError(f"{synthetic.root}: synthetic case(s) {unlabelled[:5]} have no label map; "
                             "nnU-Net training needs one")
        jobs += [_Job(prefix + c.case_id, "Tr", "synthetic", synthetic, c, synthetic, c) for c in syn_cases]
    ids = [j.nid for j in jobs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise InputError(f"case ids collide in the exported dataset: {', '.join(dup[:5])} "
                         f"(synthetic cases are prefixed {prefix!r})")
    return jobs


def _remove_stale(folder: Path, sources: dict, jobs: list[_Job]) -> int:
    """Delete files no planned case owns, or written from other sources; return how many.

    Without an earlier sources file (an export by an older version) the files are trusted, as
    before. An unreadable one trusts nothing: those cases are written again.
    """
    old = None
    if (folder / SOURCES_FILE).is_file():
        try:
            old = read_json(folder / SOURCES_FILE)
        except (InputError, OSError, ValueError):
            old = {}
    same_settings = old is None or all(old.get(k) == sources[k] for k in ("labels", "source_label_map"))
    owned = {}
    for job in jobs:
        image, label = job.paths(folder)
        fresh = old is None or (same_settings and (old.get("cases") or {}).get(job.nid) == job.source())
        owned[image] = fresh
        if job.label_ds is not None:
            owned[label] = fresh
    removed = 0
    for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        for f in (folder / sub).glob("*.nii.gz") if (folder / sub).is_dir() else []:
            if not owned.get(f, False):
                f.unlink()
                removed += 1
    return removed


def _open(source, **options) -> Dataset:
    return source if isinstance(source, Dataset) else open_dataset(source, **options)


def export_nnunet(
    dataset_or_path: Dataset | str | os.PathLike,
    out_root: str | os.PathLike,
    dataset_id: int,
    name: str,
    cases: Sequence[str] | None = None,
    labels: dict[str, int] | None = None,
    progress: ProgressCallback | None = None,
    *,
    test_cases: Sequence[str] | None = None,
    kind: str = "auto",
    pancreas_label: LabelSpec = None,
    tumour_label: LabelSpec = None,
    synthetic: Dataset | str | os.PathLike | None = None,
    noisy: Dataset | str | os.PathLike | None = None,
    synthetic_prefix: str = SYNTHETIC_PREFIX,
    unlabelled_as_test: bool = True,
) -> Path:
    """Write ``out_root/DatasetNNN_name`` in nnU-Net v2 raw format and return that folder.

    Args:
        dataset_or_path: the real dataset: an opened :class:`Dataset` or a folder (opened with
            ``kind``, ``pancreas_label``, ``tumour_label``).
        out_root: the nnU-Net raw folder (``nnUNet_raw``); the dataset folder written there must not
            be, contain or lie inside an input dataset.
        dataset_id: 1–999 (nnU-Net reserves 001–010 for MSD tasks; 500+ is safe for own data).
        name: dataset name (letters, digits, ``_`` and ``-``).
        cases: real case ids for ``imagesTr`` (default: every labelled case).
        labels: exported label names → values, default ``{"background": 0, "pancreas": 1,
            "tumour": 2}``; e.g. ``{"background": 0, "tumour": 1}`` merges pancreas into background.
        progress: optional ``(fraction, message)`` callback.
        test_cases: case ids written to ``imagesTs`` (+ ``labelsTs`` when labelled, real labels).
        unlabelled_as_test: unlabelled cases (and the dataset's own test cases) go to ``imagesTs``;
            False leaves them out (a training export needs no test images).
        synthetic: an offline synthetic dataset (MSD as ``syntumor synthesize-dataset`` writes);
            every case of it is a training case named ``synthetic_prefix + id``.
        noisy: a dataset of corrupted labels; each real training case takes its label from the case
            with the same id there.

    Raises:
        InputError: bad id/name/prefix, unknown case ids, a noisy dataset lacking a training case,
            an empty or unlabelled synthetic dataset, colliding case ids, an output inside an input,
            another dataset with the same id, or any unreadable/mismatched case (named).
    """
    if not (isinstance(dataset_id, int) and 1 <= dataset_id <= 999):
        raise InputError(f"dataset id must be an integer 1..999, got {dataset_id!r}")
    if not _NAME.match(name or ""):
        raise InputError(f"dataset name {name!r} must use only letters, digits, '_' and '-'")
    if not re.fullmatch(r"[A-Za-z0-9_\-]*", synthetic_prefix):
        raise InputError(f"synthetic case prefix {synthetic_prefix!r} must use only letters, digits, '_' and '-'")
    ds = _open(dataset_or_path, kind=kind, pancreas_label=pancreas_label, tumour_label=tumour_label)
    syn_ds = None if synthetic is None else _open(synthetic)
    noisy_ds = None if noisy is None else _open(noisy)
    labels = dict(labels or NNUNET_LABELS)
    lut = _output_lut(labels)
    out_root = Path(out_root)
    folder = out_root / f"Dataset{dataset_id:03d}_{name}"
    # the folder written, not out_root: an nnUNet_raw folder may hold the source dataset beside it
    ensure_outside(folder, *(s.root for s in (ds, syn_ds, noisy_ds) if s is not None), what="exported dataset")
    if out_root.is_dir():
        clash = [p.name for p in out_root.glob(f"Dataset{dataset_id:03d}_*") if p.name != folder.name]
        if clash:
            raise InputError(f"{out_root}: dataset id {dataset_id} is already used by {clash[0]}")

    jobs = _plan(ds, cases, test_cases, unlabelled_as_test, syn_ds, noisy_ds, synthetic_prefix)
    sources = {"labels": labels, "source_label_map": {str(k): v for k, v in ds.label_map.items()},
               "cases": {j.nid: j.source() for j in jobs}}

    def done(job: _Job) -> bool:
        image, label = job.paths(folder)
        return image.exists() and (job.label_ds is None or label.exists())

    removed = _remove_stale(folder, sources, jobs)
    if removed or not all(done(j) for j in jobs):
        # dataset.json marks a finished export: drop it while the files change.
        (folder / "dataset.json").unlink(missing_ok=True)
    sources_written = False
    for n, job in enumerate(jobs):
        if progress:
            progress(n / len(jobs), f"exporting {job.nid}")
        if done(job):
            continue  # written by an earlier, interrupted run from the same sources (files are atomic)
        image_path, label_path = job.paths(folder)
        image = job.image_ds.load_image(job.case)
        label = None if job.label_ds is None else job.label_ds.load_label(job.label_case, image)
        if not sources_written:
            # Before the first case file, so that after an interruption it describes every file on disk;
            # after the first case has been read, so that an unreadable first case leaves nothing behind.
            write_json_atomic(folder / SOURCES_FILE, sources)
            sources_written = True
        if label is not None:
            # load_label checked the grid against *this* image (naming both files) and put the label
            # on the image's exact matrix, which nnU-Net compares strictly.
            write_volume(label.with_array(lut[label.array]), label_path)
        write_volume(image, image_path)  # image last: its presence marks the case as done
    if not sources_written:
        write_json_atomic(folder / SOURCES_FILE, sources)
    if progress:
        progress(1.0, "done")
    train = sorted(j.nid for j in jobs if j.split == "Tr")
    meta = {
        "channel_names": {"0": "CT"},
        "labels": labels,
        "numTraining": len(train),
        "file_ending": ".nii.gz",
        "name": name,
        "description": f"exported by SynTumorLib {__version__} from {ds.kind} dataset {ds.root}",
        "syntumor": {"source_kind": ds.kind, "source_root": str(ds.root),
                     "source_label_map": sources["source_label_map"],
                     "synthetic_root": None if syn_ds is None else str(syn_ds.root),
                     "noisy_root": None if noisy_ds is None else str(noisy_ds.root),
                     "training": train, "test": sorted(j.nid for j in jobs if j.split == "Ts")},
    }
    write_json_atomic(folder / "dataset.json", meta)
    return folder
