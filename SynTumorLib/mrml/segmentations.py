"""Segmentation nodes ⇄ label volumes, with SynTumor's standard segment names and colours.

Label values in library volumes are 0 background, 1 pancreas, 2 tumour. In a Slicer segmentation the
same structures are segments called ``pancreas`` and ``tumour`` with fixed colours and a DICOM
terminology entry, so Slicer's terminology browser, DICOM SEG export and other extensions recognise
them. Conversions go through a temporary label-map node and the segmentations module logic — the
same path ``slicer.util.arrayFromSegmentBinaryLabelmap`` takes — so they behave identically in the
Slicer application and with the Qt-free ``slicer-core`` wheel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import slicer
import vtk

from ..data.volume import Volume
from ..utils.errors import InputError
from .volumes import add_volume_node, volume_from_node

_LOGIC = slicer.vtkSlicerSegmentationsModuleLogic


@dataclass(frozen=True)
class SegmentStyle:
    """Name, colour (RGB in 0..1) and terminology entry of a standard segment."""

    name: str
    color: tuple[float, float, float]
    terminology: str
    aliases: tuple[str, ...] = ()


# Terminology entries in Slicer's serialised form: context~category~type~modifier~anatomic context~
# anatomic region~region modifier (SNOMED CT codes as in the DICOM master list).
PANCREAS = SegmentStyle(
    name="pancreas",
    color=(0.40, 0.74, 0.38),
    terminology=(
        "Segmentation category and type - DICOM master list~SCT^123037004^Anatomical Structure"
        "~SCT^15776009^Pancreas~^^~Anatomic codes - DICOM master list~^^~^^"
    ),
    aliases=("pancreas", "label_1", "pancreas_1"),
)
TUMOUR = SegmentStyle(
    name="tumour",
    color=(0.72, 0.24, 0.16),
    terminology=(
        "Segmentation category and type - DICOM master list~SCT^49755003^Morphologically Altered Structure"
        "~SCT^108369006^Neoplasm~^^~Anatomic codes - DICOM master list~SCT^15776009^Pancreas~^^"
    ),
    aliases=("tumour", "tumor", "lesion", "neoplasm", "pdac", "label_2"),
)
# A corrupted (noisy) copy of a segment: same structure, a lighter colour so both stay visible.
NOISY_COLOR = (0.98, 0.76, 0.20)
LABEL_STYLES: dict[int, SegmentStyle] = {1: PANCREAS, 2: TUMOUR}


def segment_ids(segmentation_node) -> list[str]:
    seg = segmentation_node.GetSegmentation()
    return [seg.GetNthSegmentID(i) for i in range(seg.GetNumberOfSegments())]


def segment_name(segmentation_node, segment_id: str) -> str:
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
    if segment is None:
        raise InputError(f"segmentation '{segmentation_node.GetName()}' has no segment '{segment_id}'")
    return segment.GetName()


def find_segment(segmentation_node, style_or_name: SegmentStyle | str) -> str | None:
    """Segment ID whose ID or name matches (case-insensitive; a style also matches its aliases)."""
    if isinstance(style_or_name, SegmentStyle):
        wanted = {style_or_name.name.lower(), *style_or_name.aliases}
        terminology_code = style_or_name.terminology.split("~")[2].split("^")[1]
    else:
        wanted, terminology_code = {style_or_name.lower()}, None
        if segmentation_node.GetSegmentation().GetSegment(style_or_name) is not None:
            return style_or_name
    for sid in segment_ids(segmentation_node):
        segment = segmentation_node.GetSegmentation().GetSegment(sid)
        if segment.GetName().strip().lower() in wanted:
            return sid
    if terminology_code:  # e.g. a TotalSegmentator "pancreas" named in another language
        key = slicer.vtkSegment.GetTerminologyEntryTagName()
        for sid in segment_ids(segmentation_node):
            fields = segment_tag(segmentation_node, sid, key).split("~")
            # compare the *type* field only: a tumour's entry names the pancreas as its anatomic region
            if len(fields) > 2 and terminology_code in fields[2]:
                return sid
    return None


def segment_tag(segmentation_node, segment_id: str, key: str) -> str:
    """A segment tag's value ("" when the segment has no such tag)."""
    value = vtk.mutable("")
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
    return str(value) if segment is not None and segment.GetTag(key, value) else ""


def reference_volume_of(segmentation_node):
    """The volume node a segmentation was made on (its reference-geometry node), or None."""
    return segmentation_node.GetNodeReference(segmentation_node.GetReferenceImageGeometryReferenceRole())


def _node_ids(scene) -> set[str]:
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


