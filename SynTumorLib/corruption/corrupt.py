"""Corrupt tumour labels by elastic deformation — the study's noisy-label experiment (hypothesis 2).

Each tumour (each 26-connected component of the target label, or the whole label) is deformed with
:func:`SynTumorLib.geometry.elastic.elastic_deform_mask` — random control-point shifts N(0, σ²) in
mm, along the three axes independently as the paper describes (``mode="pairs"``: the reference's
three axis-pair passes). How the result is written back, per target value ``v``:

* voxels of the deformed mask become ``v`` — the tumour may cross the pancreas boundary into the
  surrounding tissue, as in the paper (``keep_inside_organ=True`` limits it to the clean
  pancreas ∪ tumour);
* voxels the tumour leaves take the value of the nearest voxel that is not ``v`` — pancreas where
  the tumour was embedded in the gland, background where it bordered fat; no new value appears;
* all other voxels are unchanged, so label values (0, 1, 2 …) are preserved.

Component seeds are derived from ``seed`` with ``child_seed(seed, "corrupt", v, index)`` and
recorded, so :func:`replay_corruption` reproduces the result bit for bit.

Example:
    >>> import numpy as np
    >>> from SynTumorLib import Volume
    >>> a = np.zeros((32, 32, 32), np.uint8); a[4:28, 4:28, 4:28] = 1; a[10:22, 10:22, 10:22] = 2
    >>> lab = Volume.from_geometry(a, spacing=(1.0, 1.0, 2.0))
    >>> noisy, rec = corrupt_label(lab, sigma_mm=1.5, seed=7)
    >>> sorted(np.unique(noisy.array).tolist()), rec["sigma_mm"], len(rec["components"])
    ([0, 1, 2], 1.5, 1)
    >>> np.array_equal(replay_corruption(lab, rec).array, noisy.array)
    True
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from .. import __version__
from ..data.labels import tumour_components
from ..data.volume import Volume
from ..geometry.elastic import check_elastic_params, deformation_box, elastic_deform_mask
from ..utils.errors import InputError
from ..utils.limits import check_length_mm, extent_mm
from ..utils.seeding import child_seed, fresh_seed
from .levels import sigma_for_level

log = logging.getLogger(__name__)


def check_label_array(arr: np.ndarray, where: str = "label") -> np.ndarray:
    """Reject label maps that are not label maps: non-integer, NaN or negative values."""
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise InputError(f"{where}: a label map must be 3-D, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"{where}: label map has dtype {arr.dtype}; expected integers")
    if np.issubdtype(arr.dtype, np.floating):
        bad = arr[~np.isfinite(arr) | (np.mod(arr, 1) != 0)] if arr.size else arr[:0]
        if bad.size:
            raise InputError(f"{where}: label map has non-integer values (e.g. {float(bad.flat[0]):g}); "
                             "is this an image rather than a label map?")
    if arr.size and arr.min() < 0:
        raise InputError(f"{where}: label map has negative values (min {arr.min()}); labels must be ≥ 0")
    return arr


def resolve_sigma(level: str | None, sigma_mm: float | None) -> float:
    """σ in mm from exactly one of ``level`` and ``sigma_mm``."""
    if level is not None and sigma_mm is not None:
        raise InputError(f"give either a noise level or sigma_mm, not both (level={level!r}, sigma_mm={sigma_mm})")
    if level is None and sigma_mm is None:
        raise InputError("give a noise level (low, moderate, high, extreme) or sigma_mm")
    if level is not None:
        return sigma_for_level(level)
    try:
        s = float(sigma_mm)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"sigma_mm must be a number of millimetres, got {sigma_mm!r}") from None
    if not np.isfinite(s) or s < 0:
        raise InputError(f"sigma_mm must be a finite number ≥ 0 mm (0 = no corruption), got {sigma_mm}")
    return check_length_mm(s, "sigma_mm")


def label_digest(arr: np.ndarray) -> str:
    """sha256 of a label array (dtype, shape and bytes) — ties a record to the label it was made on."""
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _components(mask: np.ndarray, per_component: bool) -> list[tuple[tuple[slice, ...], np.ndarray]]:
    """(bounding-box slices, boolean mask inside the box) per component, in raster order."""
    if not per_component:
        box = ndimage.find_objects(mask.astype(np.uint8))[0]
        return [(box, mask[box])]
    lab = tumour_components(mask).labels
    return [(box, lab[box] == i + 1) for i, box in enumerate(ndimage.find_objects(lab)) if box is not None]


def _fill_vacated(out: np.ndarray, vacated: np.ndarray, value: int, box: tuple[slice, ...]) -> None:
    """Give voxels the tumour left the value of their nearest voxel that is not ``value``.

    Works in ``box`` (the changed region plus a 2-voxel ring); the ring holds non-``value`` voxels
    unless it is cut by the array edge, so the nearest donor lies inside the box.
    """
    sub, vac = out[box], vacated[box]
    donors = sub != value
    if not donors.any():
        sub[vac] = 0
        return
    _, idx = ndimage.distance_transform_edt(~donors, return_indices=True)
    sub[vac] = sub[tuple(i[vac] for i in idx)]


def _deform_component(part: np.ndarray, box: tuple[slice, ...], sigma_mm: float, spacing_kji: Sequence[float],
                      seed: int, control_points: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Deform one component in a local frame exactly as large as the deformation's region.

    Same result as deforming it inside the whole label (same region, same draws), without
    allocating full-size arrays per tumour. Returns (deformed local mask, its origin in the array).
    """
    lo, hi = deformation_box(part, sigma_mm, spacing_kji)
    local = np.zeros(tuple(int(x) for x in hi - lo), dtype=bool)
    local[tuple(slice(int(-a), int(-a) + n) for a, n in zip(lo, part.shape, strict=True))] = part
    out = elastic_deform_mask(local, sigma_mm, spacing_kji, seed=seed, points=control_points, mode=mode)
    return out, np.array([b.start for b in box]) + lo


