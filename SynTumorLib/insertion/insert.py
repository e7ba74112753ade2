"""Insert synthetic tumours into a CT — the core operation — and replay an insertion from its record.

``insert_tumours`` draws everything random first (class, count, shapes, centres, texture
parameters; each tumour from its own child seed), then renders deterministically; ``replay`` runs the
same renderer on the recorded draws, so the output is bit-identical. Only boxes around the organ and
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
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import ndimage

from .. import __version__
from ..data.volume import Volume
from ..geometry.placement import (
    Scene,
    bounding_box,
    box_starts,
    ellipsoid_offsets,
    pad_box,
    paste_slices,
    probe_fractions,
    reference_centre,
    sample_candidate,
)
from ..geometry.shapes import ShapeDraw, centroid, draw_shape, render_shape
from ..geometry.sizes import SizeClass, equivalent_radius_mm
from ..texture.base import TextureModel, get_texture
from ..utils.errors import InputError
from ..utils.seeding import child_seed, fresh_seed
from .spec import InsertionSpec

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None] | None
TEXTURE_PAD_MM = 6.0  # region around a tumour the texture sees (local pancreas reference, smoothing)
CENTRES_PER_SHAPE = 16  # candidate centres probed per drawn shape before a new draw
PROBE_SLACK = 0.1  # the probe ignores the elastic boundary: let near misses through to the exact test


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


def _render_cached(scene: Scene, shape: dict) -> np.ndarray:
    """Render a drawn shape once per insertion (planning and rendering use the same mask)."""
    cache = scene.__dict__.setdefault("_shapes", {})
    key = repr(sorted(shape.items()))
    if key not in cache:
        cache[key] = render_shape(ShapeDraw.from_dict(shape), scene.spacing)
    return cache[key]


def _tight_cached(scene: Scene, shape: dict) -> tuple | None:
    """Bounding box of a rendered shape inside its 4 r box (cached with the render)."""
    cache = scene.__dict__.setdefault("_tight", {})
    key = repr(sorted(shape.items()))
    if key not in cache:
        cache[key] = bounding_box(_render_cached(scene, shape))
    return cache[key]


def _materialise(scene: Scene, t: dict[str, Any]) -> tuple[tuple, np.ndarray, int, np.ndarray]:
    """(full-array slices, final tumour mask there, voxels of the drawn shape, origin) for one
    planned tumour. The slices cover only the drawn shape's own bounding box inside its pasted 4 r
    box (the mask is empty elsewhere); ``origin`` is that box's offset from the pasted box's start,
    which :func:`centroid` needs to give the pasted box's centre bit for bit."""
    m = _render_cached(scene, t["shape"])
    tight = _tight_cached(scene, t["shape"])
    if tight is None:
        return None, None, 0, None  # type: ignore[return-value]
    start = np.asarray(t["box_start_kji"], dtype=int)
    origin = box_starts(tight)
    full, local = paste_slices(start + origin, [s.stop - s.start for s in tight], scene.shape)
    n_drawn = int(np.count_nonzero(m[tight]))
    if full is None:
        return None, None, n_drawn, None  # type: ignore[return-value]
    mm = m[tight][local]
    if t["clip_to_organ"]:  # reference behaviour: the tumour is cut to the organ
        final = mm & scene.organ[full]
    else:
        final = mm & ~scene.forbidden(full)
    # offset of ``full`` from where the whole 4 r box would start (clipped to the array)
    origin = np.array([f.start for f in full]) - np.maximum(start, 0)
    return full, final, n_drawn, origin


def _values_on(src_box, src, dst_box) -> np.ndarray:
    """The boolean array ``src`` (located at ``src_box``) seen on ``dst_box`` (False outside src)."""
    host_box, host, full = src_box, src, dst_box
    out = np.zeros(tuple(s.stop - s.start for s in full), bool)
    inter = tuple(slice(max(a.start, b.start), min(a.stop, b.stop)) for a, b in zip(host_box, full, strict=False))
    if all(s.stop > s.start for s in inter):
        out[tuple(slice(s.start - f.start, s.stop - f.start) for s, f in zip(inter, full, strict=False))] = \
            host[tuple(slice(s.start - h.start, s.stop - h.start) for s, h in zip(inter, host_box, strict=False))]
    return out


