"""Compose an nnU-Net v2 *raw* dataset from our datasets: real tumours (train split), plus an offline
synthetic set, or with the real labels replaced by noisy (corrupted) ones.

Layout written (nnU-Net v2's raw contract)::

    RAW/Dataset<ID>_<name>/dataset.json             channel_names {0: CT}, labels, numTraining, file_ending
    RAW/Dataset<ID>_<name>/imagesTr/<case>_0000.nii.gz
    RAW/Dataset<ID>_<name>/labelsTr/<case>.nii.gz   0 background, 1 pancreas, 2 tumour (uint8)
    RAW/Dataset<ID>_<name>/syntumor_sources.json    which source case became which nnU-Net case

Real cases keep their ids; synthetic cases get the prefix ``syn_`` so the two sets never collide and
synthetic cases can never land in the validation split. Any dataset kind that
:func:`SynTumorLib.data.datasets.open_dataset` reads (MSD, NIH, BTCV, TotalSegmentator, folder) is
accepted; labels are canonicalised on the way. Files are written atomically and a case already
present is skipped, so an interrupted export resumes.

Example:
    >>> import numpy as np, tempfile
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.data.msd import MSDWriter
    >>> src = tempfile.mkdtemp(); v = Volume.from_geometry(np.zeros((4, 4, 4), np.int16))
    >>> MSDWriter(src).add_case("p1", v, v.with_array(np.ones((4, 4, 4), np.uint8)))
    >>> folder = compose_raw_dataset(tempfile.mkdtemp(), 7, "Demo", real=src)
    >>> sorted(p.name for p in (folder / "imagesTr").iterdir())
    ['p1_0000.nii.gz']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...data.datasets import Dataset, open_dataset
from ...data.io import write_volume
from ...utils.atomic import write_json_atomic
from ...utils.errors import InputError
from ...utils.progress import ProgressCallback

SYNTHETIC_PREFIX = "syn_"
LABELS = {"background": 0, "pancreas": 1, "tumour": 2}


def _select(ds: Dataset, wanted: Sequence[str] | None, what: str) -> list:
    cases = {c.case_id: c for c in ds.cases()}
    if not cases:
        raise InputError(f"{ds.root}: the {what} dataset holds no cases")
    if wanted is None:
        return list(cases.values())
    missing = [c for c in wanted if c not in cases]
    if missing:
        raise InputError(f"{ds.root}: {what} dataset lacks case(s) {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}")
    return [cases[c] for c in wanted]


def compose_raw_dataset(
    raw_root: str | os.PathLike,
    dataset_id: int,
    name: str,
    *,
    real: str | os.PathLike,
    cases: Sequence[str] | None = None,
    synthetic: str | os.PathLike | None = None,
    noisy: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write ``RAW/Dataset<ID>_<name>`` for nnU-Net training; returns that folder.

    Args:
        raw_root: the ``nnUNet_raw`` folder.
        dataset_id, name: nnU-Net dataset number and name.
        real: the real-tumour dataset (any kind ``open_dataset`` reads).
        cases: ids of the real cases to export (the train + validation split); None = all.
        synthetic: optional offline synthetic dataset; all its cases are added as ``syn_<id>``.
        noisy: optional dataset of corrupted labels; each exported real case takes its label from
            the case with the same id there (its image still comes from ``real``).

    Raises:
        InputError: empty datasets, unknown case ids, a label on another grid than its image, a
            case without a label, both ``synthetic`` and ``noisy`` given, or a clashing dataset id.
    """
    if synthetic is not None and noisy is not None:
        raise InputError("give either a synthetic dataset or a noisy-label dataset, not both")
    folder = Path(raw_root) / f"Dataset{dataset_id:03d}_{name}"
    for other in Path(raw_root).glob(f"Dataset{dataset_id:03d}_*") if Path(raw_root).is_dir() else []:
        if other != folder:
            raise InputError(f"{raw_root}: dataset id {dataset_id} is already used by {other.name}")
    (folder / "imagesTr").mkdir(parents=True, exist_ok=True)
    (folder / "labelsTr").mkdir(parents=True, exist_ok=True)

    real_ds = open_dataset(real)
    jobs: list[tuple[str, Dataset, object, Dataset | None]] = []  # (nnU-Net id, image ds, case, label ds)
    noisy_ds = open_dataset(noisy) if noisy is not None else None
    noisy_cases = {c.case_id: c for c in noisy_ds.cases()} if noisy_ds is not None else {}
    for case in _select(real_ds, cases, "real"):
        if noisy_ds is not None and case.case_id not in noisy_cases:
            raise InputError(f"{noisy_ds.root}: noisy-label dataset has no case {case.case_id!r}")
        jobs.append((case.case_id, real_ds, case, noisy_ds))
    if synthetic is not None:
        syn_ds = open_dataset(synthetic)
        for case in _select(syn_ds, None, "synthetic"):
            jobs.append((SYNTHETIC_PREFIX + case.case_id, syn_ds, case, None))
    ids = [j[0] for j in jobs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise InputError(f"case ids collide in the composed dataset: {', '.join(dup[:5])}")

    # A re-export with another case list must not leave stale cases behind (nnU-Net trains on
    # every file in labelsTr).
    keep = set(ids)
    for f in list((folder / "imagesTr").glob("*.nii.gz")) + list((folder / "labelsTr").glob("*.nii.gz")):
        if f.name.removesuffix(".nii.gz").removesuffix("_0000") not in keep:
            f.unlink()
    sources = {}
    for n, (nid, ds, case, label_ds) in enumerate(jobs):
        img_path = folder / "imagesTr" / f"{nid}_0000.nii.gz"
        lab_path = folder / "labelsTr" / f"{nid}.nii.gz"
        sources[nid] = {"dataset": str(ds.root), "case": case.case_id,
                        "labels_from": str((label_ds or ds).root)}
        if progress:
            progress(n / len(jobs), f"export {nid}")
        if img_path.exists() and lab_path.exists():
            continue  # written by an earlier, interrupted export (files are atomic)
        image = ds.load_image(case)
        if label_ds is not None:
            label = label_ds.load_label(noisy_cases[case.case_id], image)
        else:
            label = ds.load_label(case, image)
        if label is None:
            raise InputError(f"{ds.root}: case {case.case_id!r} has no label map; nnU-Net training needs one")
        # load_label checked the grid (and raised naming both files); nnU-Net compares image and label geometry exactly: write the label on the image's grid.
        write_volume(image, img_path)
        write_volume(image.with_array(label.array.astype(np.uint8)), lab_path)

    write_json_atomic(folder / "syntumor_sources.json", sources)
    write_json_atomic(folder / "dataset.json", {
        "channel_names": {"0": "CT"},
        "labels": LABELS,
        "numTraining": len(jobs),
        "file_ending": ".nii.gz",
        "name": name,
        "description": "exported by SynTumor (SynTumorLib.segmentation.nnunet.raw)",
    })
    if progress:
        progress(1.0, "export done")
    return folder
