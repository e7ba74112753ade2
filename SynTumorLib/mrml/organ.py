"""The organ (pancreas) mask of a segmentation or label-map node, on a CT node's grid."""

from __future__ import annotations

import numpy as np

from ..data.volume import Volume
from ..utils.errors import InputError
from .segmentations import PANCREAS, find_segment, segment_mask
from .volumes import volume_from_node


def organ_mask(image_node, organ_node, segment_id: str | None = None, value: int = 1) -> Volume:
    """The organ as a 0/1 uint8 volume on ``image_node``'s grid.

    ``organ_node`` is a segmentation (segment ``segment_id``, or the segment named "pancreas" /
    carrying the pancreas terminology) or a label-map volume (voxels equal to ``value``, resampled to
    the CT grid when the label map has another geometry). Raises ``InputError`` when there is none
    or it is empty.
    """
    if organ_node is None:
        raise InputError("select the pancreas segmentation (or label map) of the input volume")
    if organ_node.IsA("vtkMRMLSegmentationNode"):
        sid = segment_id or find_segment(organ_node, PANCREAS)
        if not sid:
            raise InputError(f"segmentation '{organ_node.GetName()}' has no segment named 'pancreas'; "
                             "pick the pancreas segment")
        if organ_node.GetSegmentation().GetSegment(sid) is None:
            raise InputError(f"segmentation '{organ_node.GetName()}' has no segment '{sid}'; pick the pancreas segment")
        label = segment_mask(organ_node, sid, image_node)
    elif organ_node.IsA("vtkMRMLLabelMapVolumeNode") or organ_node.IsA("vtkMRMLScalarVolumeNode"):
        lab = volume_from_node(organ_node)
        image = volume_from_node(image_node)
        mask = lab.with_array((lab.array == value).astype(np.uint8))
        if not mask.same_grid(image):
            from ..data.resample import resample_like

            mask = resample_like(mask, image, is_label=True)
        label = image.with_array(np.asarray(mask.array, dtype=np.uint8))
    else:
        raise InputError(f"'{organ_node.GetName()}' is neither a segmentation nor a label map")
    if not label.array.any():
        raise InputError(f"the pancreas in '{organ_node.GetName()}' is empty on the grid of '{image_node.GetName()}'")
    return label