def _no_contact(scene: Scene, occupied: np.ndarray, full, final: np.ndarray, within=None) -> bool:
    """True when ``final`` (placed at ``full``) neither overlaps nor touches an earlier or existing
    tumour. The one-voxel contact ring stays inside ``within`` (default ``full``): the box the
    tumour's shape was pasted in, so a caller may pass ``final`` cut to the shape's own box."""
    tb = bounding_box(final)
    if tb is None:
        return True
    within = full if within is None else within
    lo = [f.start + b.start for f, b in zip(full, tb, strict=False)]
    hi = [f.start + b.stop for f, b in zip(full, tb, strict=False)]
    sub = tuple(slice(max(a - 1, w.start), min(b + 1, w.stop)) for a, b, w in zip(lo, hi, within, strict=False))
    near = ndimage.binary_dilation(_values_on(full, final, sub), structure=np.ones((3, 3, 3), bool))
    taken = occupied[sub]
    if scene.tumour_value is not None:
        taken = taken | (scene.label[sub] == scene.tumour_value)
    return not bool((near & taken).any())


def _size_ok(cls: SizeClass | None, draw: ShapeDraw, delivered_mm3: float) -> bool:
    if cls is None:  # explicit radii: within -20 % / +25 % of the drawn ellipsoid's volume
        return 0.8 <= delivered_mm3 / draw.nominal_volume_mm3 <= 1.25
    r = float(equivalent_radius_mm(delivered_mm3))
    return cls.range_mm[0] <= r <= cls.range_mm[1]


def _cannot_fit(scene: Scene, spec: InsertionSpec, cls: SizeClass | None, where: str, depth_mm: float, bulge: float,
                index: int, count: int) -> InputError:
    what = f"a {cls.name!r} tumour (semi-axes {cls.range_mm[0]:g}–{cls.range_mm[1]:g} mm)" if cls else \
        f"a tumour with semi-axes {list(spec.radii_mm or [])} mm"
    if index > 0:
        return InputError(
            f"no room for tumour {index + 1} of {count} ({what}) {where} beside the {index} already placed "
            f"(tumours never overlap or touch); ask for fewer tumours or a smaller class"
        )
    fits = spec.sizes.fitting(depth_mm * 1.1)
    hint = f"classes that fit: {', '.join(fits)}" if fits else "no size class fits"
    return InputError(
        f"the organ cannot hold {what} {where} with ≥ {spec.min_inside:.0%} inside the organ "
        f"(+{bulge:g} mm bulge) after {spec.max_attempts} attempts; its deepest point is {depth_mm:.1f} mm "
        f"from its edge — {hint}; or lower min_inside / raise bulge_mm"
    )


