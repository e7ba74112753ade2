"""``corrupt_dataset``: an MSD-layout copy of a dataset with elastically corrupted tumour labels — the
only input the noisy-label training arm needs.

Output layout (``OUT``)::

    dataset.json            MSD keys; "syntumor": {"corruption": settings, "cases": per-case metrics}
    imagesTr/<case>.nii.gz  the source CT, hard-linked (copied when linking is impossible; converted
                            to NIfTI, values unchanged, when the source is NRRD/MHA/DICOM)
    labelsTr/<case>.nii.gz  corrupted canonical labels (0/1/2 uint8) on the image grid
    records/<case>.json     the corrupt_label record (replays the case bit for bit)
    summary.json, summary.md  mean / median Dice, NSD, mean surface distance, HD95 to the clean labels

Per-case seeds are ``child_seed(seed, "case", case_id)``, so a case's result does not depend on
which other cases exist. The job is resumable: finished cases (listed, files present) are skipped;
an ``OUT`` made with other settings is refused. The input is only read.

Example:
    >>> import numpy as np, tempfile, os
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.data.msd import MSDWriter
    >>> src, out = tempfile.mkdtemp(), os.path.join(tempfile.mkdtemp(), "noisy")
    >>> img = Volume.from_geometry(np.zeros((24, 24, 24), np.int16), spacing=(1.5, 1.5, 1.5))
    >>> lab = np.zeros((24, 24, 24), np.uint8); lab[4:20, 4:20, 4:20] = 1; lab[8:16, 8:16, 8:16] = 2
    >>> MSDWriter(src).add_case("c0", img, img.with_array(lab))
    >>> s = corrupt_dataset(src, out, sigma_mm=1.0, seed=1)
    >>> s["cases"], s["corrupted"], 0.0 < s["dice"]["mean"] <= 1.0
    (1, 1, True)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import __version__
from ..data.datasets import Case, Dataset, LabelSpec, open_dataset
from ..data.integrity import verify_nifti
from ..data.io import read_volume, write_volume
from ..data.msd import MSDWriter
from ..data.volume import Volume
from ..geometry.elastic import check_elastic_params
from ..utils.atomic import link_or_copy_atomic, write_json_atomic, write_text_atomic
from ..utils.errors import InputError
from ..utils.limits import MAX_LENGTH_MM, check_length_mm, check_number, extent_mm
from ..utils.paths import ensure_outside
from ..utils.progress import ProgressCallback
from ..utils.seeding import child_seed
from .corrupt import corrupt_label, resolve_sigma

log = logging.getLogger(__name__)
METRICS = ("dice", "nsd", "msd_mm", "hd95_mm")


def _image_header(case: Case, ds: Dataset) -> Volume:
    """The image's grid without reading its voxels (a zero-stride array); DICOM folders are read."""
    import SimpleITK as sitk

    if case.image.is_dir():
        return ds.load_image(case)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(case.image))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return ds.load_image(case)  # let read_volume produce its specific message
    if reader.GetDimension() != 3:
        return ds.load_image(case)
    size = reader.GetSize()
    direction = np.asarray(reader.GetDirection(), dtype=np.float64).reshape(3, 3)
    zeros = np.broadcast_to(np.int16(0), size[::-1])
    return Volume.from_lps(zeros, reader.GetSpacing(), reader.GetOrigin(), direction)


def _place_image(case: Case, dst: Path) -> str:
    """Hard-link (else copy) a NIfTI source; convert other formats. Returns how it was placed."""
    if case.image.is_file() and case.image.name.lower().endswith(".nii.gz"):
        verify_nifti(case.image)  # linked unread: a truncated source must not pass on into the copy
        return link_or_copy_atomic(case.image, dst)
    write_volume(read_volume(case.image), dst)
    return "converted"


def _case_metrics(clean: np.ndarray, noisy: np.ndarray, spacing_kji, tolerance_mm: float) -> dict:
    # Imported here: metrics sits above corruption in the layer order; these two modules are pure
    # numpy and only need utils (see the area report).
    from ..metrics.overlap import dice
    from ..metrics.surface import (
        hausdorff_from_distances,
        mean_from_distances,
        nsd_from_distances,
        surface_distances,
    )

    sd = surface_distances(noisy, clean, spacing_kji)
    return {"dice": dice(noisy, clean), "nsd": nsd_from_distances(sd, tolerance_mm),
            "msd_mm": mean_from_distances(sd), "hd95_mm": hausdorff_from_distances(sd, 95.0)}


