"""Label noise on a segment: the work behind the SynTumorLabelNoise panel.

The chosen tumour segment is exported to the reference grid, corrupted by
``SynTumorLib.corruption.corrupt_label`` (the study's elastic boundary noise at a named level or
a given σ) and added back as a *new* segment beside the original, so both can be compared in the
views. The Dice and mean surface distance between original and corrupted segment say how strong the
noise was; the corruption record is stored on the segmentation node (attribute
``SynTumor.Record.<segment ID>``) and survives Save/Load.

Console / batch use::

    from SynTumorLabelNoiseLib import LabelNoiseLogic
    r = LabelNoiseLogic().corrupt(segNode, segNode.GetSegmentation().GetSegmentIdBySegmentName("tumour"),
                                  level="high", seed=1)
    print(r.dice, r.meanSurfaceDistanceMm)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from SynTumorLib.mrml import (
    NOISY_COLOR,
    TUMOUR,
    add_segment,
    get_record,
    segment_mask,
    segment_name,
    segment_record_key,
    set_record,
)
from SynTumorLib.utils.errors import InputError
from SynTumorLib.utils.seeding import fresh_seed

LEVELS = ("low", "moderate", "high", "extreme")


@dataclass
class LabelNoiseResult:
    """The new segment, how far it moved from the original, and the record that reproduces it."""

    segmentId: str
    dice: float
    meanSurfaceDistanceMm: float
    record: dict


class LabelNoiseLogic:
    """Add an elastically corrupted copy of a segment to its segmentation."""

    def corrupt(
        self,
        segmentationNode,
        segmentId: str,
        level: str | None = "moderate",
        sigmaMm: float | None = None,
        seed: int | None = 0,
        controlPoints: int = 3,
        referenceVolume=None,
    ) -> LabelNoiseResult:
        """Corrupt ``segmentId`` and add the result as a new segment.

        Args:
            segmentationNode: segmentation holding the segment (modified only by the added segment).
            segmentId: the segment to corrupt (usually the tumour).
            level: ``low`` / ``moderate`` / ``high`` / ``extreme``; None to use ``sigmaMm``.
            sigmaMm: σ of the control-point shifts in mm (used when ``level`` is None).
            seed: random seed (None: a fresh one, recorded).
            controlPoints: control points per axis of the random deformation grid.
            referenceVolume: grid to work on (default: the segmentation's reference volume).
        """
        from SynTumorLib.corruption import corrupt_label
        from SynTumorLib.metrics import dice, mean_surface_distance

        if segmentationNode is None:
            raise InputError("select a segmentation")
        if not segmentId:
            raise InputError(f"select the segment of '{segmentationNode.GetName()}' to corrupt")
        if level is None and sigmaMm is None:
            raise InputError("give a noise level or σ in mm")
        if level is not None and level not in LEVELS:
            raise InputError(f"unknown noise level {level!r}; use one of {', '.join(LEVELS)}")
        name = segment_name(segmentationNode, segmentId)
        original = segment_mask(segmentationNode, segmentId, referenceVolume)
        if not original.array.any():
            raise InputError(f"segment '{name}' is empty; there is no boundary to corrupt")
        seed = fresh_seed() if seed is None else int(seed)
        label = original.with_array((original.array > 0).astype(np.uint8) * 2)
        corrupted, record = corrupt_label(label, level=level, sigma_mm=None if level else float(sigmaMm),
                                          seed=seed, control_points=int(controlPoints))
        noisy = corrupted.with_array((corrupted.array == 2).astype(np.uint8))
        what = level if level else f"σ {float(sigmaMm):g} mm"
        newId = add_segment(segmentationNode, noisy, TUMOUR, name=f"{name} (noisy: {what}, seed {seed})",
                            color=NOISY_COLOR)
        set_record(segmentationNode, {**record, "source_segment": name}, segment_record_key(newId))
        sp = original.array_spacing
        d = float(dice(noisy.array > 0, original.array > 0))
        msd = float(mean_surface_distance(noisy.array > 0, original.array > 0, sp)) if noisy.array.any() else float("inf")
        return LabelNoiseResult(newId, d, msd, record)

    @staticmethod
    def recordOf(segmentationNode, segmentId: str) -> dict | None:
        """The corruption record of a segment this logic added (None for other segments)."""
        return get_record(segmentationNode, segment_record_key(segmentId))
