"""The Tumour Insertion panel's parameter node: everything it shows, saved with the scene.

A node parameter that accepts two node types must also accept ``None`` (``Union[A, B, None]``, the form Slicer's ``parameterNodeWrapper/util.py`` documents): Slicer's
parameterNodeWrapper writes every default when it wraps a node, and a union of node types without
``None`` has no default it can write (AUDIT A1). Optional paths (``Union[Path, None]``) default to ``None``
and show as an empty field (``SynTumorCommon.connectors``).
"""

import pathlib
from typing import Annotated, Union

from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
)
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper

from .logic import CLASS_PRESETS, SIZE_CLASSES, TEXTURE_MODES, TEXTURES

MAX_SEED = 2**31 - 1


@parameterNodeWrapper
class SynTumorInsertionParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode
    organNode: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]
    # the segment of organNode chosen in the segment selector (kept here so that it is saved with
    # the scene; qMRMLSegmentSelectorWidget has no GUI connector, the widget syncs it)
    pancreasSegmentId: str = ""
    tumourPoints: vtkMRMLMarkupsFiducialNode
    sizeClass: Annotated[str, Choice(list(SIZE_CLASSES))] = "medium"
    classesPreset: Annotated[str, Choice(list(CLASS_PRESETS))] = "syntumor"
    classesFile: Union[pathlib.Path, None]
    useRadii: bool = False
    radiusX: Annotated[float, WithinRange(0.5, 80.0)] = 10.0
    radiusY: Annotated[float, WithinRange(0.5, 80.0)] = 10.0
    radiusZ: Annotated[float, WithinRange(0.5, 80.0)] = 10.0
    count: Annotated[int, WithinRange(1, 10)] = 1
    seed: Annotated[int, WithinRange(0, MAX_SEED)] = 0
    advanceSeed: bool = True
    textureBackend: Annotated[str, Choice(list(TEXTURES))] = "statistical"
    diffusionModelFolder: Union[pathlib.Path, None]
    textureMode: Annotated[str, Choice(list(TEXTURE_MODES))] = "syntumor"
