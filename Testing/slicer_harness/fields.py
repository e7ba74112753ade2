"""Values to set on every field of a parameter-node class, worked out from the class as Slicer's
wrapper sees it (``allParameters``: serializer, default, annotated type) and from the ``.ui``.

For each field: every ``Choice``, both bounds of a ``WithinRange`` (and a value outside it, which
must be refused), ``True``/``False``, a node of each type the field accepts (and ``None`` where the
panel's combo box lets the user choose none, or the type is ``Optional``), a path and the empty path.
"""

from __future__ import annotations

import pathlib
import types
import typing
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np

from . import SYNTUMOR

_PATHS = (pathlib.Path, pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePath)


@dataclass
class FieldCase:
    name: str
    values: list = field(default_factory=list)  # each must read back equal (nodes: the same node)
    refused: list = field(default_factory=list)  # each must raise when set
    kind: str = ""


def ui_bindings(module: str) -> dict[str, ET.Element]:
    """SlicerParameterName → the ``<widget>`` element that binds it."""
    root = ET.parse(SYNTUMOR / module / "Resources" / "UI" / f"{module}.ui").getroot()
    out = {}
    for w in root.iter("widget"):
        for p in w.findall("property"):
            if p.get("name") == "SlicerParameterName":
                out[p.findtext("string")] = w
    return out


def ui_property(widget: ET.Element, name: str):
    for p in widget.findall("property"):
        if p.get("name") == name:
            child = next(iter(p))
            return child.text.strip().lower() == "true" if child.tag == "bool" else child.text
    return None


def _optional(t) -> bool:
    return typing.get_origin(t) in (typing.Union, types.UnionType) and type(None) in typing.get_args(t)


def make_node(scene, class_name: str, name: str):
    """A small real node of ``class_name`` (with data, so that the scene can be saved)."""
    from SynTumorLib.data.volume import Volume
    from SynTumorLib.mrml import add_volume_node, segmentation_from_labelmap, table_from_rows

    image = Volume.from_geometry(np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6) % 7, (1.0, 1.5, 2.0))
    if class_name == "vtkMRMLScalarVolumeNode":
        return add_volume_node(scene, image, name)
    if class_name == "vtkMRMLLabelMapVolumeNode":
        return add_volume_node(scene, image.with_array((image.array > 2).astype(np.uint8)), name, labelmap=True)
    if class_name == "vtkMRMLSegmentationNode":
        return segmentation_from_labelmap(scene, image.with_array((image.array % 3).astype(np.uint8)), name)
    if class_name == "vtkMRMLMarkupsFiducialNode":
        node = scene.AddNewNodeByClass(class_name, name)
        node.AddControlPoint(1.0, 2.0, 3.0)
        return node
    if class_name == "vtkMRMLTableNode":
        return table_from_rows(scene, name, ["a", "b"], [["x", 1.0]])
    raise ValueError(f"no recipe for a {class_name}")


def cases(parameterClass, module: str, scene, tmp: pathlib.Path) -> list[FieldCase]:
    """One :class:`FieldCase` per field of ``parameterClass``."""
    from slicer.parameterNodeWrapper import (
        Choice,
        WithinRange,
        findFirstAnnotation,
        getNodeTypes,
        isNodeOrUnionOfNodes,
        splitAnnotations,
    )

    bound = ui_bindings(module)
    out = []
    for name, info in parameterClass.allParameters.items():
        base, annotations = splitAnnotations(info.unalteredType)
        if isinstance(base, types.UnionType):  # as the wrapper and createGuiConnector do
            base = typing.Union[typing.get_args(base)]
        case = FieldCase(name)
        choice = findFirstAnnotation(annotations, Choice)
        limits = findFirstAnnotation(annotations, WithinRange)
        if isNodeOrUnionOfNodes(base):
            case.kind = "node"
            case.values = [make_node(scene, t, f"{name} {t}") for t in getNodeTypes(base)]
            noneEnabled = name in bound and ui_property(bound[name], "noneEnabled")
            if noneEnabled or _optional(base) or isinstance(base, type):
                case.values.append(None)
        elif choice is not None:
            case.kind = "choice"
            case.values = list(choice.choices)
            case.refused = ["not one of the choices"]
        elif limits is not None:
            case.kind = "range"
            step = 1 if base is int else 0.5  # representable in a one-decimal spin box
            case.values = [limits.minimum, limits.maximum, base(limits.minimum + step)]
            case.refused = [limits.minimum - step, limits.maximum + step]
        elif base is bool:
            case.kind, case.values = "bool", [True, False]
        elif base is str:
            case.kind, case.values = "str", ["Segment_3", ""]
        elif _optional(base) and any(a in _PATHS for a in typing.get_args(base)):
            case.kind, case.values = "optional path", [tmp / "some folder" / "file.json", None]
        elif base in _PATHS:
            case.kind, case.values = "path", [tmp / "file.json", pathlib.Path()]
        else:
            raise AssertionError(f"{module}.{name}: no test values for {info.unalteredType}")
        out.append(case)
    return out


def same(a, b) -> bool:
    """Equal values; nodes (possibly from another scene, after a save/load) by class and name."""
    if hasattr(a, "GetClassName") or hasattr(b, "GetClassName"):
        return (a is not None and b is not None and a.GetClassName() == b.GetClassName()
                and a.GetName() == b.GetName())
    return a == b
