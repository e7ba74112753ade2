"""Scalar and label-map volume nodes ⇄ :class:`~SynTumorLib.data.volume.Volume`.

Slicer keeps a volume as ``vtkImageData`` (dimensions i, j, k; spacing and origin ignored — the
geometry lives in the node's IJK→RAS matrix). Flattening the scalars in VTK's order and reshaping to
``(k, j, i)`` gives exactly the array ``slicer.util.arrayFromVolume`` returns, so a ``Volume`` is the
node's array plus ``node.GetIJKToRASMatrix()``. Arrays are always *copied* both ways: the library
never aliases a node's memory, so no library call can modify an input node behind Slicer's back.

A node under a parent transform keeps its IJK→RAS in *local* coordinates; markups give world
coordinates. :func:`world_to_local_ras` maps between the two for linear transforms.
"""

from __future__ import annotations

import numpy as np
import vtk
from vtkmodules.util import numpy_support

from ..data.volume import Volume
from ..utils.errors import InputError


def matrix_to_numpy(m: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)], dtype=np.float64)


def numpy_to_matrix(a: np.ndarray) -> vtk.vtkMatrix4x4:
    a = np.asarray(a, dtype=np.float64)
    m = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            m.SetElement(r, c, float(a[r, c]))
    return m


def _node_name(node) -> str:
    return node.GetName() if node is not None and node.GetName() else "<unnamed node>"


def volume_from_node(node) -> Volume:
    """Copy a ``vtkMRMLScalarVolumeNode`` / ``vtkMRMLLabelMapVolumeNode`` into a ``Volume``.

    Raises:
        InputError: no node, no image data, or a multi-component (vector/RGB) volume.
    """
    if node is None:
        raise InputError("no volume node given")
    image = node.GetImageData()
    if image is None or image.GetPointData() is None or image.GetPointData().GetScalars() is None:
        raise InputError(f"volume node '{_node_name(node)}' has no image data")
    if image.GetNumberOfScalarComponents() != 1:
        raise InputError(
            f"volume node '{_node_name(node)}' has {image.GetNumberOfScalarComponents()} components; "
            "a scalar (single-component) volume is needed"
        )
    dims_ijk = image.GetDimensions()
    flat = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    array = np.array(flat, copy=True).reshape(dims_ijk[::-1])
    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    return Volume(array, matrix_to_numpy(m))


def _image_data_from_array(array: np.ndarray) -> vtk.vtkImageData:
    array = np.ascontiguousarray(array)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    image = vtk.vtkImageData()
    image.SetDimensions(int(array.shape[2]), int(array.shape[1]), int(array.shape[0]))
    scalars = numpy_support.numpy_to_vtk(array.ravel(), deep=True)
    scalars.SetName("ImageScalars")
    image.GetPointData().SetScalars(scalars)
    return image


def update_node_from_volume(node, volume: Volume) -> None:
    """Replace a volume node's voxels and IJK→RAS with those of ``volume`` (array copied)."""
    node.SetAndObserveImageData(_image_data_from_array(volume.array))
    node.SetIJKToRASMatrix(numpy_to_matrix(volume.ijk_to_ras))
    node.Modified()


def add_volume_node(
    scene,
    volume: Volume,
    name: str,
    labelmap: bool = False,
    like=None,
    display: bool = True,
):
    """Add a new scalar (or label-map) volume node holding ``volume``.

    Args:
        scene: the MRML scene.
        volume: voxels and geometry of the new node.
        name: node name; made unique in the scene (Slicer appends ``_1``, ``_2``, ...).
        labelmap: create a ``vtkMRMLLabelMapVolumeNode`` instead of a scalar volume.
        like: an existing volume node; the new node goes under the same parent transform and, for a
            scalar volume, copies its window/level so the result looks like the input.
        display: create display nodes (off for temporary nodes that are never shown).
    """
    cls = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    node = scene.AddNewNodeByClass(cls, scene.GenerateUniqueName(name))
    update_node_from_volume(node, volume)
    if display:
        node.CreateDefaultDisplayNodes()
    if like is not None:
        node.SetAndObserveTransformNodeID(like.GetTransformNodeID())
        src, dst = like.GetDisplayNode(), node.GetDisplayNode()
        if not labelmap and src is not None and dst is not None and hasattr(src, "GetWindow"):
            dst.SetAutoWindowLevel(src.GetAutoWindowLevel())
            dst.SetWindowLevel(src.GetWindow(), src.GetLevel())
    return node


def world_to_local_matrix(node) -> np.ndarray:
    """4×4 matrix from world RAS to the node's local RAS (identity when not transformed).

    Raises:
        InputError: the node sits under a non-linear transform (positions cannot be mapped by a matrix).
    """
    parent = node.GetParentTransformNode() if node is not None else None
    if parent is None:
        return np.eye(4)
    if not parent.IsTransformToWorldLinear():
        raise InputError(
            f"volume node '{_node_name(node)}' is under a non-linear transform; harden the transform first"
        )
    m = vtk.vtkMatrix4x4()
    parent.GetMatrixTransformToWorld(m)
    return np.linalg.inv(matrix_to_numpy(m))


def world_to_local_ras(node, points_ras: np.ndarray) -> np.ndarray:
    """Map (N, 3) world RAS points into the local RAS frame of ``node``."""
    pts = np.atleast_2d(np.asarray(points_ras, dtype=np.float64))
    if pts.size == 0:
        return pts.reshape(0, 3)
    m = world_to_local_matrix(node)
    return pts @ m[:3, :3].T + m[:3, 3]