def _plan(scene: Scene, image: Volume, spec: InsertionSpec, seed: int) -> list[dict[str, Any]]:
    """Every random draw of the insertion, as JSON-able per-tumour dicts (no rendering of texture)."""
    mode = spec.placement_mode
    top = np.random.default_rng(child_seed(seed, "plan"))
    cls = spec.sizes.pick(spec.size_class, top)
    if mode == "point":
        count = len(spec.at_ras or [])
    else:
        count = spec.count or int(top.integers(cls.count[0], cls.count[1] + 1))
    ref = mode == "reference"
    bulge = spec.bulge_mm if spec.bulge_mm is not None else 0.5 * (
        cls.radius_mm if spec.radii_mm is None else float(np.mean(spec.radii_mm)))
    occupied = np.zeros(scene.shape, bool)
    size_cls = None if spec.radii_mm is not None else cls
    plans = []
    for t in range(count):
        rng = np.random.default_rng(child_seed(seed, "tumour", t))
        target = None
        if mode == "point":
            ras = spec.at_ras[t]  # type: ignore[index]
            target = image.ras_to_kji(ras)
            if not image.contains_kji(target):
                raise InputError(f"point {list(ras)} (RAS mm) lies outside the image (index k, j, i = {np.round(target, 1).tolist()})")
            v = tuple(int(x) for x in np.clip(np.rint(target), 0, np.array(scene.shape) - 1))
            if not scene.organ[v]:
                pts = np.argwhere(scene.organ[scene.organ_box]) + box_starts(scene.organ_box)
                dmin = float(np.min(np.linalg.norm((pts - target) * scene.spacing, axis=1)))
                raise InputError(f"point {list(ras)} (RAS mm) is not inside the organ (label {spec.organ_value}); the nearest organ voxel is {dmin:.1f} mm away")
        host_box, host, organ_flat = scene.host(bulge) if not ref else (None, None, None)
        placed = None
        attempts = spec.max_attempts
        if not ref:
            lo = min(spec.radii_mm) if spec.radii_mm is not None else cls.range_mm[0]
            if 4.0 / 3.0 * np.pi * lo**3 * spec.min_inside > host.sum() * image.voxel_volume_mm3:
                attempts = 0  # even the smallest draw is larger than the whole host region
        for attempt in range(attempts):
            draw = draw_shape(
                rng, cls.range_mm, cls.sigma_mm, random_orientation=spec.random_orientation and not ref,
                elastic_mode="pairs" if ref else spec.elastic_mode, integer_axes=ref,
                semi_axes_mm=spec.radii_mm, sigma_mm=spec.sigma_mm,
            )
            if ref:
                m = _render_cached(scene, draw.to_dict())
                centre = reference_centre(rng, scene.organ, scene.organ_box, scene.superior_axis(image.direction_ras), cls.name == "large")
                start = centre - (np.array(m.shape) // 2)
                placed = {"shape": draw.to_dict(), "box_start_kji": [int(x) for x in start], "clip_to_organ": True}
                break
            # cheap probe of the undeformed ellipsoid first; render only for promising centres
            offsets = ellipsoid_offsets(draw.semi_axes_mm, draw.rotation, scene.spacing)
            centres = [target] if mode == "point" else [sample_candidate(rng, host_box, organ_flat) for _ in range(CENTRES_PER_SHAPE)]
            keep = probe_fractions(host_box, host, centres, offsets) >= spec.min_inside - PROBE_SLACK
            centres = [c for c, k in zip(centres, keep, strict=True) if k]
            if not centres:
                continue
            m = _render_cached(scene, draw.to_dict())
            tight = _tight_cached(scene, draw.to_dict())
            if tight is None:
                continue  # an empty shape delivers nothing: no class accepts it
            c_local = centroid(m)
            n_drawn = int(np.count_nonzero(m))
            mt, tight_start = m[tight], box_starts(tight)
            for centre in centres:
                start = np.rint(np.asarray(centre) - c_local).astype(int)
                cand = {"shape": draw.to_dict(), "box_start_kji": [int(x) for x in start], "clip_to_organ": False}
                full, _ = paste_slices(start, m.shape, scene.shape)
                if full is None:
                    continue
                # the shape's own box is enough for the counts: m is empty outside it
                tfull, tlocal = paste_slices(start + tight_start, mt.shape, scene.shape)
                if tfull is None:
                    continue  # nothing of the shape is visible: not enough of it in the host region
                visible = mt[tlocal]
                in_host = int(np.count_nonzero(visible & _values_on(host_box, host, tfull)))
                if in_host < spec.min_inside * n_drawn:
                    continue
                final = visible & ~scene.forbidden(tfull)
                delivered = float(np.count_nonzero(final)) * image.voxel_volume_mm3
                if not _size_ok(size_cls, draw, delivered) or not _no_contact(scene, occupied, tfull, final, full):
                    continue
                cand["fraction_in_host"] = in_host / n_drawn
                placed = cand
                break
            if placed is not None:
                placed["attempts"] = attempt + 1
                break
        if placed is None and t > 0 and spec.count is None and mode != "point":
            break  # the count was drawn, not asked for: keep the tumours that fit (the record says so)
        if placed is None:
            where = f"at {list(spec.at_ras[t])}" if mode == "point" else "anywhere"  # type: ignore[index]
            raise _cannot_fit(scene, spec, size_cls, where, scene.max_depth_mm(bulge), bulge, t, count)
        full, final, _, _ = _materialise(scene, placed)
        if full is not None:
            occupied[full] |= final
        keep = {repr(sorted(p["shape"].items())) for p in (*plans, placed)}
        scene._shapes = {k: v for k, v in scene.__dict__.get("_shapes", {}).items() if k in keep}  # free rejected renders
        placed.update({"class": cls.name if spec.radii_mm is None else "custom", "bulge_mm": None if ref else bulge})
        plans.append(placed)
    for p in plans:
        p["count_drawn"] = count
    return plans


def _render(scene: Scene, image: Volume, plans: list[dict[str, Any]], tex: TextureModel,
            progress: Progress, regions: list | None = None) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Render planned tumours; ``regions`` (if given) receives the box each texture step rewrote —
    outside them the output image equals the input."""
    out = image.array.copy()
    lab = scene.organ.view(np.uint8).copy()  # 1 on the organ, 0 elsewhere
    if scene.tumour_value is not None:
        np.copyto(lab, np.uint8(2), where=scene.label == scene.tumour_value)
    masks = []
    for t in plans:
        full, final, n_drawn, origin = _materialise(scene, t)
        masks.append((full, final, n_drawn, origin))
        if full is not None:
            lab[full][final] = 2
    stats = []
    vv = image.voxel_volume_mm3
    for n, (t, (full, final, n_drawn, origin)) in enumerate(zip(plans, masks, strict=False)):
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
            tbox = tuple(slice(f.start + b.start, f.start + b.stop) for f, b in zip(full, tb, strict=False))
            region = pad_box(tbox, scene.vox(max(TEXTURE_PAD_MM, tex.context_mm()) + tex.margin_mm()) + 1, scene.shape)
            tm = _values_on(full, final, region)
            before = out[region].astype(np.float32)
            new = tex.apply(before, tm, scene.organ[region] & (lab[region] != 2), scene.spacing, t["texture"])
            changed = new != before
            out[region][changed] = _to_dtype(new[changed], out.dtype)
            if regions is not None:
                regions.append(region)
        stats.append(s)
        if progress:
            progress((n + 1) / len(plans), f"tumour {n + 1}/{len(plans)}")
    return out, lab, stats


def _scene(image: Volume, label: Volume, spec: InsertionSpec) -> Scene:
    tumour_value = 2 if spec.organ_value == 1 else None
    return Scene(image.array, label.array, image.array_spacing, spec.organ_value, tumour_value, spec.tissue_hu)


def insert_tumours(image: Volume, organ_label: Volume, spec: InsertionSpec | dict | str | None = None,
                   seed: int | None = None, texture: str | TextureModel | dict = "statistical",
                   progress: Progress = None) -> tuple[Volume, Volume, dict[str, Any]]:
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
    return _insert(image, organ_label, spec, seed, texture, progress)[:3]


def _insert(image: Volume, organ_label: Volume, spec, seed, texture, progress: Progress = None,
            ) -> tuple[Volume, Volume, dict[str, Any], list]:
    """:func:`insert_tumours`, also returning the boxes the texture rewrote (the online transform
    converts only those back to its intensity scale)."""
    if not isinstance(image, Volume) or not isinstance(organ_label, Volume):
        raise InputError("insert_tumours needs an image Volume and a label Volume")
    spec = InsertionSpec.coerce(spec).resolved()
    seed = fresh_seed() if seed is None else int(seed)
    label, resampled = _align_label(image, organ_label)
    tex = get_texture(texture)
    scene = _scene(image, label, spec)
    if progress:
        progress(0.0, "placing tumours")
    plans = _plan(scene, image, spec, seed)
    for n, t in enumerate(plans):
        t["texture"] = tex.sample(child_seed(seed, "texture", n))
    regions: list = []
    out, lab, stats = _render(scene, image, plans, tex, progress, regions)
    tumours = [{**p, **s} for p, s in zip(plans, stats, strict=False)]
    record = {
        "op": "insert_tumours", "version": __version__, "seed": seed, "spec": spec.to_dict(),
        "placement": spec.placement_mode, "texture": tex.describe(), "label_resampled": resampled,
        "image_geometry": image.geometry_dict(), "tumours": tumours,
        "delivered_mm3": float(sum(s["delivered_mm3"] for s in stats)),
    }
    return image.with_array(out), image.with_array(lab), record, regions


def replay(image: Volume, organ_label: Volume, record: dict[str, Any], texture: TextureModel | None = None,
           progress: Progress = None) -> tuple[Volume, Volume]:
    """Reproduce an insertion bit-for-bit from its record (same image and label as the original call)."""
    if not isinstance(record, dict) or record.get("op") != "insert_tumours":
        raise InputError("not an insert_tumours record (op must be 'insert_tumours')")
    geo = record.get("image_geometry", {})
    if list(image.shape) != list(geo.get("shape_kji", [])) or not np.allclose(image.ijk_to_ras, geo.get("ijk_to_ras"), atol=1e-6):
        raise InputError(f"the image grid {image.shape} differs from the recorded one {geo.get('shape_kji')}; replay needs the original image")
    spec = InsertionSpec.from_dict(record["spec"])
    label, _ = _align_label(image, organ_label)
    tex = texture if texture is not None else get_texture(record["texture"])
    keys = ("shape", "box_start_kji", "clip_to_organ", "texture")
    plans = [{k: t[k] for k in keys} for t in record["tumours"]]
    out, lab, _ = _render(_scene(image, label, spec), image, plans, tex, progress)
    return image.with_array(out), image.with_array(lab)