def _paste_or(target: np.ndarray, local_and_origin: tuple[np.ndarray, np.ndarray]) -> None:
    """target |= local placed at origin (parts outside the array are dropped)."""
    local, origin = local_and_origin
    lo = np.maximum(origin, 0)
    hi = np.minimum(origin + local.shape, target.shape)
    if np.any(hi <= lo):
        return
    dst = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    src = tuple(slice(int(a - o), int(b - o)) for a, b, o in zip(lo, hi, origin, strict=True))
    target[dst] |= local[src]


def _apply(arr: np.ndarray, spacing_kji: Sequence[float], sigma_mm: float, seed_of: Callable[[int, int], int],
           control_points: int,
           mode: str, target_labels: Sequence[int], per_component: bool, keep_inside_organ: bool,
           warnings: list[str] | None = None, components: list[dict] | None = None) -> np.ndarray:
    out = arr.copy()
    if sigma_mm == 0:
        return out
    voxel_mm3 = float(np.prod(spacing_kji))
    foreground = arr != 0
    for v in target_labels:
        clean = arr == v
        if not clean.any():
            continue
        deformed = np.zeros(arr.shape, dtype=bool)
        for ci, (box, part) in enumerate(_components(clean, per_component)):
            s = seed_of(int(v), ci)
            n_vox = int(part.sum())
            radius = (3.0 * n_vox * voxel_mm3 / (4.0 * np.pi)) ** (1.0 / 3.0)
            if warnings is not None and sigma_mm >= radius:
                warnings.append(f"σ = {sigma_mm:g} mm ≥ the size (equivalent radius {radius:.1f} mm) of component {ci} "
                                f"of label {v}: the corrupted label may no longer resemble it")
            if components is not None:
                components.append({"value": int(v), "index": ci, "seed": int(s), "voxels": n_vox,
                                   "radius_mm": round(radius, 3), "bbox_kji": [[b.start for b in box], [b.stop for b in box]]})
            _paste_or(deformed, _deform_component(part, box, sigma_mm, spacing_kji, s, control_points, mode))
        if keep_inside_organ:
            deformed &= foreground
        vacated = clean & ~deformed
        out[deformed] = v
        if vacated.any():
            changed = ndimage.find_objects((clean | deformed).astype(np.uint8))[0]
            box = tuple(slice(max(s.start - 2, 0), min(s.stop + 2, n)) for s, n in zip(changed, arr.shape, strict=True))
            _fill_vacated(out, vacated, int(v), box)
    return out


