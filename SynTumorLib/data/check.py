"""``check_dataset``: validate a dataset case by case and summarise it (``syntumor dataset check``).

Errors (the dataset cannot be used as is): missing files, unreadable files, 2-D/4-D images, NaN,
image/label grid mismatch, unexpected or non-integer label values, labelled cases without pancreas.
Warnings (worth a look): unlabelled cases, intensities that do not look like HU, very thick slices,
tiny tumour components. Nothing under the dataset path is written.

Example:
    >>> import numpy as np, tempfile
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.data.msd import MSDWriter
    >>> root = tempfile.mkdtemp()
    >>> img = Volume.from_geometry(np.full((8, 8, 8), 40, np.int16), spacing=(2, 2, 2))
    >>> lab = np.zeros((8, 8, 8), np.uint8); lab[2:6, 2:6, 2:6] = 1; lab[3:5, 3:5, 3:5] = 2
    >>> MSDWriter(root).add_case("c0", img, img.with_array(lab))
    >>> report = check_dataset(root)
    >>> report.ok, report.summary["tumours"]["count"], report.summary["tumours"]["volume_ml"]["max"]
    (True, 1, 0.064)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.errors import InputError
from ..utils.progress import ProgressCallback
from .datasets import Case, Dataset, LabelSpec, open_dataset
from .labels import TUMOUR, tumour_components

THICK_SLICE_MM = 6.0
TINY_TUMOUR_ML = 0.01


@dataclass
class CheckReport:
    """Outcome of :func:`check_dataset`: ``errors``/``warnings`` are ``{case, file, problem}`` dicts."""

    root: str
    kind: str
    label_map: dict[int, int]
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "kind": self.kind, "ok": self.ok,
                "label_map": {str(k): v for k, v in self.label_map.items()},
                "errors": self.errors, "warnings": self.warnings, "summary": self.summary}

    def to_markdown(self) -> str:
        s = self.summary
        lines = [f"# Dataset check: {self.root}", "",
                 f"kind **{self.kind}**, label map (source → canonical) "
                 + ", ".join(f"{k}→{v}" for k, v in sorted(self.label_map.items())), "",
                 "| item | value |", "|---|---|",
                 f"| cases | {s.get('cases', 0)} ({s.get('labelled', 0)} labelled, {s.get('readable', 0)} readable) |"]
        for name, key in (("spacing (mm)", "spacing_mm"), ("size (voxels)", "size")):
            stats = s.get(key)
            if stats:
                lines.append(f"| {name} i / j / k | " + " / ".join(
                    f"{_fmt(stats['min'][a])}–{_fmt(stats['max'][a])} (median {_fmt(stats['median'][a])})" for a in range(3)) + " |")
        pan = s.get("pancreas_ml")
        if pan:
            lines.append(f"| pancreas (mL, incl. tumour) | {_fmt(pan['min'])}–{_fmt(pan['max'])} (median {_fmt(pan['median'])}) |")
        t = s.get("tumours", {})
        if t:
            vol = t.get("volume_ml")
            extra = f"; volume {_fmt(vol['min'])}–{_fmt(vol['max'])} mL (median {_fmt(vol['median'])})" if vol else ""
            lines.append(f"| tumours | {t['count']} in {t['cases_with_tumour']} cases{extra} |")
        lines.append(f"| errors / warnings | {len(self.errors)} / {len(self.warnings)} |")
        for title, items in (("Errors", self.errors), ("Warnings", self.warnings)):
            if items:
                lines += ["", f"## {title}", ""]
                lines += [f"- `{i['case']}` {i['file']}: {i['problem']}" for i in items]
        return "\n".join(lines) + "\n"


def _fmt(x: float) -> str:
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def _stats(values: list) -> dict[str, Any] | None:
    if not values:
        return None
    a = np.asarray(values, dtype=np.float64)
    axis = 0 if a.ndim == 2 else None
    r = lambda v: np.round(v, 4).tolist()  # noqa: E731
    return {"min": r(a.min(axis=axis)), "median": r(np.median(a, axis=axis)), "max": r(a.max(axis=axis))}


def _problem(items: list, case: Case, file: Path | str | None, problem: str) -> None:
    items.append({"case": case.case_id, "file": str(file) if file is not None else "", "problem": problem})


def _error_text(e: InputError, file: Path | None) -> str:
    """The problem part of an InputError (messages start with the file name; don't repeat it)."""
    msg = str(e)
    return msg[len(str(file)) + 2:] if file is not None and msg.startswith(f"{file}: ") else msg


def _check_case(ds: Dataset, case: Case, report: CheckReport, acc: dict[str, list]) -> None:

    from .datasets import geometry_difference
    from .io import read_volume

    for f in (case.image, case.label):
        if f is not None and not f.exists():
            _problem(report.errors, case, f, "file not found")
    if not case.image.exists():
        return
    try:
        image = read_volume(case.image)
    except InputError as e:
        _problem(report.errors, case, case.image, _error_text(e, case.image))
        return
    acc["spacing"].append(image.spacing)
    acc["size"].append(image.shape[::-1])
    acc["readable"].append(case.case_id)
    if max(image.spacing) > THICK_SLICE_MM:
        _problem(report.warnings, case, case.image, f"very coarse voxels {tuple(round(s, 2) for s in image.spacing)} mm")
    lo, hi = float(image.array.min()), float(image.array.max())
    if lo > -500 or hi < 100 or hi > 40000:
        _problem(report.warnings, case, case.image, f"intensity range {lo:g}..{hi:g} does not look like CT in HU")
    if case.label is None:
        _problem(report.warnings, case, None, "no label file (unlabelled case)")
        return
    if not case.label.exists():
        return
    try:
        raw = read_volume(case.label)
    except InputError as e:
        _problem(report.errors, case, case.label, _error_text(e, case.label))
        return
    diff = geometry_difference(image, raw)
    if diff:
        _problem(report.errors, case, case.label, f"label grid does not match image {case.image.name}: {diff}")
    try:
        label = ds.canonical_labels(raw.array, case)
    except InputError as e:
        _problem(report.errors, case, case.label, _error_text(e, case.label))
        return
    acc["labelled"].append(case.case_id)
    if diff:
        return  # volumes measured on a mismatched grid would mislead
    ml = image.voxel_volume_mm3 / 1000.0
    organ = int(np.count_nonzero(label))
    if organ == 0:
        _problem(report.errors, case, case.label, "empty pancreas: no pancreas or tumour voxel")
        return
    acc["pancreas_ml"].append(organ * ml)
    # 26-connectivity: a tumour touching itself diagonally is one lesion, as a reader would count it
    comps = tumour_components(label == TUMOUR)
    n = comps.count
    if n:
        sizes = comps.voxels * ml
        acc["tumour_ml"].extend(sizes.tolist())
        acc["tumour_cases"].append(case.case_id)
        tiny = int(np.count_nonzero(sizes < TINY_TUMOUR_ML))
        if tiny:
            _problem(report.warnings, case, case.label, f"{tiny} tumour component(s) smaller than {TINY_TUMOUR_ML} mL")
    acc["tumour_counts"].append(n)


def check_dataset(path: str | os.PathLike | Dataset, kind: str = "auto", progress: ProgressCallback | None = None, *,
                  pancreas_label: LabelSpec = None, tumour_label: LabelSpec = None) -> CheckReport:
    """Check every case of a dataset (a path or an opened :class:`Dataset`) and summarise it.

    Returns a :class:`CheckReport`; only a path that is not a usable dataset at all (missing, no
    layout recognised) raises :class:`InputError`.
    """
    ds = path if isinstance(path, Dataset) else open_dataset(path, kind, pancreas_label=pancreas_label,
                                                             tumour_label=tumour_label)
    report = CheckReport(str(ds.root), ds.kind, ds.label_map)
    acc: dict[str, list] = {k: [] for k in ("spacing", "size", "readable", "labelled", "pancreas_ml",
                                            "tumour_ml", "tumour_cases", "tumour_counts")}
    cases = ds.cases() + ds.test_cases()
    for i, case in enumerate(cases):
        if progress:
            progress(i / max(1, len(cases)), f"checking {case.case_id}")
        _check_case(ds, case, report, acc)
    if progress:
        progress(1.0, "done")
    report.summary = {
        "cases": len(cases),
        "readable": len(acc["readable"]),
        "labelled": len(acc["labelled"]),
        "spacing_mm": _stats(acc["spacing"]),
        "size": _stats(acc["size"]),
        "pancreas_ml": _stats(acc["pancreas_ml"]),
        "tumours": {
            "count": int(sum(acc["tumour_counts"])),
            "cases_with_tumour": len(acc["tumour_cases"]),
            "per_case": _stats(acc["tumour_counts"]),
            "volume_ml": _stats(acc["tumour_ml"]),
        },
    }
    return report
