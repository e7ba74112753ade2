"""Writing datasets in the Medical Segmentation Decathlon (MSD Task07) layout.

Every dataset SynTumor *produces* (phantom cohorts, offline synthetic sets, corrupted-label copies)
uses this layout, so phantom, MSD and derived data go through the same reading code::

    DIR/dataset.json                 MSD keys + a "syntumor" block (provenance, per-case records)
    DIR/imagesTr/<case>.nii.gz       CT in HU
    DIR/labelsTr/<case>.nii.gz       0 background, 1 pancreas, 2 tumour (uint8)
    DIR/records/<case>.json          optional: the record that reproduces a synthetic case

Cases are written atomically one by one and ``dataset.json`` is rewritten after each case, so an
interrupted job leaves a valid dataset of the finished cases and a re-run can skip them.

Example:
    >>> import numpy as np, tempfile
    >>> from SynTumorLib import Volume
    >>> w = MSDWriter(tempfile.mkdtemp(), name="demo")
    >>> v = Volume.from_geometry(np.zeros((4, 4, 4), np.int16))
    >>> w.add_case("case_000", v, v.with_array(np.zeros((4, 4, 4), np.uint8)))
    >>> len(w.case_ids())
    1
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.atomic import write_json_atomic
from ..utils.errors import InputError
from ..utils.jsonio import read_json
from ..utils.paths import case_id_from_path
from .io import write_volume
from .labels import MSD_LABELS
from .volume import Volume


class MSDWriter:
    """Create or extend an MSD-layout dataset folder."""

    def __init__(self, root: str | os.PathLike, name: str = "SynTumor", description: str = "", extra: dict | None = None):
        # Nothing is created until the first case (or flush): a job refused at its first case leaves no
        # half-made dataset behind.
        self.root = Path(root)
        self._json_path = self.root / "dataset.json"
        if self._json_path.exists():
            self.meta = read_json(self._json_path)
            if "training" not in self.meta:
                raise InputError(f"{self._json_path}: exists but is not an MSD dataset.json (no 'training')")
        else:
            self.meta = {
                "name": name,
                "description": description,
                "tensorImageSize": "3D",
                "modality": {"0": "CT"},
                "labels": dict(MSD_LABELS),
                "numTraining": 0,
                "numTest": 0,
                "training": [],
                "test": [],
                "syntumor": {},
            }
        if extra:
            self.meta.setdefault("syntumor", {}).update(extra)

    def image_path(self, case_id: str) -> Path:
        return self.root / "imagesTr" / f"{case_id}.nii.gz"

    def label_path(self, case_id: str) -> Path:
        return self.root / "labelsTr" / f"{case_id}.nii.gz"

    def record_path(self, case_id: str) -> Path:
        return self.root / "records" / f"{case_id}.json"

    def case_ids(self) -> list[str]:
        return [case_id_from_path(e["image"]) for e in self.meta["training"]]

    def has_case(self, case_id: str) -> bool:
        """True when the case is listed and its files exist (used to resume interrupted jobs)."""
        return case_id in self.case_ids() and self.image_path(case_id).exists() and self.label_path(case_id).exists()

    def add_case(
        self,
        case_id: str,
        image: Volume,
        label: Volume,
        record: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        """Write one case (image as int16 HU when integral, label as uint8) and update dataset.json."""
        if not image.same_grid(label):
            raise InputError(f"case {case_id}: image and label grids differ")
        img = image
        if np.issubdtype(img.array.dtype, np.floating) and np.all(np.mod(img.array, 1) == 0):
            img = img.with_array(img.array.astype(np.int16))
        write_volume(img, self.image_path(case_id))
        write_volume(label.with_array(label.array.astype(np.uint8)), self.label_path(case_id))
        self.register_case(case_id, info=info, record=record)

    def register_case(self, case_id: str, info: dict[str, Any] | None = None, record: dict[str, Any] | None = None) -> None:
        """List a case whose image and label files are already in place (written by a worker process
        or hard-linked) in dataset.json: write its record if given, keep ``info`` under
        ``syntumor.cases``, drop it from ``syntumor.failed``. No image is written."""
        if record is not None:
            write_json_atomic(self.record_path(case_id), record)
        entry = {"image": f"./imagesTr/{case_id}.nii.gz", "label": f"./labelsTr/{case_id}.nii.gz"}
        self.meta["training"] = [e for e in self.meta["training"] if e["image"] != entry["image"]] + [entry]
        self.meta["training"].sort(key=lambda e: e["image"])
        self.meta["numTraining"] = len(self.meta["training"])
        if info:
            cases = self.meta.setdefault("syntumor", {}).setdefault("cases", {})
            cases[case_id] = info
            # sorted: parallel workers finish in any order, the file must not depend on it
            self.meta["syntumor"]["cases"] = dict(sorted(cases.items()))
        self.meta.get("syntumor", {}).get("failed", {}).pop(case_id, None)
        self.flush()

    def flush(self) -> None:
        """Write dataset.json (creating the layout's folders the first time)."""
        (self.root / "imagesTr").mkdir(parents=True, exist_ok=True)
        (self.root / "labelsTr").mkdir(parents=True, exist_ok=True)
        write_json_atomic(self._json_path, self.meta)
