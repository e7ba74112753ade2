"""How close a tumour texture comes to real tumours: the measures and the healthy-twin comparison.

A texture is judged where the answer is known. A phantom case is generated twice from one seed:
with its "real" tumours and without them — the *healthy twin* (same anatomy, enhancement and CT
noise; only the tumours and the duct they dilate are missing). Each real tumour's mask is
re-textured in the twin by every texture, and the result is compared with the real tumour in the
same mask (any texture: statistical, fitted, diffusion):

* **HU mean / std** inside the tumour;
* **contrast** = mean HU of the pancreas ring around the tumour (pancreas voxels within 5 voxels of
  the tumour; the whole pancreas when the ring has < 10 voxels) − tumour mean: a hypodense tumour
  has a positive contrast;
* **boundary sharpness** = mean |∇HU| (HU/mm) on the one-voxel shell either side of the surface;
* for a diffusion model, the **autoencoder's reconstruction PSNR / SSIM** of the windowed crop
  around each real tumour (``train_autoencoder.psnr_ssim``; these crops are held out when the cases
  were not in the model's training data).

:func:`compare_textures` returns per-tumour rows (with the seeds used) and :func:`summarize` the
means and mean absolute differences to the real tumours; :mod:`.quality_report` writes them as
Markdown and a PNG grid. ``tools/diffusion_quality_report.py`` and the demo's texture stage use it.

Example (a 24³ block: a 60-HU pancreas with a 20-HU tumour):
    >>> import numpy as np
    >>> hu = np.full((24, 24, 24), 60.0, np.float32)
    >>> mask = np.zeros(hu.shape, bool); mask[8:16, 8:16, 8:16] = True
    >>> hu[mask] = 20.0
    >>> s = tumour_stats(hu, mask, ~mask, (1.0, 1.0, 1.0))
    >>> round(s["mean"], 1), round(s["std"], 1), round(s["contrast"], 1), round(s["ring_mean"], 1)
    (20.0, 0.0, 40.0, 60.0)
    >>> round(boundary_sharpness(hu, mask, (1.0, 1.0, 1.0)), 2)  # 20 HU/mm across the faces, more at edges
    21.05
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from ..data.labels import PANCREAS, TUMOUR, tumour_components
from ..utils.errors import InputError
from ..utils.progress import ProgressCallback
from ..utils.seeding import child_seed

MEASURES = ("mean", "std", "contrast", "sharp")
SIZE_THRESHOLD_MM = 25.0  # small < 25 mm ≤ large equivalent diameter (the tiny config's size bin)
RING_VOXELS = 5


# ----------------------------------------------------------------------------- measures
def boundary_sharpness(hu: np.ndarray, mask: np.ndarray, spacing_kji: Sequence[float]) -> float:
    """Mean |∇HU| (HU/mm) on the one-voxel shell either side of the tumour surface."""
    g = np.sqrt(sum(np.gradient(np.asarray(hu, np.float64), float(s), axis=a) ** 2
                    for a, s in enumerate(spacing_kji)))
    shell = ndimage.binary_dilation(mask) & ~ndimage.binary_erosion(mask)
    return float(g[shell].mean())


def pancreas_reference(mask: np.ndarray, pancreas: np.ndarray) -> np.ndarray:
    """The pancreas the tumour is compared with: a ring of ``RING_VOXELS`` around it, or — when the
    ring has fewer than 10 voxels (a tumour that fills the organ) — the whole pancreas."""
    ring = pancreas & ndimage.binary_dilation(mask, iterations=RING_VOXELS) & ~mask
    return pancreas if ring.sum() < 10 else ring


def tumour_stats(hu: np.ndarray, mask: np.ndarray, pancreas: np.ndarray, spacing_kji: Sequence[float]) -> dict:
    """HU mean/std inside ``mask``, contrast to the pancreas ring, ring mean and boundary sharpness.

    ``pancreas``: pancreas voxels *not* in the tumour (the same for every texture of one tumour, so
    that the contrasts are comparable).
    """
    hu = np.asarray(hu, np.float32)
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise InputError("tumour_stats: the tumour mask is empty")
    ref = pancreas_reference(mask, np.asarray(pancreas, bool))
    if not ref.any():
        raise InputError("tumour_stats: no pancreas voxel around the tumour to compare with")
    mean = float(hu[mask].mean())
    ring = float(hu[ref].mean())
    return {"mean": mean, "std": float(hu[mask].std()), "contrast": ring - mean, "ring_mean": ring,
            "sharp": boundary_sharpness(hu, mask, spacing_kji)}


def box_around(mask: np.ndarray, spacing_kji: Sequence[float], margin_mm: float) -> tuple[slice, ...]:
    """The bounding box of ``mask`` grown by ``margin_mm`` on every side (clipped to the array)."""
    idx = np.argwhere(mask)
    m = np.ceil(margin_mm / np.asarray(spacing_kji, float)).astype(int)
    lo, hi = np.maximum(idx.min(0) - m, 0), np.minimum(idx.max(0) + m + 1, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def equivalent_diameter_mm(mask: np.ndarray, spacing_kji: Sequence[float]) -> float:
    """Diameter of the sphere of the mask's volume: (6V/π)^⅓."""
    return float((6 * np.count_nonzero(mask) * np.prod(spacing_kji) / np.pi) ** (1 / 3))


