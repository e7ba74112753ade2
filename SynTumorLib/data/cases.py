"""The types of a dataset: :class:`Case` (one image and its label file) and :class:`Dataset` (the
cases, plus the rule that turns the source's label values into canonical 0/1/2), and the grid check
between an image and its label. The layouts that build them live in :mod:`.dataset_adapters`;
:func:`SynTumorLib.data.datasets.open_dataset` picks the layout.

Example:
    >>> label_map_from_values(pancreas=[7, 8], tumour=9)
    {0: 0, 7: 1, 8: 1, 9: 2}
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils.errors import InputError
from .io import read_volume
from .volume import Volume

KINDS = ("msd", "nnunet", "nih", "btcv", "totalseg", "folder")
LabelSpec = int | Sequence[int] | None

# Geometry tolerances between an image and its label map. NIfTI stores the origin as float32, so a
# label written by another tool can differ by a few µm on a 500 mm origin without being wrong.
ORIGIN_ATOL_MM = 0.01
SPACING_RTOL = 1e-4
DIRECTION_ATOL = 1e-4


@dataclass(frozen=True)
class Case:
    """One case: an id, an image file (or DICOM folder) and an optional label file."""

    case_id: str
    image: Path
    label: Path | None = None


def geometry_difference(a: Volume, b: Volume) -> str | None:
    """None when two volumes share a grid (within tolerance), else a short description of how they differ."""
    if a.shape != b.shape:
        return f"size (i,j,k) {a.shape[::-1]} vs {b.shape[::-1]}"
    sa, sb = np.asarray(a.spacing), np.asarray(b.spacing)
    if not np.allclose(sa, sb, rtol=SPACING_RTOL, atol=0):
        return f"spacing {', '.join(f'{x:.5g}' for x in sa)} vs {', '.join(f'{x:.5g}' for x in sb)} mm"
    d = float(np.abs(a.direction_ras - b.direction_ras).max())
    if d > DIRECTION_ATOL:
        return f"direction differs (largest cosine difference {d:.4g})"
    o = float(np.linalg.norm(a.origin_ras - b.origin_ras))
    if o > ORIGIN_ATOL_MM:
        pa, pb = (", ".join(f"{x:.3f}" for x in v.origin_ras) for v in (a, b))
        return f"origin differs by {o:.4g} mm (RAS {pa} vs {pb})"
    return None


def label_map_from_values(pancreas: LabelSpec = 1, tumour: LabelSpec = 2) -> dict[int, int]:
    """``{0: 0, pancreas…: 1, tumour…: 2}`` from one value or a list of values per class."""

    def as_list(v: LabelSpec) -> list[int]:
        if v is None:
            return []
        return [int(x) for x in (v if isinstance(v, (list, tuple, set)) else [v])]

    out = {0: 0}
    for canonical, values in ((1, as_list(pancreas)), (2, as_list(tumour))):
        for v in values:
            if v == 0:
                raise InputError("label value 0 is background and cannot be the pancreas or tumour label")
            if v in out and out[v] != canonical:
                raise InputError(f"label value {v} given for both pancreas and tumour")
            out[v] = canonical
    return out


class Dataset:
    """A list of cases plus the rule that turns the source's label values into canonical ones.

    Attributes:
        kind: the adapter name (one of :data:`KINDS`).
        root: the dataset folder.
        label_map: source value → canonical value (0/1/2).
        others_to_background: values missing from ``label_map`` become 0 (multi-organ sources such
            as BTCV and TotalSegmentator) instead of being an error.
    """

    kind = "base"
    label_problem: str | None = None  # set by adapters whose label names cannot be mapped

    def __init__(self, root: Path, cases: list[Case], label_map: dict[int, int], *,
                 others_to_background: bool = False, case_label_maps: dict[str, dict[int, int]] | None = None,
                 test_cases: list[Case] | None = None):
        self.root = Path(root)
        self.label_map = dict(label_map)
        self.others_to_background = others_to_background
        self._case_label_maps = dict(case_label_maps or {})
        ids = [c.case_id for c in cases]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise InputError(f"{self.root}: duplicate case ids {dup[:5]} in a {self.kind} dataset")
        self._cases = sorted(cases, key=lambda c: c.case_id)
        self._test_cases = sorted(test_cases or [], key=lambda c: c.case_id)

    # ------------------------------------------------------------------ listing
    def cases(self) -> list[Case]:
        """The cases (training cases for MSD/nnU-Net), sorted by id."""
        return list(self._cases)

    def test_cases(self) -> list[Case]:
        """Unlabelled test cases listed separately by the source (MSD ``test``, nnU-Net ``imagesTs``)."""
        return list(self._test_cases)

    def case(self, case_id: str) -> Case:
        for c in self._cases + self._test_cases:
            if c.case_id == case_id:
                return c
        raise InputError(f"{self.root}: no case {case_id!r} (the {self.kind} dataset has {len(self._cases)} cases)")

    def __len__(self) -> int:
        return len(self._cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, cases={len(self._cases)})"

    def label_map_for(self, case: Case) -> dict[int, int]:
        return self._case_label_maps.get(case.case_id, self.label_map)

    def others_to_background_for(self, case: Case) -> bool:
        return self.others_to_background

    # ------------------------------------------------------------------ loading
    def load_image(self, case: Case) -> Volume:
        """The CT (HU) as stored; errors name the file."""
        return read_volume(case.image)

    def canonical_labels(self, array: np.ndarray, case: Case) -> np.ndarray:
        """Map a source label array to canonical uint8 0/1/2 (a new array; the input is not touched)."""
        where = case.label
        a = np.asarray(array)
        if not (np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_):
            frac = a[np.mod(a, 1) != 0]
            if frac.size:
                raise InputError(f"{where}: label map has non-integer values (e.g. {float(frac.flat[0]):g}); "
                                 "is this an image rather than a label map?")
            a = a.astype(np.int64)
        mapping = self.label_map_for(case)
        values = np.unique(a)
        unknown = [int(v) for v in values if int(v) not in mapping]
        if unknown and not self.others_to_background_for(case):
            expected = ", ".join(str(v) for v in sorted(mapping))
            raise InputError(f"{where}: unexpected label values {unknown[:10]} (a {self.kind} label map holds "
                             f"{expected}; set the pancreas/tumour label values if they differ)")
        out = np.zeros(a.shape, np.uint8)
        for src, dst in mapping.items():
            if dst:
                out[a == src] = dst
        return out

    def load_label(self, case: Case, image: Volume | None = None) -> Volume | None:
        """The canonical label map (uint8 0/1/2) on the image grid, or None for an unlabelled case.

        With ``image`` given, the grids are compared and a mismatch is an ``InputError`` naming
        both files and the difference; within tolerance the label takes the image's exact matrix.
        """
        if case.label is None:
            return None
        raw = read_volume(case.label)
        if image is not None:
            diff = geometry_difference(image, raw)
            if diff:
                raise InputError(f"{case.label}: label grid does not match image {case.image}: {diff}")
            raw = Volume(raw.array, image.ijk_to_ras.copy())
        return raw.with_array(self.canonical_labels(raw.array, case))

    def load(self, case: Case) -> tuple[Volume, Volume | None]:
        """``(image, label)`` — label canonical uint8 on the image grid, None when the case has none."""
        image = self.load_image(case)
        return image, self.load_label(case, image)
