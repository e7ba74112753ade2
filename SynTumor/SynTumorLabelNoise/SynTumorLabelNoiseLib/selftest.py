"""The phantom check behind SynTumorLabelNoiseTest — shared by Slicer's self-test and pytest."""

from __future__ import annotations

from SynTumorLib.mrml import TUMOUR, add_volume_node, find_segment, segmentation_from_labelmap

from .logic import LabelNoiseLogic, LabelNoiseResult


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_label_noise_on_phantom(scene, spacing=(1.5, 1.5, 1.5), shape=None) -> LabelNoiseResult:
    """Corrupt the tumour of a phantom with one tumour at the high level; check the added segment,
    Dice/MSD and the stored record. Raises AssertionError on failure."""
    from SynTumorLib.data.phantom import generate_case

    image, label, _info = generate_case(seed=2, tumours=1, tumour_sizes=[20.0], spacing=spacing, shape=shape)
    ct = add_volume_node(scene, image, "phantom")
    seg = segmentation_from_labelmap(scene, label, "phantom segmentation", ct)
    result = LabelNoiseLogic().corrupt(seg, find_segment(seg, TUMOUR), level="high", seed=4)
    _check(seg.GetSegmentation().GetNumberOfSegments() == 3, "the noisy segment was not added beside the others")
    _check(0.0 < result.dice < 1.0, f"Dice {result.dice} is not between 0 and 1 (no visible noise?)")
    _check(result.meanSurfaceDistanceMm > 0.0, "the boundary did not move")
    _check((LabelNoiseLogic.recordOf(seg, result.segmentId) or {}).get("seed") == 4, "record missing or wrong")
    return result