# ----------------------------------------------------------------------------- twins
@dataclass
class TwinCase:
    """A case with real tumours and its healthy twin, as arrays on one grid (indexed [k, j, i]).

    ``seed`` is the phantom seed; the texture seed of tumour ``t`` is ``child_seed(seed, "tex", t)``.
    """

    case_id: str
    seed: int
    spacing_kji: tuple[float, float, float]
    real: np.ndarray  # float32 HU with the real tumours
    label: np.ndarray  # uint8 0/1/2 of the real case
    healthy: np.ndarray  # float32 HU of the twin
    healthy_label: np.ndarray  # uint8 0/1 of the twin


def phantom_twin(seed: int, spacing=(2.0, 2.0, 2.0), shape=None, tumours: int = 2, case_id: str | None = None,
                 **phantom_args: Any) -> TwinCase:
    """Generate phantom case ``seed`` with ``tumours`` real tumours and its healthy twin."""
    from ..data.phantom import generate_case

    img, lab, _ = generate_case(seed, spacing=spacing, shape=shape, tumours=tumours, **phantom_args)
    healthy, hlab, _ = generate_case(seed, spacing=spacing, shape=shape, tumours=0, **phantom_args)
    return TwinCase(str(seed if case_id is None else case_id), int(seed), tuple(float(s) for s in img.array_spacing),
                    img.array.astype(np.float32), lab.array, healthy.array.astype(np.float32), hlab.array)


def twin_from_record(record: dict, real_hu: np.ndarray, label: np.ndarray, case_id: str,
                     source: str = "record") -> TwinCase:
    """The healthy twin of a stored phantom case (``records/<case>.json`` of a phantom cohort).

    The twin is regenerated from the record's seed, spacing, grid, field of view and noise with no
    tumour. It must agree with the stored label everywhere outside the tumours — otherwise the
    case was not made by this phantom (another version, or edited): an ``InputError`` naming ``source``.
    """
    from ..data.phantom import generate_case

    try:
        if record.get("op") != "phantom":
            raise KeyError("op")
        healthy, hlab, _ = generate_case(record["seed"], spacing=record["spacing"], shape=record["shape_ijk"],
                                         tumours=0, fov_mm=record["fov_mm"], noise_sd=record["noise_sd_hu"])
    except KeyError as e:
        raise InputError(f"{source}: not a phantom record with seed, spacing, grid and noise (missing {e}); "
                         "the healthy twin cannot be regenerated") from None
    lab = np.asarray(label)
    keep = lab != 2
    if hlab.array.shape != lab.shape or not np.array_equal(hlab.array[keep], lab[keep]):
        raise InputError(f"{source}: the regenerated healthy twin of {case_id} does not match its label outside "
                         "the tumours (made by another phantom version?)")
    return TwinCase(case_id, int(record["seed"]), tuple(float(s) for s in healthy.array_spacing),
                    np.asarray(real_hu, np.float32), lab, healthy.array.astype(np.float32), hlab.array)


