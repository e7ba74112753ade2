"""The Tumour Segmentation panel's parameter node: everything it shows, saved with the scene.

``pancreasNode`` may be a segmentation or a label map, or nothing: a union of node types needs
``None`` in it for Slicer's parameterNodeWrapper, which writes every default when it wraps a node
(AUDIT A1). The model folder is an optional path (``Union[Path, None]``): empty until chosen.
"""

import pathlib
from typing import Annotated, Union

from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper

from .logic import DEVICES


@parameterNodeWrapper
class SynTumorSegmentationParameterNode:
    modelFolder: Union[pathlib.Path, None]
    device: Annotated[str, Choice(list(DEVICES))] = "auto"
    overlap: Annotated[float, WithinRange(0.0, 0.9)] = 0.5
    inputVolume: vtkMRMLScalarVolumeNode
    pancreasNode: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]
    outputSegmentation: vtkMRMLSegmentationNode
    referenceSegmentation: vtkMRMLSegmentationNode
    toleranceMm: Annotated[float, WithinRange(0.5, 10.0)] = 2.0
    metricsTable: vtkMRMLTableNode
    lesionTable: vtkMRMLTableNode
