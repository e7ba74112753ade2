"""The Label Noise panel's parameter node: everything it shows, saved with the scene."""

from typing import Annotated

from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper

from .logic import LEVELS

CUSTOM = "custom σ"
MAX_SEED = 2**31 - 1


@parameterNodeWrapper
class SynTumorLabelNoiseParameterNode:
    segmentationNode: vtkMRMLSegmentationNode
    # the segment chosen in the segment selector (saved with the scene; the widget syncs it)
    tumourSegmentId: str = ""
    referenceVolume: vtkMRMLScalarVolumeNode
    level: Annotated[str, Choice([*LEVELS, CUSTOM])] = "moderate"
    sigmaMm: Annotated[float, WithinRange(0.1, 30.0)] = 2.0
    controlPoints: Annotated[int, WithinRange(2, 10)] = 3
    seed: Annotated[int, WithinRange(0, MAX_SEED)] = 0