# ----------------------------------------------------------------------------- comparison
@dataclass
class QualityResult:
    """Per-tumour ``rows`` (stats of the real tumour and of each texture, seeds, diameter), the
    autoencoder ``recon`` (PSNR dB, SSIM) pairs, ``times`` (s per tumour per texture), ``skipped``
    tumours (why), the texture names in order and up to ``n_panels`` image panels for the grid."""

    methods: list[str]
    rows: list[dict] = field(default_factory=list)
    recon: list[tuple[float, float]] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    panels: list[tuple[np.ndarray, dict[str, np.ndarray]]] = field(default_factory=list)
    n_cases: int = 0

    def to_json(self) -> dict:
        """Everything but the image panels (JSON-able)."""
        return {"methods": self.methods, "n_cases": self.n_cases, "rows": self.rows,
                "recon": [{"psnr_db": p, "ssim": s} for p, s in self.recon], "times": self.times,
                "skipped": self.skipped}


def _autoencoder_psnr_ssim(texture, real_hu: np.ndarray, mask: np.ndarray, spacing_kji) -> tuple[float, float]:
    """Encode → decode the windowed crop around one real tumour with a diffusion model's autoencoder."""
    import torch

    from ..data.intensity import window
    from .diffusion.crops import CropGrid
    from .diffusion.train_autoencoder import psnr_ssim

    crop = texture.cfg["crop"]
    g = CropGrid.around(mask, spacing_kji, int(crop["size"]), float(crop["spacing_mm"]))
    x = torch.from_numpy(window(g.sample(real_hu)))[None, None]
    ae = texture.pipeline.autoencoder
    with torch.no_grad():
        r = ae.decode(ae.encode(x.to(next(ae.parameters()).device))).clamp(0, 1).cpu()
    return psnr_ssim(x.numpy()[0, 0], r.numpy()[0, 0])


def compare_textures(cases: Iterable[TwinCase], textures: dict[str, Any], *, margin_mm: float = 45.0,
                     min_voxels: int = 8, n_panels: int = 4, recon_texture: str | None = None,
                     progress: ProgressCallback | None = None, n_cases: int | None = None) -> QualityResult:
    """Re-texture every real tumour of every case in its healthy twin with each texture and measure.

    Args:
        cases: :class:`TwinCase` objects (an iterable: generated one at a time).
        textures: name → :class:`~SynTumorLib.texture.base.TextureModel` (the table's row order).
        margin_mm: CT around each tumour's bounding box given to the texture (the region).
        min_voxels: tumours with fewer voxels are not measured (their statistics are noise).
        recon_texture: the texture whose autoencoder PSNR/SSIM is measured; default the first one
            with an autoencoder (a diffusion model), none when no texture has one.
        progress: ``(fraction, message)`` after each case (``message`` "case ID: N tumours").
        n_cases: the number of cases when ``cases`` has no ``len`` (for ``progress``).

    A tumour a texture cannot render (e.g. larger than a diffusion model's crop: ``InputError``) is
    listed in ``skipped`` and not measured by any texture, so every row compares the same tumours.
    """
    if not textures:
        raise InputError("compare_textures: give at least one texture")
    methods = list(textures)
    if recon_texture is None:
        recon_texture = next((n for n, t in textures.items() if hasattr(t, "pipeline")), None)
    elif recon_texture not in textures or not hasattr(textures[recon_texture], "pipeline"):
        raise InputError(f"compare_textures: recon_texture {recon_texture!r} is not one of the diffusion textures")
    total = n_cases if n_cases is not None else (len(cases) if hasattr(cases, "__len__") else None)
    res = QualityResult(methods, times={m: [] for m in methods})
    for c, case in enumerate(cases):
        sp = case.spacing_kji
        pancreas = (case.healthy_label == PANCREAS) | (case.healthy_label == TUMOUR)
        # one tumour = one 26-connected component, as everywhere (this module used 6-connectivity)
        comps = tumour_components(case.label == TUMOUR)
        n = comps.count
        for t, mask in comps.masks():
            if mask.sum() < min_voxels:
                continue
            box = box_around(mask, sp, margin_mm)
            m, pan = mask[box], pancreas[box] & ~mask[box]
            seed = child_seed(case.seed, "tex", t)
            row = {"case": case.case_id, "tumour": t, "case_seed": case.seed, "texture_seed": seed,
                   "d_mm": equivalent_diameter_mm(mask, sp), "voxels": int(mask.sum()),
                   "real": tumour_stats(case.real[box], m, pan, sp)}
            outs = {"real": case.real[box], "healthy": case.healthy[box]}
            times = {}
            try:
                for name, tex in textures.items():
                    t0 = time.perf_counter()
                    out, _ = tex.synthesize(case.healthy[box], m, pan, sp, seed=seed)
                    times[name] = time.perf_counter() - t0
                    row[name] = tumour_stats(out, m, pan, sp)
                    outs[name] = out
            except InputError as e:  # e.g. a tumour larger than the model's crop: reported, not measured
                res.skipped.append(f"case {case.case_id} tumour {t}: {e}")
                continue
            for name, dt in times.items():
                res.times[name].append(dt)
            if recon_texture is not None:
                p, s = _autoencoder_psnr_ssim(textures[recon_texture], case.real, mask, sp)
                row["ae_psnr_db"], row["ae_ssim"] = p, s
                res.recon.append((p, s))
            res.rows.append(row)
            if len(res.panels) < n_panels:
                res.panels.append((m, outs))
        res.n_cases += 1
        if progress:
            progress((c + 1) / total if total else 0.0, f"case {case.case_id}: {n} tumours")
    return res


