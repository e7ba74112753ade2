"""The phantom check behind SynTumorSegmentationTest — shared by Slicer's self-test and pytest.

Inference itself needs a trained model folder, which a fresh installation does not have; the check
covers evaluation and the lesion table (what the "click a lesion" navigation reads)."""

from __future__ import annotations

import numpy as np

from SynTumorLib.mrml import add_volume_node, segmentation_from_labelmap

from .logic import EvaluationResult, SegmentationLogic


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_evaluation_on_phantom(scene, spacing=(1.5, 1.5, 1.5), shape=None) -> EvaluationResult:
    """Evaluate a prediction that misses every tumour of a two-tumour phantom. Raises AssertionError."""
    from SynTumorLib.data.phantom import generate_case

    image, label, _info = generate_case(seed=3, tumours=2, tumour_sizes=[18.0, 14.0], spacing=spacing, shape=shape)
    ct = add_volume_node(scene, image, "phantom")
    reference = segmentation_from_labelmap(scene, label, "reference", ct)
    missed = np.where(label.array == 2, 1, label.array).astype(np.uint8)
    prediction = segmentation_from_labelmap(scene, label.with_array(missed), "prediction", ct)
    result = SegmentationLogic(scene).evaluate(prediction, reference, ct)
    n_lesions = result.metrics["n_ref_lesions"]
    _check(n_lesions >= 1, "the phantom has no tumour")
    _check(result.metrics["lesion_tp"] == 0 and result.metrics["tumour_dice"] == 0.0, "missed tumours were counted")
    _check(result.lesionTable.GetNumberOfRows() == n_lesions, "one lesion row per reference lesion expected")
    centre = np.asarray(SegmentationLogic.lesionCentre(result.lesionTable, 0))
    _check(bool(np.all(np.isfinite(centre))), "lesion centre is not a position")
    return result