def corrupt_label(
    label: Volume,
    level: str | None = None,
    sigma_mm: float | None = None,
    seed: int | None = 0,
    control_points: int = 3,
    mode: str = "independent",
    target_labels: Sequence[int] = (2,),
    per_component: bool = True,
    keep_inside_organ: bool = False,
) -> tuple[Volume, dict]:
    """Elastically corrupt the boundary of the tumour label (rules in the module docstring).

    Args:
        label: label map (0 background, 1 pancreas, 2 tumour; any non-negative integers work).
        level: a named noise level (``low``, ``moderate``, ``high``, ``extreme``), or
        sigma_mm: the σ of the control-point displacements in mm (0 → unchanged copy).
        seed: integer seed (None → a fresh one, recorded).
        control_points: control points per axis of the random grid (3 as in the reference).
        mode: ``"independent"`` (3-D field, the paper) or ``"pairs"`` (reference's axis-pair passes).
        target_labels: label values to corrupt (default the tumour, 2), processed in the given order
            (a later value is painted over an earlier one, e.g. ``(1, 2)``: pancreas, then tumour).
        per_component: deform each connected tumour separately (False: the whole label at once).
        keep_inside_organ: keep the deformed tumour inside the clean pancreas ∪ tumour.

    Returns:
        ``(corrupted label Volume — same grid and dtype, record)``; the record is JSON-able and
        holds every parameter used, per-component seeds and sizes, ``changed_voxels`` and
        ``warnings`` (no target voxels, σ = 0, σ ≥ a tumour's size).
    """
    if not isinstance(label, Volume):
        raise InputError(f"corrupt_label needs a Volume label map, got {type(label).__name__}")
    arr = check_label_array(label.array)
    sigma = resolve_sigma(level, sigma_mm)
    _, control_points = check_elastic_params(sigma, control_points, mode)
    check_length_mm(sigma, "sigma_mm", extent_mm(label.shape, label.array_spacing), what="the label map")
    targets = [int(v) for v in np.atleast_1d(target_labels)]
    if not targets or any(v <= 0 for v in targets):
        raise InputError(f"target_labels must be positive label values (e.g. 2 for tumour), got {list(target_labels)}")
    seed = fresh_seed() if seed is None else int(seed)
    if seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    warnings: list[str] = []
    components: list[dict] = []
    present = [v for v in targets if np.any(arr == v)]
    if not present:
        warnings.append(f"label has no voxels with value(s) {targets}: returned unchanged")
    if sigma == 0:
        warnings.append("σ = 0 mm: label returned unchanged")
    out = _apply(arr, label.array_spacing, sigma, lambda v, i: child_seed(seed, "corrupt", v, i), int(control_points),
                 mode, targets, per_component, keep_inside_organ, warnings, components)
    for w in warnings:  # debug only: callers get them in the record (the CLI prints them once)
        log.debug(w)
    record = {
        "op": "corrupt_label",
        "version": __version__,
        "seed": seed,
        "level": None if level is None else str(level).strip().lower(),
        "sigma_mm": sigma,
        "control_points": int(control_points),
        "mode": mode,
        "target_labels": targets,
        "per_component": bool(per_component),
        "keep_inside_organ": bool(keep_inside_organ),
        "label": {"shape_kji": list(arr.shape), "spacing": list(label.spacing), "sha256": label_digest(arr)},
        "components": components,
        "changed_voxels": int(np.count_nonzero(out != arr)),
        "warnings": warnings,
    }
    return label.with_array(out), record


def replay_corruption(label: Volume, record: dict) -> Volume:
    """Reproduce :func:`corrupt_label` bit for bit from its record (σ and seeds as recorded, so a
    later recalibration of the named levels does not change a replay)."""
    if not isinstance(record, dict) or record.get("op") != "corrupt_label":
        raise InputError("not a corrupt_label record (missing op='corrupt_label')")
    arr = check_label_array(label.array)
    want = record.get("label", {}).get("sha256")
    if want and want != label_digest(arr):
        raise InputError("this record was made on a different label map (sha256 differs); replay needs the clean label")
    try:
        seeds = {(int(c["value"]), int(c["index"])): int(c["seed"]) for c in record["components"]}
        sigma, points = float(record["sigma_mm"]), int(record["control_points"])
        mode, targets = str(record["mode"]), [int(v) for v in record["target_labels"]]
        per_component, keep_inside = bool(record["per_component"]), bool(record["keep_inside_organ"])
    except KeyError as e:
        raise InputError(f"corrupt_label record is missing {e}") from None

    def seed_of(v: int, i: int) -> int:
        if (v, i) not in seeds:
            raise InputError(f"record has no seed for component {i} of label {v}; it was made on another label map")
        return seeds[(v, i)]

    out = _apply(arr, label.array_spacing, sigma, seed_of, points, mode, targets, per_component, keep_inside)
    return label.with_array(out)