def _mean(values) -> float | None:
    v = [float(x) for x in values]
    return float(np.mean(v)) if v else None


def summarize(result: QualityResult | dict, size_threshold_mm: float = SIZE_THRESHOLD_MM) -> dict:
    """Means over the measured tumours: the real tumours' measures; per texture its measures, the
    mean |texture − real| of each (same mask), seconds per tumour and |Δmean| / |Δstd| by size;
    the autoencoder's PSNR/SSIM mean ± sd (population sd)."""
    r = result.to_json() if isinstance(result, QualityResult) else result
    rows, methods = r["rows"], r["methods"]
    out: dict[str, Any] = {"n_tumours": len(rows), "n_cases": r["n_cases"], "n_skipped": len(r["skipped"]),
                           "size_threshold_mm": size_threshold_mm,
                           "d_mm_range": [min(x["d_mm"] for x in rows), max(x["d_mm"] for x in rows)] if rows else None}
    keys = (*MEASURES, "ring_mean")
    out["real"] = {k: _mean(x["real"][k] for x in rows) for k in keys}
    rec = r["recon"]
    out["autoencoder"] = None if not rec else {
        "psnr_db_mean": _mean(p["psnr_db"] for p in rec), "psnr_db_sd": float(np.std([p["psnr_db"] for p in rec])),
        "ssim_mean": _mean(p["ssim"] for p in rec), "ssim_sd": float(np.std([p["ssim"] for p in rec])), "n": len(rec)}
    out["textures"] = {}
    for m in methods:
        s = {k: _mean(x[m][k] for x in rows) for k in keys}
        s["abs_diff"] = {k: _mean(abs(x[m][k] - x["real"][k]) for x in rows) for k in MEASURES}
        s["s_per_tumour"] = _mean(r["times"].get(m, []))
        s["by_size"] = {}
        for name, small in (("small", True), ("large", False)):
            sel = [x for x in rows if (x["d_mm"] < size_threshold_mm) == small]
            s["by_size"][name] = None if not sel else {
                "n": len(sel), "abs_diff_mean": _mean(abs(x[m]["mean"] - x["real"]["mean"]) for x in sel),
                "abs_diff_std": _mean(abs(x[m]["std"] - x["real"]["std"]) for x in sel)}
        out["textures"][m] = s
    return out
