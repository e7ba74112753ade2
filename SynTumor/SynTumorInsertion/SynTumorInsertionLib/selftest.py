"""The phantom check behind SynTumorInsertionTest — shared by Slicer's self-test (Reload and Test)
and the pytest suite (slicer-core), so both exercise exactly the same steps."""

from __future__ import annotations

import numpy as np

from SynTumorLib.mrml import (
    TUMOUR,
    add_volume_node,
    find_segment,
    get_record,
    segment_mask,
    segmentation_from_labelmap,
    volume_from_node,
)

from .logic import InsertionLogic, InsertionResult


def _check(condition: bool, message: str) -> None:
    if not condition:  # not `assert`: the check must also hold under python -O
        raise AssertionError(message)


def check_insertion_on_phantom(scene, seed: int = 7, spacing=(1.5, 1.5, 1.5), shape=None) -> InsertionResult:
    """Generate the phantom, click a point in its pancreas, insert a small tumour there and check
    placement, geometry, untouched input and the stored record. Raises AssertionError on failure."""
    from SynTumorLib.data.phantom import generate_case

    image, label, _info = generate_case(seed=1, tumours=0, spacing=spacing, shape=shape)
    ct = add_volume_node(scene, image, "phantom")
    seg = segmentation_from_labelmap(scene, label, "phantom segmentation", ct)
    pancreas = np.argwhere(label.array == 1)
    target = image.kji_to_ras(pancreas[len(pancreas) // 2])
    points = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "tumour centres")
    points.AddControlPoint(*target)

    result = InsertionLogic(scene).insert(ct, seg, pointsNode=points, sizeClass="small", seed=seed)
    tumour = segment_mask(result.segmentationNode, find_segment(result.segmentationNode, TUMOUR), result.volumeNode)
    _check(tumour.array.any(), "no tumour was inserted")
    centre = tumour.kji_to_ras(np.argwhere(tumour.array > 0).mean(axis=0))
    distance = float(np.linalg.norm(centre - target))
    _check(distance <= max(image.spacing), f"tumour centre {distance:.2f} mm from the clicked point")
    _check(np.array_equal(volume_from_node(ct).array, image.array), "the input volume was modified")
    _check(volume_from_node(result.volumeNode).same_grid(image), "the output is not on the input's grid")
    _check((get_record(result.volumeNode) or {}).get("seed") == seed, "the record is missing or wrong")
    return result
