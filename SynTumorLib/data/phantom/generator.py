"""``generate_case`` and ``generate_cohort``: the procedural abdominal CT phantom.

The phantom is SynTumor's embedded default data: every command runs on it with no download. One
case is drawn from one integer seed (same seed → bit-identical arrays; anatomy and enhancement vary
between seeds), painted organ by organ into a tissue map, converted to portal-venous HU, blurred
(partial volume) and given correlated CT noise.

Example:
    >>> image, label, info = generate_case(3, spacing=(4, 4, 4), tumours=1)
    >>> image.array.dtype, sorted(int(v) for v in set(label.array.ravel()))
    (dtype('int16'), [0, 1, 2])
    >>> 40 <= info["pancreas_ml"] <= 120
    True
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import __version__
from ...utils.errors import InputError
from ...utils.jsonio import read_json
from ...utils.progress import ProgressCallback
from ...utils.seeding import child_seed
from ..volume import Volume
from .body import WORLD_HI, WORLD_LO, paint_back_muscles, paint_body, paint_spine
from .canvas import Canvas
from .hollow import paint_colon, paint_duodenum, paint_small_bowel, paint_stomach
from .layout import sample_layout
from .organs import paint_liver_vessels, paint_solid_organs
from .pancreas import paint_pancreas, pancreas_centreline
from .raster import Grid
from .texture.noise import SmoothField, add_ct_noise
from .thorax import paint_lung_bases, paint_ribs
from .tissues import LABEL_OF, TEXTURE_SD, hu_lut, sample_hu
from .tumours import duct_radii, paint_tumour, plan_tumours
from .vessels import paint_mesenteric_branches, paint_vessels

DEFAULT_FOV_MM = (360.0, 300.0, 200.0)
MAX_VOXELS = 200_000_000  # ~17 bytes per voxel while painting


def _check_args(seed, spacing, shape, tumours, fov_mm) -> tuple:
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise InputError(f"seed must be an integer, got {seed!r}") from None
    sp = np.asarray(spacing, float)
    if sp.shape != (3,) or not np.all(np.isfinite(sp)) or np.any(sp < 0.2) or np.any(sp > 10):
        raise InputError(f"spacing must be three numbers in 0.2–10 mm (i, j, k), got {[float(v) for v in np.ravel(spacing)]}")
    if shape is not None:
        sh = np.asarray(shape)
        if sh.shape != (3,) or np.any(sh < 8) or np.any(sh > 2048) or not np.all(sh == np.round(sh)):
            raise InputError(f"shape must be three integers in 8–2048 (i, j, k), got {np.ravel(shape).tolist()}")
    fov = np.asarray(fov_mm, float)
    if fov.shape != (3,) or np.any(fov < 20):
        raise InputError(f"fov_mm must be three sizes ≥ 20 mm, got {[float(v) for v in np.ravel(fov_mm)]}")
    if not isinstance(tumours, (int, np.integer)) or isinstance(tumours, bool) or not 0 <= tumours <= 5:
        raise InputError(f"tumours must be an integer count 0–5, got {tumours!r}")
    return seed, tuple(float(s) for s in sp), fov


def _grid(lay: dict, spacing, shape, fov) -> Grid:
    """Centre the grid on the body when the field of view covers it, else on the pancreas."""
    if shape is None:
        shape_ijk = np.maximum(8, np.round(fov / np.asarray(spacing))).astype(int)
    else:
        shape_ijk = np.asarray(shape, int)
    if int(np.prod(shape_ijk)) > MAX_VOXELS:
        raise InputError(f"phantom grid {shape_ijk.tolist()} has {int(np.prod(shape_ijk)):,} voxels, more than "
                         f"{MAX_VOXELS:,} (~{MAX_VOXELS * 17 // 2**30} GB of memory); use a coarser spacing or a smaller shape")
    ext = shape_ijk * np.asarray(spacing)
    b = lay["body"]
    outer = b["muscle_mm"] + b["fat_mm"]
    body_lo = np.array([-b["half_width_inner"] - outer, -b["back_inner"] - outer - 24.0])  # + the couch
    body_hi = np.array([b["half_width_inner"] + outer, b["front_inner"] + outer])
    pts = np.asarray(lay["pancreas"]["centreline"], float)
    pc = 0.5 * (pts.min(axis=0) + pts.max(axis=0))
    centre = [0.0, 0.0, pc[2] - 5.0]
    for a in range(2):
        body_c, body_w = 0.5 * (body_lo[a] + body_hi[a]), body_hi[a] - body_lo[a]
        # a FOV smaller than the body crops around the pancreas, but never past the body's edge
        centre[a] = body_c if ext[a] >= body_w else float(np.clip(pc[a], body_lo[a] + ext[a] / 2, body_hi[a] - ext[a] / 2))
    return Grid.from_centre(centre, shape_ijk[::-1], spacing)


@dataclass
class PhantomCase:
    """A rendered phantom: image (int16 HU), label (uint8 0/1/2), info (the record) and the tissue
    map (uint8 ids, names in ``tissues.TISSUES``) — the latter for tests and diagnostics."""

    image: Volume
    label: Volume
    info: dict
    tissue: Volume


def generate_case(seed: int, spacing: Sequence[float] = (1.5, 1.5, 1.5), shape: Sequence[int] | None = None,
                  tumours: int = 0, tumour_sizes: Sequence[float] | None = None,
                  fov_mm: Sequence[float] = DEFAULT_FOV_MM, noise_sd: float = 12.0) -> tuple[Volume, Volume, dict]:
    """One phantom CT with its label map.

    Args:
        seed: integer seed; the same seed gives bit-identical arrays.
        spacing: voxel size (i, j, k) in mm.
        shape: voxels along (i, j, k); default ``fov_mm / spacing``. A field of view smaller than
            the body is centred on the pancreas.
        tumours: number of "real" tumours (label 2), 0–5.
        tumour_sizes: equivalent diameters in mm (one per tumour); default: drawn from the
            long-tailed size distribution (see ``tumours.sample_tumour_diameters``).
        fov_mm: field of view (i, j, k) used when ``shape`` is None.
        noise_sd: standard deviation of the CT noise in HU.

    Returns:
        (image int16 HU, label uint8 0/1/2, info) — both Volumes on one LPS-oriented grid; ``info``
        holds the seed, every anatomy parameter, the HU table, the tumour plans and measured volumes.
    """
    case = render_case(seed, spacing, shape, tumours, tumour_sizes, fov_mm, noise_sd)
    return case.image, case.label, case.info


def render_case(seed: int, spacing: Sequence[float] = (1.5, 1.5, 1.5), shape: Sequence[int] | None = None,
                tumours: int = 0, tumour_sizes: Sequence[float] | None = None,
                fov_mm: Sequence[float] = DEFAULT_FOV_MM, noise_sd: float = 12.0) -> PhantomCase:
    """Like :func:`generate_case`, returning a :class:`PhantomCase` that includes the tissue map.

    Example:
        >>> from SynTumorLib.data.phantom.tissues import ID
        >>> case = render_case(1, spacing=(5, 5, 5))
        >>> bool((case.tissue.array == ID["liver"]).any())
        True
    """
    seed, spacing, fov = _check_args(seed, spacing, shape, tumours, fov_mm)
    if not (np.isfinite(noise_sd) and 0 <= noise_sd <= 100):
        raise InputError(f"noise_sd must be 0–100 HU, got {noise_sd!r}")
    t0 = time.perf_counter()
    lay = sample_layout(np.random.default_rng(child_seed(seed, "layout")))
    hu = sample_hu(np.random.default_rng(child_seed(seed, "hu")))
    grid = _grid(lay, spacing, shape, fov)
    canvas = Canvas(grid)
    cl = pancreas_centreline(lay)
    t_rng = np.random.default_rng(child_seed(seed, "tumours"))
    plans = plan_tumours(t_rng, cl, tumours, tumour_sizes)
    dilation = float(t_rng.uniform(2.0, 4.0))

    paint_body(canvas, lay, child_seed(seed, "body"))
    paint_back_muscles(canvas, lay)
    paint_spine(canvas, lay, child_seed(seed, "spine"))
    paint_ribs(canvas, lay)
    paint_solid_organs(canvas, lay, child_seed(seed, "organs"))
    paint_liver_vessels(canvas, lay, child_seed(seed, "liver_vessels"))
    paint_stomach(canvas, lay, child_seed(seed, "stomach"))
    paint_duodenum(canvas, lay, child_seed(seed, "duodenum"))
    paint_pancreas(canvas, lay, cl, child_seed(seed, "pancreas"), duct_radii(cl, plans, dilation))
    for plan in plans:
        paint_tumour(canvas, plan)
    paint_vessels(canvas, lay, cl)
    paint_colon(canvas, lay, child_seed(seed, "colon"))
    paint_small_bowel(canvas, lay, child_seed(seed, "small_bowel"))
    paint_mesenteric_branches(canvas, lay, cl)
    paint_lung_bases(canvas, lay)

    # tissue map → HU: table value + slow heterogeneity per tissue + per-voxel offsets
    hu["tumour"] = hu["pancreas"]  # each tumour's own attenuation drop is in canvas.delta
    img = hu_lut(hu)[canvas.tissue]
    slow = SmoothField(child_seed(seed, "texture"), 10.0, WORLD_LO, WORLD_HI).sample(grid.xs, grid.ys, grid.zs)
    slow *= TEXTURE_SD[canvas.tissue]
    img += slow
    del slow
    img += canvas.delta
    # partial volume: ~0.45 mm blur (thin-slice reconstruction kernel), in voxels per array axis
    sigma_vox = [min(1.2, 0.45 / s + 0.25) for s in grid.spacing[::-1]]
    add_ct_noise(img, child_seed(seed, "noise"), noise_sd, sigma_vox)
    np.clip(img, -1024, 3071, out=img)
    image = Volume(np.round(img).astype(np.int16), grid.ijk_to_ras)
    label = Volume(LABEL_OF[canvas.tissue], grid.ijk_to_ras)

    vox_ml = float(np.prod(grid.spacing)) / 1000.0
    tumour_ml = float(np.count_nonzero(label.array == 2)) * vox_ml
    info = {
        "op": "phantom", "version": __version__, "seed": seed, "spacing": list(spacing),
        "shape_ijk": [len(grid.xs), len(grid.ys), len(grid.zs)], "fov_mm": fov.tolist(),
        "noise_sd_hu": float(noise_sd), "partial_volume_sigma_vox_kji": [round(s, 4) for s in sigma_vox],
        "orientation": "LPS (i → left, j → posterior, k → superior)",
        "pancreas_ml": round(float(np.count_nonzero(label.array == 1)) * vox_ml + tumour_ml, 3),
        "tumour_ml": round(tumour_ml, 3), "n_tumours": len(plans),
        "tumours": plans, "tumour_sizes_given": None if tumour_sizes is None else [float(d) for d in tumour_sizes], "duct_dilation_mm": round(dilation, 3) if plans else 0.0,
        "hu": hu, "anatomy": lay, "seconds": round(time.perf_counter() - t0, 3),
    }
    return PhantomCase(image, label, info, Volume(canvas.tissue, grid.ijk_to_ras))


def replay_case(record: dict) -> tuple[Volume, Volume, dict]:
    """Reproduce a case bit for bit from its record (``info`` or ``records/<case>.json``).

    Example:
        >>> img, lab, info = generate_case(4, spacing=(6, 6, 6), tumours=1)
        >>> bool((replay_case(info)[0].array == img.array).all())
        True
    """
    try:
        if record.get("op") != "phantom":
            raise InputError(f"not a phantom record (op={record.get('op')!r})")
        return generate_case(record["seed"], spacing=record["spacing"], shape=record["shape_ijk"],
                             tumours=int(record["n_tumours"]), tumour_sizes=record.get("tumour_sizes_given"),
                             fov_mm=record["fov_mm"], noise_sd=record["noise_sd_hu"])
    except KeyError as e:
        raise InputError(f"phantom record lacks {e}") from None


def generate_cohort(out_dir: str | os.PathLike, n_cases: int, seed: int, tumours: bool | int = False,
                    spacing: Sequence[float] = (1.5, 1.5, 1.5), shape: Sequence[int] | None = None,
                    name: str = "SynTumorPhantom", progress: ProgressCallback | None = None,
                    case_prefix: str = "phantom", fov_mm: Sequence[float] = DEFAULT_FOV_MM) -> Path:
    """Write ``n_cases`` phantom cases as an MSD-layout dataset (resumable: finished cases are kept).

    Case ``i`` uses ``child_seed(seed, "case", i)``; ``records/<case>.json`` holds its full record
    (seed, anatomy, HU table, tumours) and ``dataset.json`` a short summary per case.
    ``tumours``: False/0 → healthy cohort, True → one tumour per case, an int → that many.

    Example:
        >>> import tempfile
        >>> p = generate_cohort(tempfile.mkdtemp(), 1, seed=5, tumours=True, spacing=(5, 5, 5))
        >>> sorted(x.name for x in p.iterdir())
        ['dataset.json', 'imagesTr', 'labelsTr', 'records']
    """
    from ..msd import MSDWriter

    if isinstance(tumours, bool):
        n_tum = int(tumours)
    elif isinstance(tumours, (int, np.integer)):
        n_tum = int(tumours)
    else:
        raise InputError(f"tumours must be True/False or a count, got {tumours!r}")
    if not isinstance(n_cases, (int, np.integer)) or n_cases < 1:
        raise InputError(f"n_cases must be a positive integer, got {n_cases!r}")
    if not case_prefix or not case_prefix.replace("_", "").replace("-", "").isalnum():
        raise InputError(f"case_prefix must be letters, digits, '_' or '-', got {case_prefix!r}")
    _check_args(seed, spacing, shape, n_tum, fov_mm)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    settings = {"cohort_seed": int(seed), "tumours_per_case": n_tum, "spacing": [float(s) for s in spacing],
                "shape": None if shape is None else [int(s) for s in shape]}
    if (out / "dataset.json").exists():
        # resuming must not mix cases of another seed or grid into one dataset
        old = read_json(out / "dataset.json").get("syntumor", {})
        diff = {k: (old.get(k), v) for k, v in settings.items() if k in old and old.get(k) != v}
        if diff:
            raise InputError(f"{out}: holds a phantom cohort made with other settings "
                             + ", ".join(f"{k} {a} (now {b})" for k, (a, b) in diff.items())
                             + "; choose another output folder")
    desc = "SynTumor procedural abdominal CT phantom (portal-venous phase); not patient data"
    writer = MSDWriter(out, name=name, description=desc,
                       extra={"generator": "SynTumorLib.data.phantom.generate_cohort", **settings})
    for i in range(n_cases):
        case_id = f"{case_prefix}_{i:03d}"
        if progress:
            progress(i / n_cases, case_id)
        if writer.has_case(case_id) and writer.record_path(case_id).exists():
            continue
        cs = child_seed(seed, "case", i)
        image, label, info = generate_case(cs, spacing=spacing, shape=shape, tumours=n_tum, fov_mm=fov_mm)
        record = {**info, "cohort_seed": int(seed), "case_index": i, "case_id": case_id}
        summary = {"seed": cs, "pancreas_ml": info["pancreas_ml"], "tumour_ml": info["tumour_ml"],
                   "n_tumours": info["n_tumours"], "tumour_diameters_mm": [t["diameter_mm"] for t in info["tumours"]]}
        writer.add_case(case_id, image, label, record=record, info=summary)
    if progress:
        progress(1.0, "done")
    return out
