"""Export a dataset to the nnU-Net v2 raw format::

    OUT/DatasetNNN_Name/dataset.json        channel_names {"0": "CT"}, labels, numTraining, file_ending
    OUT/DatasetNNN_Name/imagesTr/<case>_0000.nii.gz
    OUT/DatasetNNN_Name/labelsTr/<case>.nii.gz     canonical labels (or a chosen subset)
    OUT/DatasetNNN_Name/imagesTs/<case>_0000.nii.gz  test / unlabelled cases (labelsTs/ when labelled)

Files are written atomically and cases already present are skipped, so an interrupted export is
resumed by running it again; ``dataset.json`` is written last. The input is only read.

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
from pathlib import Path

import numpy as np

from .. import __version__
from ..utils.atomic import write_json_atomic
from ..utils.errors import InputError
from ..utils.progress import ProgressCallback
from .datasets import CANONICAL_NAMES, Dataset, LabelSpec, open_dataset
from .io import write_volume

CANONICAL_LABELS = {"background": 0, "pancreas": 1, "tumour": 2}
_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def _output_lut(labels: dict[str, int]) -> np.ndarray:
    """Lookup table canonical value (0/1/2) → exported value; classes not named become background."""
    by_name = {v: k for k, v in CANONICAL_NAMES.items()}
    by_name["tumor"] = 2
    values = sorted(labels.values())
    if values != list(range(len(values))) or labels.get("background") != 0:
        raise InputError(f"labels must be background=0 and consecutive values 0..N, got {labels}")
    lut = np.zeros(3, np.uint8)
    for name, value in labels.items():
        if name not in by_name:
            raise InputError(f"unknown label name {name!r} (choose from background, pancreas, tumour)")
        lut[by_name[name]] = value
    return lut


def _is_inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def export_nnunet(
    dataset_or_path: Dataset | str | os.PathLike,
    out_root: str | os.PathLike,
    dataset_id: int,
    name: str,
    cases: list[str] | None = None,
    labels: dict[str, int] | None = None,
    progress: ProgressCallback | None = None,
    *,
    test_cases: list[str] | None = None,
    kind: str = "auto",
    pancreas_label: LabelSpec = None,
    tumour_label: LabelSpec = None,
) -> Path:
    """Write ``out_root/DatasetNNN_name`` in nnU-Net v2 raw format and return that folder.

    Args:
        dataset_or_path: an opened :class:`Dataset` or a dataset folder (opened with ``kind``).
        out_root: the nnU-Net raw folder (``nnUNet_raw``); must not lie inside the input dataset.
        dataset_id: 1–999 (nnU-Net reserves 001–010 for MSD tasks; 500+ is safe for own data).
        name: dataset name (letters, digits, ``_`` and ``-``).
        cases: case ids for ``imagesTr`` (default: every labelled case).
        labels: exported label names → values, default ``{"background": 0, "pancreas": 1,
            "tumour": 2}``; e.g. ``{"background": 0, "tumour": 1}`` merges pancreas into background.
        progress: optional ``(fraction, message)`` callback.
        test_cases: case ids written to ``imagesTs`` (+ ``labelsTs`` when labelled). Unlabelled cases
            are always test cases.

    Raises:
        InputError: bad id/name, unknown case ids, an output inside the input, another dataset
            with the same id, or any unreadable/mismatched case (named).
    """
    if not (isinstance(dataset_id, int) and 1 <= dataset_id <= 999):
        raise InputError(f"dataset id must be an integer 1..999, got {dataset_id!r}")
    if not _NAME.match(name or ""):
        raise InputError(f"dataset name {name!r} must use only letters, digits, '_' and '-'")
    ds = dataset_or_path if isinstance(dataset_or_path, Dataset) else open_dataset(
        dataset_or_path, kind, pancreas_label=pancreas_label, tumour_label=tumour_label)
    labels = dict(labels or CANONICAL_LABELS)
    lut = _output_lut(labels)
    out_root = Path(out_root)
    if _is_inside(out_root, ds.root):
        raise InputError(f"{out_root}: output lies inside the input dataset {ds.root}; choose another folder")
    folder = out_root / f"Dataset{dataset_id:03d}_{name}"
    if out_root.is_dir():
        clash = [p.name for p in out_root.glob(f"Dataset{dataset_id:03d}_*") if p.name != folder.name]
        if clash:
            raise InputError(f"{out_root}: dataset id {dataset_id} is already used by {clash[0]}")

    everything = {c.case_id: c for c in ds.cases() + ds.test_cases()}
    test_ids = set(test_cases or [])
    train_ids = list(cases) if cases is not None else [c.case_id for c in ds.cases() if c.label is not None]
    unknown = sorted((set(train_ids) | test_ids) - set(everything))
    if unknown:
        raise InputError(f"{ds.root}: unknown case ids {unknown[:5]}")
    unlabelled = [i for i in train_ids if everything[i].label is None]
    if cases is not None and unlabelled:
        raise InputError(f"{ds.root}: cases {unlabelled[:5]} have no label and cannot be training cases")
    test_ids |= {c.case_id for c in ds.cases() + ds.test_cases() if c.label is None}
    train_ids = [i for i in train_ids if i not in test_ids]
    if not train_ids:
        raise InputError(f"{ds.root}: no labelled training cases to export")

    jobs = [(i, "Tr") for i in sorted(train_ids)] + [(i, "Ts") for i in sorted(test_ids)]
    for n, (cid, split) in enumerate(jobs):
        if progress:
            progress(n / len(jobs), f"exporting {cid}")
        case = everything[cid]
        img_path = folder / f"images{split}" / f"{cid}_0000.nii.gz"
        lab_path = folder / f"labels{split}" / f"{cid}.nii.gz"
        want_label = case.label is not None
        if img_path.exists() and (lab_path.exists() or not want_label):
            continue  # written by an earlier, interrupted run (files are atomic, so complete)
        image, label = ds.load(case)
        if want_label:
            write_volume(label.with_array(lut[label.array]), lab_path)
        write_volume(image, img_path)  # image last: its presence marks the case as done
    if progress:
        progress(1.0, "done")
    meta = {
        "channel_names": {"0": "CT"},
        "labels": labels,
        "numTraining": len(train_ids),
        "file_ending": ".nii.gz",
        "name": name,
        "description": f"exported by SynTumorLib {__version__} from {ds.kind} dataset {ds.root}",
        "syntumor": {"source_kind": ds.kind, "source_root": str(ds.root),
                     "source_label_map": {str(k): v for k, v in ds.label_map.items()},
                     "training": sorted(train_ids), "test": sorted(test_ids)},
    }
    write_json_atomic(folder / "dataset.json", meta)
    return folder
