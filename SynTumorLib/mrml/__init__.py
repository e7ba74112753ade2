"""The only part of SynTumorLib that touches MRML (Slicer's scene classes).

Converts between Slicer nodes and library :class:`~SynTumorLib.data.volume.Volume` objects, creates
output nodes on an input's geometry, styles segments with SynTumor's standard names and colours and
stores records as node attributes. It needs only the MRML classes, so it works inside the Slicer
application, in ``PythonSlicer`` and with Kitware's Qt-free ``slicer-core`` wheel. Imported by the
SynTumor Slicer modules and the tests only — never by other library layers.

Example (with ``slicer-core``)::

    >>> import numpy as np, slicer
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.mrml import add_volume_node, volume_from_node
    >>> scene = slicer.vtkMRMLScene()
    >>> node = add_volume_node(scene, Volume.from_geometry(np.zeros((2, 3, 4), np.int16), (1, 1, 2)), "ct")
    >>> volume_from_node(node).spacing
    (1.0, 1.0, 2.0)
"""

from .organ import organ_mask
from .points import control_points_ras
from .records import RECORD_ATTRIBUTE, get_record, segment_record_key, set_record
from .scene import load_scene, register_node_classes, remove_nodes, save_scene
from .segmentations import (
    LABEL_STYLES,
    NOISY_COLOR,
    PANCREAS,
    TUMOUR,
    SegmentStyle,
    add_segment,
    find_segment,
    labelmap_from_segments,
    new_segmentation_node,
    reference_volume_of,
    segment_ids,
    segment_mask,
    segment_name,
    segment_tag,
    segmentation_from_labelmap,
    style_segment,
)
from .tables import table_from_rows, table_rows
from .volumes import (
    add_volume_node,
    matrix_to_numpy,
    numpy_to_matrix,
    update_node_from_volume,
    volume_from_node,
    world_to_local_ras,
)

__all__ = [
    "LABEL_STYLES", "NOISY_COLOR", "PANCREAS", "RECORD_ATTRIBUTE", "TUMOUR", "SegmentStyle",
    "add_segment", "add_volume_node", "control_points_ras", "find_segment", "get_record",
    "labelmap_from_segments", "load_scene", "matrix_to_numpy", "new_segmentation_node", "organ_mask",
    "numpy_to_matrix", "reference_volume_of", "register_node_classes", "remove_nodes", "save_scene",
    "segment_ids", "segment_mask", "segment_name", "segment_tag", "segment_record_key", "segmentation_from_labelmap",
    "set_record", "style_segment", "table_from_rows", "table_rows", "update_node_from_volume",
    "volume_from_node", "world_to_local_ras",
]