def _export_segment(segmentation_node, segment_id: str, reference_node) -> np.ndarray:
    scene = segmentation_node.GetScene()
    before = _node_ids(scene)
    tmp = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__SynTumor_tmp_export")
    try:
        ids = vtk.vtkStringArray()
        ids.InsertNextValue(segment_id)
        if not _LOGIC.ExportSegmentsToLabelmapNode(segmentation_node, ids, tmp, reference_node):
            raise InputError(f"could not export segment '{segment_id}' of '{segmentation_node.GetName()}'")
        return volume_from_node(tmp).array > 0
    finally:
        # the export also adds the label map's display node and colour table: remove all it added
        # (singletons such as the subject hierarchy are the scene's, not the export's)
        for node_id in _node_ids(scene) - before:
            node = scene.GetNodeByID(node_id)
            if node is not None and not node.GetSingletonTag() and not node.IsA("vtkMRMLSubjectHierarchyNode"):
                scene.RemoveNode(node)


def labelmap_from_segments(
    segmentation_node,
    values: Mapping[str, int],
    reference_node=None,
    dtype=np.uint8,
) -> Volume:
    """A label volume on ``reference_node``'s grid with ``values[segment_id]`` painted in order.

    Args:
        segmentation_node: the segmentation.
        values: segment ID → label value; later entries overwrite earlier ones where segments overlap.
        reference_node: volume node giving the output grid (default: the segmentation's reference).

    Raises:
        InputError: unknown segment or no reference geometry.
    """
    reference_node = reference_node or reference_volume_of(segmentation_node)
    if reference_node is None:
        raise InputError(
            f"segmentation '{segmentation_node.GetName()}' has no reference volume; select the volume it belongs to"
        )
    ref = volume_from_node(reference_node)
    out = np.zeros(ref.shape, dtype=dtype)
    for sid, value in values.items():
        segment_name(segmentation_node, sid)  # raises a clear error for unknown IDs
        out[_export_segment(segmentation_node, sid, reference_node)] = value
    return ref.with_array(out)


def segment_mask(segmentation_node, segment_id: str, reference_node=None) -> Volume:
    """One segment as a 0/1 uint8 volume on the reference grid."""
    return labelmap_from_segments(segmentation_node, {segment_id: 1}, reference_node)


def new_segmentation_node(scene, name: str, reference_node=None):
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", scene.GenerateUniqueName(name))
    node.CreateDefaultDisplayNodes()
    if reference_node is not None:
        node.SetReferenceImageGeometryParameterFromVolumeNode(reference_node)
        node.SetAndObserveTransformNodeID(reference_node.GetTransformNodeID())
    return node


def style_segment(segmentation_node, segment_id: str, style: SegmentStyle, name: str | None = None,
                  color: tuple[float, float, float] | None = None) -> None:
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
    segment.SetName(name or style.name)
    segment.SetColor(*(color or style.color))
    segment.SetTag(slicer.vtkSegment.GetTerminologyEntryTagName(), style.terminology)


def add_segment(
    segmentation_node,
    mask: Volume,
    style: SegmentStyle,
    name: str | None = None,
    color: tuple[float, float, float] | None = None,
) -> str:
    """Add ``mask > 0`` as a new segment (empty masks give an empty segment); returns its ID."""
    scene = segmentation_node.GetScene()
    before = set(segment_ids(segmentation_node))
    binary = mask.with_array((np.asarray(mask.array) > 0).astype(np.uint8))
    if binary.array.any():
        tmp = add_volume_node(scene, binary, "__SynTumor_tmp_import", labelmap=True, display=False)
        # the import maps the label map's *world* position into the segmentation's frame, so the mask
        # (given in the segmentation's local RAS) must sit under the same parent transform
        tmp.SetAndObserveTransformNodeID(segmentation_node.GetTransformNodeID())
        try:
            if not _LOGIC.ImportLabelmapToSegmentationNode(tmp, segmentation_node, ""):
                raise InputError(f"could not import a mask into '{segmentation_node.GetName()}'")
        finally:
            scene.RemoveNode(tmp)
        new = [sid for sid in segment_ids(segmentation_node) if sid not in before]
        if len(new) != 1:
            raise InputError(f"importing one mask created {len(new)} segments")
        sid = new[0]
    else:
        sid = segmentation_node.GetSegmentation().AddEmptySegment("", name or style.name, list(color or style.color))
    style_segment(segmentation_node, sid, style, name, color)
    return sid


def segmentation_from_labelmap(
    scene,
    label: Volume,
    name: str,
    reference_node=None,
    styles: Mapping[int, SegmentStyle] = LABEL_STYLES,
):
    """A new segmentation node with one styled segment per label value in ``styles`` (in order)."""
    node = new_segmentation_node(scene, name, reference_node)
    for value, style in styles.items():
        add_segment(node, label.with_array(np.asarray(label.array) == value), style)
    return node
