"""Tumour insertion on MRML nodes: the work behind the SynTumorInsertion panel.

The logic converts the selected nodes to library volumes (``SynTumorLib.mrml``), calls
``SynTumorLib.insertion.insert_tumours`` and puts the result back into the scene as *new* nodes on
the input's geometry: a volume "<input> + tumour" and a segmentation with ``pancreas`` and ``tumour``
segments. The input volume and segmentation are never modified, so Apply can be pressed again (with
another seed) for another tumour. The insertion record — everything needed to replay the result
bit-for-bit — is stored on both output nodes as a JSON attribute and so survives Save/Load.

Usable from the Python console or ``Slicer --no-main-window --python-script``::

    from SynTumorInsertionLib import InsertionLogic
    result = InsertionLogic().insert(ctNode, segNode, seed=3, sizeClass="small")
    print(result.record["seed"], result.volumeNode.GetName())
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from SynTumorLib.data.volume import Volume
from SynTumorLib.mrml import (
    PANCREAS,
    add_volume_node,
    control_points_ras,
    find_segment,
    get_record,
    segment_mask,
    segmentation_from_labelmap,
    set_record,
    volume_from_node,
    world_to_local_ras,
)
from SynTumorLib.utils.errors import InputError
from SynTumorLib.utils.seeding import fresh_seed

SIZE_CLASSES = ("tiny", "small", "medium", "large", "mixed")
SOURCE_ATTRIBUTE = "SynTumor.Source"


@dataclass
class InsertionResult:
    """New nodes made by one insertion and the record that reproduces them."""

    volumeNode: Any
    segmentationNode: Any
    record: dict


class SceneLogic:
    """Logic that works on an MRML scene: ``scene`` (given, or ``slicer.mrmlScene`` in the application).

    Shared with ``SynTumorSegmentationLib`` (its module declares SynTumorInsertion a dependency).
    """

    def __init__(self, scene=None) -> None:
        self._scene = scene

    @property
    def scene(self):
        if self._scene is not None:
            return self._scene
        import slicer

        scene = getattr(slicer, "mrmlScene", None)
        if scene is None:
            raise InputError(f"no MRML scene: pass one to {type(self).__name__}(scene) outside the Slicer application")
        return scene


class InsertionLogic(SceneLogic):
    """Insert synthetic tumours into a CT volume node. ``scene`` defaults to ``slicer.mrmlScene``."""

    # ------------------------------------------------------------------ inputs
    def organLabel(self, imageNode, organNode, pancreasSegmentId: str | None = None, organValue: int = 1) -> Volume:
        """The pancreas as a 0/1 uint8 volume on ``imageNode``'s grid.

        ``organNode`` is a segmentation (segment ``pancreasSegmentId``, or the segment named
        "pancreas") or a label-map volume (voxels equal to ``organValue``, resampled to the CT grid
        when the label map has another geometry).
        """
        if organNode is None:
            raise InputError("select the pancreas segmentation (or label map) of the input volume")
        if organNode.IsA("vtkMRMLSegmentationNode"):
            sid = pancreasSegmentId or find_segment(organNode, PANCREAS)
            if not sid:
                raise InputError(
                    f"segmentation '{organNode.GetName()}' has no segment named 'pancreas'; pick the pancreas segment"
                )
            label = segment_mask(organNode, sid, imageNode)
        elif organNode.IsA("vtkMRMLLabelMapVolumeNode") or organNode.IsA("vtkMRMLScalarVolumeNode"):
            lab = volume_from_node(organNode)
            image = volume_from_node(imageNode)
            mask = lab.with_array((lab.array == organValue).astype(np.uint8))
            if not mask.same_grid(image):
                from SynTumorLib.data.resample import resample_like

                mask = resample_like(mask, image, is_label=True)
            label = image.with_array(np.asarray(mask.array, dtype=np.uint8))
        else:
            raise InputError(f"'{organNode.GetName()}' is neither a segmentation nor a label map")
        if not label.array.any():
            raise InputError(f"the pancreas in '{organNode.GetName()}' is empty on the grid of '{imageNode.GetName()}'")
        return label

    @staticmethod
    def buildSpec(
        sizeClass: str = "medium",
        classes: str | os.PathLike = "syntumor",
        radiiMm: Sequence[float] | None = None,
        count: int | None = 1,
        pointsRas: np.ndarray | None = None,
    ) -> dict:
        """An insertion spec dict (see ``SynTumorLib.insertion.spec.InsertionSpec``).

        With points, one tumour is centred on each point and ``count`` is ignored; without, ``count``
        tumours are placed at random inside the pancreas.
        """
        if sizeClass not in SIZE_CLASSES:
            raise InputError(f"unknown size class {sizeClass!r}; use one of {', '.join(SIZE_CLASSES)}")
        spec: dict[str, Any] = {"size_class": sizeClass, "classes": os.fspath(classes)}
        if radiiMm is not None:
            spec["radii_mm"] = [float(r) for r in radiiMm]
        if pointsRas is not None and len(pointsRas):
            spec["at_ras"] = [[float(x) for x in p] for p in np.asarray(pointsRas).reshape(-1, 3)]
            spec["placement"] = "point"
        else:
            spec["placement"] = "random"
            if count is not None:
                spec["count"] = int(count)
        return spec

    # ------------------------------------------------------------------ the operation
    def insert(
        self,
        imageNode,
        organNode,
        pancreasSegmentId: str | None = None,
        pointsNode=None,
        sizeClass: str = "medium",
        classes: str | os.PathLike = "syntumor",
        radiiMm: Sequence[float] | None = None,
        count: int = 1,
        seed: int | None = None,
        texture: str | os.PathLike = "statistical",
        organValue: int = 1,
    ) -> InsertionResult:
        """Insert tumours and add the result to the scene as new nodes.

        Args:
            imageNode: CT volume node (HU). Not modified.
            organNode: segmentation or label-map node holding the pancreas. Not modified.
            pancreasSegmentId: segment of ``organNode`` to use (default: the one named "pancreas").
            pointsNode: markups point list; each placed point becomes a tumour centre (world RAS).
                None or no points: random placement inside the pancreas.
            sizeClass, classes, radiiMm, count: what to insert (see :meth:`buildSpec`).
            seed: random seed; None draws a fresh one (it is recorded either way).
            texture: ``"statistical"`` or a diffusion model folder.
            organValue: pancreas value when ``organNode`` is a label map.
        """
        from SynTumorLib.insertion import insert_tumours

        if imageNode is None:
            raise InputError("select an input CT volume")
        image = volume_from_node(imageNode)
        organ = self.organLabel(imageNode, organNode, pancreasSegmentId, organValue)
        # markups are in world coordinates; the library works in the volume's own (local) RAS
        points = world_to_local_ras(imageNode, control_points_ras(pointsNode)) if pointsNode is not None else None
        spec = self.buildSpec(sizeClass, classes, radiiMm, count, points)
        seed = fresh_seed() if seed is None else int(seed)
        texture_arg = os.fspath(texture)
        out_image, out_label, record = insert_tumours(image, organ, spec, seed=seed, texture=texture_arg)
        return self._addResult(imageNode, out_image, out_label, record)

    def _addResult(self, imageNode, outImage: Volume, outLabel: Volume, record: dict) -> InsertionResult:
        scene = self.scene
        name = imageNode.GetName()
        volumeNode = add_volume_node(scene, outImage, f"{name} + tumour", like=imageNode)
        segNode = segmentation_from_labelmap(scene, outLabel, f"{name} + tumour segmentation", volumeNode)
        source = {"input_volume": name, "input_volume_id": imageNode.GetID()}
        for node in (volumeNode, segNode):
            set_record(node, record)
            set_record(node, source, SOURCE_ATTRIBUTE)
        return InsertionResult(volumeNode, segNode, record)

    @staticmethod
    def recordOf(node) -> dict | None:
        """The insertion record stored on an output node (None for other nodes)."""
        return get_record(node)