def _stats(values: list[float]) -> dict | None:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return None
    return {"mean": float(v.mean()), "std": float(v.std()), "median": float(np.median(v)),
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def _summary_markdown(summary: dict) -> str:
    c = summary["settings"]
    what = f"level **{c['level']}** (σ = {c['sigma_mm']:g} mm)" if c["level"] else f"σ = {c['sigma_mm']:g} mm"
    lines = [f"# Corrupted labels: {what}", "",
             f"Source `{c['source']}` ({c['source_kind']}), seed {c['seed']}, mode `{c['mode']}`, "
             f"{c['control_points']} control points/axis, per component: {c['per_component']}, "
             f"kept inside organ: {c['keep_inside_organ']}.", "",
             f"Cases: {summary['cases']} — corrupted {summary['corrupted']}, unchanged (no tumour) "
             f"{summary['unchanged']}.", "",
             "| metric (tumour, corrupted vs clean) | mean | median | min | max |", "|---|---|---|---|---|"]
    for m, name in zip(METRICS, ("Dice", f"NSD @ {c['tolerance_mm']:g} mm", "mean surface distance (mm)", "HD95 (mm)"),
                       strict=True):
        s = summary[m]
        if s:
            lines.append(f"| {name} | {s['mean']:.3f} | {s['median']:.3f} | {s['min']:.3f} | {s['max']:.3f} |")
    lines += ["", "| case | tumour voxels | components | Dice | NSD | MSD (mm) | HD95 (mm) | warnings |",
              "|---|---|---|---|---|---|---|---|"]
    for r in summary["per_case"]:
        f = (lambda x: "—" if x is None else f"{x:.3f}")  # noqa: E731
        lines.append(f"| {r['case']} | {r['tumour_voxels']} | {r['components']} | {f(r.get('dice'))} | "
                     f"{f(r.get('nsd'))} | {f(r.get('msd_mm'))} | {f(r.get('hd95_mm'))} | {'; '.join(r['warnings'])} |")
    return "\n".join(lines) + "\n"


def corrupt_dataset(
    src: str | os.PathLike,
    out: str | os.PathLike,
    level: str | None = None,
    sigma_mm: float | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    *,
    kind: str = "auto",
    control_points: int = 3,
    mode: str = "independent",
    target_labels: Sequence[int] = (2,),
    per_component: bool = True,
    keep_inside_organ: bool = False,
    pancreas_label: LabelSpec = None,
    tumour_label: LabelSpec = None,
    tolerance_mm: float = 2.0,
) -> dict:
    """Write an MSD-layout copy of ``src`` whose tumour labels are corrupted (layout in the module doc).

    Args:
        src: any dataset :func:`~SynTumorLib.data.datasets.open_dataset` reads (MSD, NIH, BTCV, …).
        out: output folder (created; must not overlap ``src``). Re-running resumes.
        level / sigma_mm: the noise level name or σ in mm (exactly one).
        seed: dataset seed; each case uses ``child_seed(seed, "case", case_id)``.
        progress: ``(fraction, message)`` callback.
        kind, pancreas_label, tumour_label: passed to ``open_dataset``.
        control_points, mode, target_labels, per_component, keep_inside_organ: see ``corrupt_label``.
        tolerance_mm: NSD tolerance of the summary.

    Returns:
        The summary dict (also in ``out/summary.json``; a table in ``out/summary.md``).
    """
    sigma = resolve_sigma(level, sigma_mm)
    check_elastic_params(sigma, control_points, mode)  # every parameter before any output exists
    check_number(tolerance_mm, "tolerance_mm", 0.0, MAX_LENGTH_MM, lo_open=True, unit="mm")
    if not target_labels or any(int(v) <= 0 for v in target_labels):
        raise InputError(f"target_labels must be positive label values (e.g. 2 for tumour), got {list(target_labels)}")
    src, out = Path(src), Path(out)
    if not src.exists():
        raise InputError(f"{src}: dataset folder not found")
    ensure_outside(out, src)
    ds = open_dataset(src, kind, pancreas_label=pancreas_label, tumour_label=tumour_label)
    first = next((c for c in ds.cases() if c.label is not None), None)
    if first is not None:  # σ against the data, from one image header (cheap)
        header = _image_header(first, ds)
        check_length_mm(sigma, "sigma_mm", extent_mm(header.shape, header.array_spacing), what=f"image {first.image}")
    settings = {"source": str(src.resolve()), "source_kind": ds.kind, "level": level, "sigma_mm": sigma,
                "seed": int(seed), "mode": mode, "control_points": int(control_points),
                "target_labels": [int(v) for v in target_labels], "per_component": bool(per_component),
                "keep_inside_organ": bool(keep_inside_organ), "tolerance_mm": float(tolerance_mm)}
    if (out / "dataset.json").exists():
        from ..utils.jsonio import read_json

        old = read_json(out / "dataset.json").get("syntumor", {}).get("corruption")
        if old is None:
            raise InputError(f"{out}: already holds a dataset that is not a corrupted copy; choose another --out")
        if {k: v for k, v in old.items() if k != "version"} != settings:
            diff = {k: old.get(k) for k in settings if old.get(k) != settings[k]}
            raise InputError(f"{out}: was made with other settings {diff}; use the same settings to resume or another --out")
    name = f"{src.name}-noisy-{level or f'sigma{sigma:g}mm'}"
    writer = MSDWriter(out, name=name, description=f"Tumour labels of {src.name} corrupted by elastic deformation "
                       f"(SynTumor {__version__}, σ = {sigma:g} mm)", extra={"corruption": {**settings, "version": __version__}})
    cases = ds.cases()
    rows, warnings = [], []
    for n, case in enumerate(cases):
        if progress:
            progress(n / max(1, len(cases)), f"corrupting {case.case_id}")
        info = writer.meta.get("syntumor", {}).get("cases", {}).get(case.case_id)
        if writer.has_case(case.case_id) and writer.record_path(case.case_id).exists() and info:
            rows.append(info)  # finished in an earlier run
            continue
        if case.label is None:
            warnings.append(f"{case.case_id}: no label file; case skipped")
            continue
        label = ds.load_label(case, _image_header(case, ds))
        noisy, record = corrupt_label(label, sigma_mm=sigma, seed=child_seed(seed, "case", case.case_id),
                                      control_points=control_points, mode=mode, target_labels=target_labels,
                                      per_component=per_component, keep_inside_organ=keep_inside_organ)
        record.update(level=level, case_id=case.case_id, source_label=str(case.label), dataset_seed=int(seed))
        clean_t, noisy_t = np.isin(label.array, record["target_labels"]), np.isin(noisy.array, record["target_labels"])
        row = {"case": case.case_id, "tumour_voxels": int(clean_t.sum()), "components": len(record["components"]),
               "changed_voxels": record["changed_voxels"], "warnings": record["warnings"]}
        if clean_t.any():
            row.update(_case_metrics(clean_t, noisy_t, label.array_spacing, tolerance_mm))
            if not noisy_t.any():  # distances are infinite; JSON has no inf, so record None and say why
                row.update(msd_mm=None, hd95_mm=None)
                row["warnings"] = row["warnings"] + ["the corrupted tumour is empty (σ too large for this tumour?)"]
        row["image"] = _place_image(case, writer.image_path(case.case_id))
        write_volume(noisy.with_array(noisy.array.astype(np.uint8)), writer.label_path(case.case_id))
        writer.register_case(case.case_id, info=row, record=record)
        rows.append(row)
    warnings += [f"{r['case']}: {w}" for r in rows for w in r["warnings"]]
    summary = {"settings": settings, "version": __version__, "cases": len(rows),
               "corrupted": sum(1 for r in rows if r["tumour_voxels"] > 0),
               "unchanged": sum(1 for r in rows if r["tumour_voxels"] == 0),
               **{m: _stats([r.get(m) for r in rows]) for m in METRICS},
               "vanished": sum(1 for r in rows if r["tumour_voxels"] > 0 and r.get("hd95_mm") is None),
               "warnings": warnings, "per_case": rows}
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "summary.md", _summary_markdown(summary))
    if progress:
        progress(1.0, "done")
    return summary
