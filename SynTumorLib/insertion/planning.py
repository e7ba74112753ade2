"""Where the tumours of one insertion go: every random draw, made before anything is rendered.

Two planners share one typed plan record, :class:`TumourPlan` (the per-tumour entries of an
insertion record, which :func:`.insert.replay` renders again):

* :func:`plan_reference` — the reference code's rule (``placement="reference"``): integer semi-axes,
  the three 2-D elastic passes, a centre drawn by the reference's superior-biased rule, the tumour
  clipped to the organ; the first draw is kept.
* :func:`plan_syntumor` — SynTumor's rule (``random`` / ``point``): an oriented elastic ellipsoid
  whose drawn volume lies ≥ ``min_inside`` in the host region (organ + bulge into soft tissue),
  whose delivered size stays in its class, and which neither overlaps nor touches another tumour.
  Candidate centres are probed cheaply on the undeformed ellipsoid first; only promising ones are
  rendered.

:func:`plan_tumours` draws what both share (class, count, bulge), then asks the planner for each
tumour in turn, each from its own child seed.

Example:
    >>> import numpy as np
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.insertion.insert import make_scene
    >>> from SynTumorLib.insertion.spec import InsertionSpec
    >>> k, j, i = np.indices((32, 40, 40))
    >>> organ = ((j - 20) ** 2 + (i - 20) ** 2 < 100) & (abs(k - 16) < 12)
    >>> img = Volume.from_geometry(np.where(organ, 100, -100).astype(np.int16), spacing=(1, 1, 1.5))
    >>> spec = InsertionSpec(size_class="small").resolved()
    >>> plans = plan_tumours(make_scene(img, img.with_array(organ.astype(np.uint8)), spec), img, spec, seed=3)
    >>> sorted(plans[0])
    ['attempts', 'box_start_kji', 'bulge_mm', 'class', 'clip_to_organ', 'count_drawn', 'fraction_in_host', 'shape']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from scipy import ndimage

from ..data.labels import equivalent_radius_mm
from ..data.volume import Volume
from ..geometry.placement import (
    Box,
    Scene,
    bounding_box,
    box_starts,
    ellipsoid_offsets,
    paste_slices,
    probe_fractions,
    reference_centre,
    sample_candidate,
)
from ..geometry.shapes import ShapeDraw, centroid, draw_shape
from ..geometry.sizes import SizeClass
from ..utils.errors import InputError
from ..utils.seeding import child_seed
from .spec import InsertionSpec

CENTRES_PER_SHAPE = 16  # candidate centres probed per drawn shape before a new draw
PROBE_SLACK = 0.1  # the probe ignores the elastic boundary: let near misses through to the exact test


class _PlanKeys(TypedDict):
    shape: dict[str, Any]  # the ShapeDraw (semi-axes, rotation, elastic field seed …), as a dict
    box_start_kji: list[int]  # array index of the rendered shape's box in the image
    clip_to_organ: bool  # reference rule: the tumour is cut to the organ


# "class" is a Python keyword, hence the functional form for the optional keys
_OptionalKeys = TypedDict("_OptionalKeys", {
    "fraction_in_host": float, "attempts": int, "class": str, "bulge_mm": "float | None", "count_drawn": int,
    "texture": "dict[str, Any]"}, total=False)


class TumourPlan(_PlanKeys, _OptionalKeys):
    """One planned tumour — the JSON a record holds per tumour (before its rendering statistics).

    ``fraction_in_host`` and ``attempts`` come from :func:`plan_syntumor` only; ``class`` (the size
    class, or ``custom`` for explicit radii), ``bulge_mm`` (None for the reference rule) and
    ``count_drawn`` from :func:`plan_tumours`; ``texture`` (the texture's draws) from the inserter.
    """


@dataclass
class Planning:
    """What the planners of one insertion share."""

    scene: Scene
    image: Volume
    spec: InsertionSpec
    cls: SizeClass  # the drawn size class
    size_cls: SizeClass | None  # the class the delivered size must stay in (None: explicit radii)
    count: int
    bulge: float
    occupied: np.ndarray  # voxels of the tumours planned so far


def values_on(src_box: Box, src: np.ndarray, dst_box: Box) -> np.ndarray:
    """The boolean array ``src`` (located at ``src_box``) seen on ``dst_box`` (False outside src)."""
    out = np.zeros(tuple(s.stop - s.start for s in dst_box), bool)
    inter = tuple(slice(max(a.start, b.start), min(a.stop, b.stop)) for a, b in zip(src_box, dst_box, strict=True))
    if all(s.stop > s.start for s in inter):
        out[tuple(slice(s.start - f.start, s.stop - f.start) for s, f in zip(inter, dst_box, strict=True))] = \
            src[tuple(slice(s.start - h.start, s.stop - h.start) for s, h in zip(inter, src_box, strict=True))]
    return out


def materialise(scene: Scene, t: TumourPlan) -> tuple[Box | None, np.ndarray | None, int, np.ndarray | None]:
    """(full-array slices, final tumour mask there, voxels of the drawn shape, origin) for one
    planned tumour. The slices cover only the drawn shape's own bounding box inside its pasted 4 r
    box (the mask is empty elsewhere); ``origin`` is that box's offset from the pasted box's start,
    which :func:`centroid` needs to give the pasted box's centre bit for bit."""
    m = scene.render(t["shape"])
    tight = scene.tight_box(t["shape"])
    if tight is None:
        return None, None, 0, None
    start = np.asarray(t["box_start_kji"], dtype=int)
    origin = box_starts(tight)
    full, local = paste_slices(start + origin, [s.stop - s.start for s in tight], scene.shape)
    n_drawn = int(np.count_nonzero(m[tight]))
    if full is None:
        return None, None, n_drawn, None
    mm = m[tight][local]
    if t["clip_to_organ"]:  # reference behaviour: the tumour is cut to the organ
        final = mm & scene.organ[full]
    else:
        final = mm & ~scene.forbidden(full)
    # offset of ``full`` from where the whole 4 r box would start (clipped to the array)
    origin = np.array([f.start for f in full]) - np.maximum(start, 0)
    return full, final, n_drawn, origin


def _no_contact(scene: Scene, occupied: np.ndarray, full: Box, final: np.ndarray, within: Box | None = None) -> bool:
    """True when ``final`` (placed at ``full``) neither overlaps nor touches an earlier or existing
    tumour. The one-voxel contact ring stays inside ``within`` (default ``full``): the box the
    tumour's shape was pasted in, so a caller may pass ``final`` cut to the shape's own box."""
    tb = bounding_box(final)
    if tb is None:
        return True
    within = full if within is None else within
    lo = [f.start + b.start for f, b in zip(full, tb, strict=True)]
    hi = [f.start + b.stop for f, b in zip(full, tb, strict=True)]
    sub = tuple(slice(max(a - 1, w.start), min(b + 1, w.stop)) for a, b, w in zip(lo, hi, within, strict=True))
    near = ndimage.binary_dilation(values_on(full, final, sub), structure=np.ones((3, 3, 3), bool))
    taken = occupied[sub]
    if scene.tumour_value is not None:
        taken = taken | (scene.label[sub] == scene.tumour_value)
    return not bool((near & taken).any())


def _size_ok(cls: SizeClass | None, draw: ShapeDraw, delivered_mm3: float) -> bool:
    if cls is None:  # explicit radii: within -20 % / +25 % of the drawn ellipsoid's volume
        return 0.8 <= delivered_mm3 / draw.nominal_volume_mm3 <= 1.25
    r = float(equivalent_radius_mm(delivered_mm3))
    return cls.range_mm[0] <= r <= cls.range_mm[1]


def _cannot_fit(p: Planning, where: str, index: int) -> InputError:
    spec, cls = p.spec, p.size_cls
    what = f"a {cls.name!r} tumour (semi-axes {cls.range_mm[0]:g}–{cls.range_mm[1]:g} mm)" if cls else \
        f"a tumour with semi-axes {list(spec.radii_mm or [])} mm"
    if index > 0:
        return InputError(
            f"no room for tumour {index + 1} of {p.count} ({what}) {where} beside the {index} already placed "
            f"(tumours never overlap or touch); ask for fewer tumours or a smaller class"
        )
    depth_mm = p.scene.max_depth_mm(p.bulge)
    fits = spec.sizes.fitting(depth_mm * 1.1)
    hint = f"classes that fit: {', '.join(fits)}" if fits else "no size class fits"
    return InputError(
        f"the organ cannot hold {what} {where} with ≥ {spec.min_inside:.0%} inside the organ "
        f"(+{p.bulge:g} mm bulge) after {spec.max_attempts} attempts; its deepest point is {depth_mm:.1f} mm "
        f"from its edge — {hint}; or lower min_inside / raise bulge_mm"
    )


def plan_reference(p: Planning, index: int, rng: np.random.Generator) -> TumourPlan | None:
    """The reference code's placement of tumour ``index`` (see the module doc)."""
    scene, spec, cls = p.scene, p.spec, p.cls
    for _ in range(spec.max_attempts):
        draw = draw_shape(rng, cls.range_mm, cls.sigma_mm, random_orientation=False, elastic_mode="pairs",
                          integer_axes=True, semi_axes_mm=spec.radii_mm, sigma_mm=spec.sigma_mm)
        m = scene.render(draw.to_dict())
        centre = reference_centre(rng, scene.organ, scene.organ_box, scene.superior_axis(p.image.direction_ras),
                                  cls.name == "large")
        start = centre - (np.array(m.shape) // 2)
        return {"shape": draw.to_dict(), "box_start_kji": [int(x) for x in start], "clip_to_organ": True}
    return None


def _point_target(p: Planning, index: int) -> np.ndarray:
    """The array position of the ``index``-th requested RAS point (checked: in the image and the organ)."""
    scene, spec, image = p.scene, p.spec, p.image
    ras = spec.at_ras[index]  # type: ignore[index]
    target = image.ras_to_kji(ras)
    if not image.contains_kji(target):
        raise InputError(f"point {list(ras)} (RAS mm) lies outside the image (index k, j, i = {np.round(target, 1).tolist()})")
    v = tuple(int(x) for x in np.clip(np.rint(target), 0, np.array(scene.shape) - 1))
    if not scene.organ[v]:
        pts = np.argwhere(scene.organ[scene.organ_box]) + box_starts(scene.organ_box)
        dmin = float(np.min(np.linalg.norm((pts - target) * scene.spacing, axis=1)))
        raise InputError(f"point {list(ras)} (RAS mm) is not inside the organ (label {spec.organ_value}); the nearest organ voxel is {dmin:.1f} mm away")
    return target


def plan_syntumor(p: Planning, index: int, rng: np.random.Generator) -> TumourPlan | None:
    """SynTumor's placement of tumour ``index`` (random, or at the requested point; see the module doc)."""
    scene, spec, cls = p.scene, p.spec, p.cls
    point = spec.placement_mode == "point"
    target = _point_target(p, index) if point else None
    host_box, host, organ_flat = scene.host(p.bulge)
    attempts = spec.max_attempts
    lo = min(spec.radii_mm) if spec.radii_mm is not None else cls.range_mm[0]
    if 4.0 / 3.0 * np.pi * lo**3 * spec.min_inside > host.sum() * p.image.voxel_volume_mm3:
        attempts = 0  # even the smallest draw is larger than the whole host region
    for attempt in range(attempts):
        draw = draw_shape(rng, cls.range_mm, cls.sigma_mm, random_orientation=spec.random_orientation,
                          elastic_mode=spec.elastic_mode, integer_axes=False, semi_axes_mm=spec.radii_mm,
                          sigma_mm=spec.sigma_mm)
        # cheap probe of the undeformed ellipsoid first; render only for promising centres
        offsets = ellipsoid_offsets(draw.semi_axes_mm, draw.rotation, scene.spacing)
        centres = [target] if point else [sample_candidate(rng, host_box, organ_flat) for _ in range(CENTRES_PER_SHAPE)]
        keep = probe_fractions(host_box, host, centres, offsets) >= spec.min_inside - PROBE_SLACK
        centres = [c for c, k in zip(centres, keep, strict=True) if k]
        if not centres:
            continue
        placed = _first_fit(p, draw, centres, host_box, host)
        if placed is not None:
            placed["attempts"] = attempt + 1
            return placed
    return None


def _first_fit(p: Planning, draw: ShapeDraw, centres: list, host_box: Box, host: np.ndarray) -> TumourPlan | None:
    """The first candidate centre where the rendered shape fits every rule (host fraction, size, no contact)."""
    scene, spec = p.scene, p.spec
    m = scene.render(draw.to_dict())
    tight = scene.tight_box(draw.to_dict())
    if tight is None:
        return None  # an empty shape delivers nothing: no class accepts it
    c_local = centroid(m)
    n_drawn = int(np.count_nonzero(m))
    mt, tight_start = m[tight], box_starts(tight)
    for centre in centres:
        start = np.rint(np.asarray(centre) - c_local).astype(int)
        full, _ = paste_slices(start, m.shape, scene.shape)
        if full is None:
            continue
        # the shape's own box is enough for the counts: m is empty outside it
        tfull, tlocal = paste_slices(start + tight_start, mt.shape, scene.shape)
        if tfull is None:
            continue  # nothing of the shape is visible: not enough of it in the host region
        visible = mt[tlocal]
        in_host = int(np.count_nonzero(visible & values_on(host_box, host, tfull)))
        if in_host < spec.min_inside * n_drawn:
            continue
        final = visible & ~scene.forbidden(tfull)
        delivered = float(np.count_nonzero(final)) * p.image.voxel_volume_mm3
        if not _size_ok(p.size_cls, draw, delivered) or not _no_contact(scene, p.occupied, tfull, final, full):
            continue
        return {"shape": draw.to_dict(), "box_start_kji": [int(x) for x in start], "clip_to_organ": False,
                "fraction_in_host": in_host / n_drawn}
    return None


def plan_tumours(scene: Scene, image: Volume, spec: InsertionSpec, seed: int) -> list[TumourPlan]:
    """Every random draw of an insertion, as :class:`TumourPlan` records (no texture, no rendering)."""
    mode = spec.placement_mode
    top = np.random.default_rng(child_seed(seed, "plan"))
    cls = spec.sizes.pick(spec.size_class, top)
    count = len(spec.at_ras or []) if mode == "point" else \
        (spec.count or int(top.integers(cls.count[0], cls.count[1] + 1)))
    ref = mode == "reference"
    bulge = spec.bulge_mm if spec.bulge_mm is not None else 0.5 * (
        cls.radius_mm if spec.radii_mm is None else float(np.mean(spec.radii_mm)))
    p = Planning(scene, image, spec, cls, None if spec.radii_mm is not None else cls, count, bulge,
                 np.zeros(scene.shape, bool))
    planner = plan_reference if ref else plan_syntumor
    plans: list[TumourPlan] = []
    for t in range(count):
        placed = planner(p, t, np.random.default_rng(child_seed(seed, "tumour", t)))
        if placed is None and t > 0 and spec.count is None and mode != "point":
            break  # the count was drawn, not asked for: keep the tumours that fit (the record says so)
        if placed is None:
            where = f"at {list(spec.at_ras[t])}" if mode == "point" else "anywhere"  # type: ignore[index]
            raise _cannot_fit(p, where, t)
        full, final, _, _ = materialise(scene, placed)
        if full is not None:
            p.occupied[full] |= final
        scene.keep_renders([q["shape"] for q in (*plans, placed)])  # free the rejected draws' renders
        placed.update({"class": cls.name if spec.radii_mm is None else "custom", "bulge_mm": None if ref else bulge})
        plans.append(placed)
    for q in plans:
        q["count_drawn"] = count
    return plans
