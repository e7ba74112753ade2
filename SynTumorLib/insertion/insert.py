"""Insert synthetic tumours into a CT — the core operation — and replay an insertion from its record.

``insert_tumours`` draws everything random first (class, count, shapes, centres — :mod:`.planning`,
one :class:`~.planning.TumourPlan` per tumour — then texture parameters; each tumour from its own
child seed), then renders deterministically; ``replay`` runs the same renderer on the recorded draws,
so the output is bit-identical. Only boxes around the organ and
the tumours are processed, never the whole CT.

Label maps: ``organ_label`` may be canonical (0/1/2, organ 1, existing tumours 2 are kept and never
overlapped) or multi-label (e.g. TotalSegmentator, ``organ_value=7``: other structures are never
entered by a tumour). The output label is canonical: 0 background, 1 organ, 2 tumour.

Grid mismatch: a label on another grid is **resampled onto the image** (nearest neighbour) with a
warning, and the record says so; a label that does not overlap the image is refused.

Example:
    >>> import numpy as np
    >>> from SynTumorLib import Volume
    >>> k, j, i = np.indices((32, 40, 40))
    >>> organ = ((j - 20) ** 2 + (i - 20) ** 2 < 100) & (abs(k - 16) < 12)
    >>> img = Volume.from_geometry(np.where(organ, 100, -100).astype(np.int16), spacing=(1, 1, 1.5))
    >>> out, lab, rec = insert_tumours(img, img.with_array(organ.astype(np.uint8)), "small", seed=3)
    >>> int(lab.array.max()), rec["tumours"][0]["class"]
    (2, 'small')
    >>> bool(np.array_equal(replay(img, img.with_array(organ.astype(np.uint8)), rec)[0].array, out.array))
    True
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .. import __version__
from ..data.labels import TUMOUR, equivalent_radius_mm
from ..data.volume import Volume
from ..geometry.placement import Scene, bounding_box, box_starts, pad_box
from ..geometry.shapes import ShapeDraw, centroid
from ..texture.base import TextureModel
from ..texture.registry import get_texture
from ..utils.errors import InputError
from ..utils.progress import ProgressCallback
from ..utils.seeding import child_seed, fresh_seed
from .planning import TumourPlan, materialise, plan_tumours, values_on
from .record_check import check_insert_record
from .spec import InsertionSpec

log = logging.getLogger(__name__)
TEXTURE_PAD_MM = 6.0  # region around a tumour the texture sees (local pancreas reference, smoothing)


def _align_label(image: Volume, label: Volume) -> tuple[Volume, bool]:
    if label.same_grid(image):
        return label, False
    from ..data.resample import resample_like

    out = resample_like(label, image, is_label=True, default_value=0)
    if not out.array.any():
        raise InputError(f"label grid {label.shape} @ {label.spacing} does not overlap the image grid {image.shape}; give a label on the image's grid")
    log.warning("label grid differs from the image grid: resampled the label onto the image (nearest neighbour)")
    return image.with_array(out.array.astype(label.array.dtype, copy=False)), True


def _to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def _render(scene: Scene, image: Volume, plans: list[TumourPlan], tex: TextureModel,
            progress: ProgressCallback | None, regions: list | None = None) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Render planned tumours; ``regions`` (if given) receives the box each texture step rewrote —
    outside them the output image equals the input."""
    out = image.array.copy()
    lab = scene.organ.view(np.uint8).copy()  # 1 on the organ, 0 elsewhere
    if scene.tumour_value is not None:
        np.copyto(lab, np.uint8(TUMOUR), where=scene.label == scene.tumour_value)
    masks = []
    for t in plans:
        full, final, n_drawn, origin = materialise(scene, t)
        masks.append((full, final, n_drawn, origin))
        if full is not None:
            lab[full][final] = TUMOUR
    stats = []
    vv = image.voxel_volume_mm3
    # a backend working in RAS (the DiffTumor crop) needs the grid's direction, not only its spacing
    orient = {"kji_to_ras": image.ijk_to_ras[:3, :3][:, ::-1].copy()} if getattr(tex, "wants_orientation", False) else {}
    for n, (t, (full, final, n_drawn, origin)) in enumerate(zip(plans, masks, strict=True)):
        delivered = 0 if full is None else int(final.sum())
        s = {"delivered_voxels": delivered, "delivered_mm3": delivered * vv,
             "drawn_mm3": ShapeDraw.from_dict(t["shape"]).nominal_volume_mm3,
             "equivalent_radius_mm": float(equivalent_radius_mm(delivered * vv)), "centre_ras": None,
             "fraction_in_organ": 0.0 if not n_drawn or full is None else int((final & scene.organ[full]).sum()) / n_drawn}
        if delivered:
            c = centroid(final, origin) + (box_starts(full) - origin)  # as on the whole pasted box
            s["centre_kji"] = c.tolist()
            s["centre_ras"] = image.kji_to_ras(c).tolist()
            tb = bounding_box(final)
            tbox = tuple(slice(f.start + b.start, f.start + b.stop) for f, b in zip(full, tb, strict=True))
            region = pad_box(tbox, scene.vox(max(TEXTURE_PAD_MM, tex.context_mm()) + tex.margin_mm()) + 1, scene.shape)
            tm = values_on(full, final, region)
            before = out[region].astype(np.float32)
            new = tex.apply(before, tm, scene.organ[region] & (lab[region] != TUMOUR), scene.spacing, t["texture"],
                            **orient)
            facts = tex.tumour_facts(tm, scene.spacing, t["texture"])
            if facts:
                s["texture_facts"] = facts
            changed = new != before
            out[region][changed] = _to_dtype(new[changed], out.dtype)
            if regions is not None:
                regions.append(region)
        stats.append(s)
        if progress:
            progress((n + 1) / len(plans), f"tumour {n + 1}/{len(plans)}")
    return out, lab, stats


