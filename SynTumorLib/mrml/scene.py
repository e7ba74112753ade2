"""Saving and loading a scene with its data files (used by batch scripts and the tests).

In the Slicer application use ``slicer.util.saveScene`` (it also handles .mrb bundles and the
application's own nodes); this module needs only MRML, so it works in ``PythonSlicer`` and with the
Qt-free ``slicer-core`` wheel, where that helper is not available.
"""

from __future__ import annotations

import os
from pathlib import Path

import slicer

# Classes a bare vtkMRMLScene (slicer-core, no module logics) does not know but SynTumor writes.
_EXTRA_CLASSES = ("vtkMRMLMarkupsJsonStorageNode", "vtkMRMLMarkupsFiducialNode", "vtkMRMLMarkupsFiducialDisplayNode",
                  "vtkMRMLTableNode", "vtkMRMLTableStorageNode", "vtkMRMLSegmentationStorageNode")


def register_node_classes(scene) -> None:
    """Register the node classes above when missing (the application registers them itself)."""
    for cls in _EXTRA_CLASSES:
        if not scene.IsNodeClassRegistered(cls) and hasattr(slicer, cls):
            scene.RegisterNodeClass(getattr(slicer, cls)())


def _storage_node(scene, node):
    storage = node.GetStorageNode()
    if storage is None:
        node.AddDefaultStorageNode()
        storage = node.GetStorageNode()
    if storage is None and node.IsA("vtkMRMLMarkupsNode"):
        storage = scene.AddNewNodeByClass("vtkMRMLMarkupsJsonStorageNode")
        node.SetAndObserveStorageNodeID(storage.GetID())
    return storage


def save_scene(scene, mrml_path: str | os.PathLike) -> list[Path]:
    """Write every storable node's data next to ``mrml_path`` and the scene file itself.

    Returns the written data files. Raises ``OSError`` when a node or the scene cannot be written.
    """
    mrml_path = Path(mrml_path).resolve()
    folder = mrml_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    register_node_classes(scene)
    written = []
    nodes = [scene.GetNthNodeByClass(i, "vtkMRMLStorableNode")
             for i in range(scene.GetNumberOfNodesByClass("vtkMRMLStorableNode"))]
    for node in nodes:
        # singletons (the application's built-in colour tables, …) come back with the application
        if not node.GetSaveWithScene() or node.GetSingletonTag():
            continue
        if node.IsA("vtkMRMLVolumeNode") and node.GetImageData() is None:
            continue  # an empty placeholder (e.g. an output selector's new node) has nothing to write
        storage = _storage_node(scene, node)
        if storage is None:
            continue
        ext = storage.GetDefaultWriteFileExtension()
        # the node ID keeps file names unique even when two nodes share a name
        path = folder / f"{node.GetID()}_{_safe(node.GetName())}.{ext}"
        storage.SetFileName(str(path))
        if not storage.WriteData(node):
            raise OSError(f"could not write node '{node.GetName()}' to {path}")
        written.append(path)
    scene.SetRootDirectory(str(folder))
    scene.SetURL(str(mrml_path))
    if not scene.Commit():
        raise OSError(f"could not write the scene file {mrml_path}")
    return written


def remove_nodes(scene, nodes) -> None:
    """Remove ``nodes`` from ``scene`` with the display and storage nodes they own (no orphans left
    behind when a result cannot be completed)."""
    for node in nodes:
        if node is None or scene.GetNodeByID(node.GetID()) is None:
            continue
        owned = []
        if node.IsA("vtkMRMLDisplayableNode"):
            owned += [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())]
        if node.IsA("vtkMRMLStorableNode"):
            owned += [node.GetNthStorageNode(i) for i in range(node.GetNumberOfStorageNodes())]
        scene.RemoveNode(node)
        for other in owned:
            if other is not None and scene.GetNodeByID(other.GetID()) is not None:
                scene.RemoveNode(other)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60] or "node"


def load_scene(mrml_path: str | os.PathLike, scene=None):
    """Load a ``.mrml`` file (and the data files it references) into ``scene`` (default: a new one)."""
    scene = scene or slicer.vtkMRMLScene()
    register_node_classes(scene)
    mrml_path = Path(mrml_path)
    if not mrml_path.is_file():
        raise FileNotFoundError(f"scene file not found: {mrml_path}")
    scene.SetURL(str(mrml_path.resolve()))
    scene.Import()
    return scene