def make_scene(image: Volume, label: Volume, spec: InsertionSpec) -> Scene:
    """The :class:`Scene` of an insertion: a canonical label (organ 1) keeps its tumours (2) and avoids them."""
    tumour_value = TUMOUR if spec.organ_value == 1 else None
    return Scene(image.array, label.array, image.array_spacing, spec.organ_value, tumour_value, spec.tissue_hu)


def insert_tumours(image: Volume, organ_label: Volume, spec: InsertionSpec | dict | str | None = None,
                   seed: int | None = None, texture: str | TextureModel | dict = "statistical",
                   progress: ProgressCallback | None = None) -> tuple[Volume, Volume, dict[str, Any]]:
    """Insert synthetic tumours; returns (new image, canonical label 0/1/2, record).

    Args:
        image: CT in HU (int or float dtype; the output keeps it). Not modified.
        organ_label: label map with the organ (``spec.organ_value``); other grids are resampled.
        spec: :class:`InsertionSpec`, its dict, or a size-class name.
        seed: integer seed (None → a fresh seed, recorded).
        texture: ``"statistical"``, a fitted texture JSON, a model folder or a TextureModel.
        progress: optional ``(fraction, message)`` callback.

    Raises:
        InputError: empty organ, grid without overlap, bad spec, point outside the image/organ,
            organ too small for the size (the message lists the classes that fit).
    """
    return insert_with_regions(image, organ_label, spec, seed, texture, progress)[:3]


def insert_with_regions(image: Volume, organ_label: Volume, spec=None, seed: int | None = None,
                        texture: str | TextureModel | dict = "statistical", progress: ProgressCallback | None = None,
                        ) -> tuple[Volume, Volume, dict[str, Any], list]:
    """:func:`insert_tumours`, also returning the boxes the texture rewrote (the online transform
    converts only those back to its intensity scale)."""
    if not isinstance(image, Volume) or not isinstance(organ_label, Volume):
        raise InputError("insert_tumours needs an image Volume and a label Volume")
    spec = InsertionSpec.coerce(spec).resolved()
    spec.check_against(image.shape, image.array_spacing)
    seed = fresh_seed() if seed is None else int(seed)
    label, resampled = _align_label(image, organ_label)
    tex = get_texture(texture)
    scene = make_scene(image, label, spec)
    if progress:
        progress(0.0, "placing tumours")
    plans = plan_tumours(scene, image, spec, seed)
    for n, t in enumerate(plans):
        t["texture"] = tex.sample(child_seed(seed, "texture", n))
    regions: list = []
    out, lab, stats = _render(scene, image, plans, tex, progress, regions)
    tumours = [{**p, **s} for p, s in zip(plans, stats, strict=True)]
    record = {
        "op": "insert_tumours", "version": __version__, "seed": seed, "spec": spec.to_dict(),
        "placement": spec.placement_mode, "texture": tex.describe(), "label_resampled": resampled,
        "image_geometry": image.geometry_dict(), "tumours": tumours,
        "delivered_mm3": float(sum(s["delivered_mm3"] for s in stats)),
    }
    return image.with_array(out), image.with_array(lab), record, regions


def replay(image: Volume, organ_label: Volume, record: dict[str, Any], texture: TextureModel | None = None,
           progress: ProgressCallback | None = None) -> tuple[Volume, Volume]:
    """Reproduce an insertion bit-for-bit from its record (same image and label as the original call)."""
    plans = check_insert_record(record, image.shape)  # a tampered record fails here, clearly
    geo = record.get("image_geometry") if isinstance(record.get("image_geometry"), dict) else {}
    if list(image.shape) != list(geo.get("shape_kji", [])) or not np.allclose(image.ijk_to_ras, geo.get("ijk_to_ras"), atol=1e-6):
        raise InputError(f"the image grid {image.shape} differs from the recorded one {geo.get('shape_kji')}; replay needs the original image")
    spec = InsertionSpec.from_dict(record["spec"])
    label, _ = _align_label(image, organ_label)
    tex = texture if texture is not None else get_texture(record["texture"])
    out, lab, _ = _render(make_scene(image, label, spec), image, plans, tex, progress)
    return image.with_array(out), image.with_array(lab)
