"""Tumour insertion on MRML nodes: the work behind the SynTumorInsertion panel.

The logic converts the selected nodes to library volumes (``SynTumorLib.mrml``), calls
``SynTumorLib.insertion.insert_tumours`` and puts the result back into the scene as *new* nodes on
the input's geometry: a volume "<input> + tumour" and a segmentation with ``pancreas`` and ``tumour``
segments. The input volume and segmentation are never modified, so Apply can be pressed again (with
another seed) for another tumour. The insertion record — everything needed to replay the result
bit-for-bit — is stored on both output nodes as a JSON attribute and so survives Save/Load.

Two ways to run it, with identical results:

* :meth:`InsertionLogic.insert` — in this process (the Python console, ``Slicer --no-main-window
  --python-script``, the self-test);
* :meth:`InsertionLogic.startInsertion` → a worker job (the panel: progress bar, Cancel; a diffusion
  texture can take minutes) → :meth:`InsertionLogic.loadInsertion` once the job has finished.

::

    from SynTumorInsertionLib import InsertionLogic
    result = InsertionLogic().insert(ctNode, segNode, seed=3, sizeClass="small")
    print(result.record["seed"], result.volumeNode.GetName())
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from SynTumorCommon.scene import SceneLogic

from SynTumorLib.data.volume import Volume
from SynTumorLib.mrml import (
    add_volume_node,
    control_points_ras,
    get_record,
    organ_mask,
    remove_nodes,
    segmentation_from_labelmap,
    set_record,
    volume_from_node,
    world_to_local_ras,
)
from SynTumorLib.utils.errors import InputError
from SynTumorLib.utils.seeding import fresh_seed

SIZE_CLASSES = ("tiny", "small", "medium", "large", "mixed")
CLASS_PRESETS = ("syntumor", "difftumor")
TEXTURES = ("statistical", "diffusion", "difftumor")
TEXTURE_MODES = ("syntumor", "reference")  # of a DiffTumor texture (difftumor.backend)
SOURCE_ATTRIBUTE = "SynTumor.Source"


@dataclass
class InsertionResult:
    """New nodes made by one insertion and the record that reproduces them."""

    volumeNode: Any
    segmentationNode: Any
    record: dict


@dataclass
class _Prepared:
    image: Volume
    organ: Volume
    spec: dict
    seed: int
    texture: str | dict


class InsertionLogic(SceneLogic):
    """Insert synthetic tumours into a CT volume node. ``scene`` defaults to ``slicer.mrmlScene``."""

    # ------------------------------------------------------------------ inputs
    def organLabel(self, imageNode, organNode, pancreasSegmentId: str | None = None, organValue: int = 1) -> Volume:
        """The pancreas as a 0/1 uint8 volume on ``imageNode``'s grid (``SynTumorLib.mrml.organ_mask``)."""
        return organ_mask(imageNode, organNode, pancreasSegmentId, organValue)

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

    def _prepare(self, imageNode, organNode, pancreasSegmentId, pointsNode, sizeClass, classes, radiiMm, count,
                 seed, texture, organValue) -> _Prepared:
        if imageNode is None:
            raise InputError("select an input CT volume")
        image = volume_from_node(imageNode)
        organ = self.organLabel(imageNode, organNode, pancreasSegmentId, organValue)
        # markups are in world coordinates; the library works in the volume's own (local) RAS
        points = world_to_local_ras(imageNode, control_points_ras(pointsNode)) if pointsNode is not None else None
        spec = self.buildSpec(sizeClass, classes, radiiMm, count, points)
        if isinstance(texture, dict):  # {"name": "difftumor", "config": {"folder": …, "mode": …}}
            folder = (texture.get("config") or {}).get("folder")
            if not folder or not Path(os.fspath(folder)).is_dir():
                raise InputError(f"choose the texture model folder (got {folder!r})")
            texture = {"name": str(texture.get("name", "")), "config": dict(texture["config"], folder=os.fspath(folder))}
        else:
            texture = os.fspath(texture)
            if not texture.strip():
                raise InputError("choose a texture: 'statistical' or a diffusion model folder")
        return _Prepared(image, organ, spec, fresh_seed() if seed is None else int(seed), texture)

    # ------------------------------------------------------------------ in this process
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
        texture: str | os.PathLike | dict = "statistical",
        organValue: int = 1,
        progress=None,
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
            texture: anything ``insert_tumours`` accepts: ``"statistical"``, a diffusion or DiffTumor model
                folder, or ``{"name": "difftumor", "config": {"folder": …, "mode": "reference"}}``
            organValue: pancreas value when ``organNode`` is a label map.
            progress: optional ``(fraction, message)`` callback.
        """
        from SynTumorLib.insertion import insert_tumours

        p = self._prepare(imageNode, organNode, pancreasSegmentId, pointsNode, sizeClass, classes, radiiMm, count,
                          seed, texture, organValue)
        out_image, out_label, record = insert_tumours(p.image, p.organ, p.spec, seed=p.seed, texture=p.texture,
                                                      progress=progress)
        return self._addResult(imageNode, out_image, out_label, record)

    # ------------------------------------------------------------------ in a worker process
    def startInsertion(self, imageNode, organNode, pancreasSegmentId: str | None = None, pointsNode=None,
                       sizeClass: str = "medium", classes: str | os.PathLike = "syntumor",
                       radiiMm: Sequence[float] | None = None, count: int = 1, seed: int | None = None,
                       texture: str | os.PathLike | dict = "statistical", organValue: int = 1,
                       folder: str | os.PathLike | None = None, python: str | None = None):
        """Check the inputs, write them to ``folder`` (default: a new temporary one) and return a
        ``SynTumorCommon.worker.WorkerJob`` for the ``insert`` task (not started yet). Arguments as
        :meth:`insert`; the seed is fixed here, so the record is the same as in this process."""
        from SynTumorCommon.worker import WorkerJob

        from SynTumorLib.data.io import write_volume

        p = self._prepare(imageNode, organNode, pancreasSegmentId, pointsNode, sizeClass, classes, radiiMm, count,
                          seed, texture, organValue)
        owns = folder is None
        work = Path(tempfile.mkdtemp(prefix="SynTumorInsertion-")) if owns else Path(folder)
        work.mkdir(parents=True, exist_ok=True)
        write_volume(p.image, work / "input_image.nrrd", compress=False)
        write_volume(p.organ, work / "input_organ.nrrd", compress=False)
        args = {"image": "input_image.nrrd", "organ": "input_organ.nrrd", "spec": p.spec, "seed": p.seed,
                "texture": p.texture}
        return WorkerJob.forTask("insert", work, args, python=python, ownsFolder=owns)

    def loadInsertion(self, job, imageNode) -> InsertionResult:
        """The finished ``insert`` job's result as new nodes (raises what the worker reported)."""
        from SynTumorLib.data.io import read_volume

        record = job.result()["record"]
        out_image = read_volume(job.outputPath("result_image.nrrd"))
        out_label = read_volume(job.outputPath("result_label.nrrd"))
        if not out_image.same_grid(volume_from_node(imageNode), atol=1e-4):
            raise InputError(f"the inserted volume in {job.folder} is not on the grid of '{imageNode.GetName()}'")
        return self._addResult(imageNode, out_image, out_label, record)

    # ------------------------------------------------------------------ output
    def _addResult(self, imageNode, outImage: Volume, outLabel: Volume, record: dict) -> InsertionResult:
        scene = self.scene
        name = imageNode.GetName()
        added = []
        try:  # all or nothing: a failure half-way leaves no orphan node behind
            volumeNode = add_volume_node(scene, outImage, f"{name} + tumour", like=imageNode)
            added.append(volumeNode)
            segNode = segmentation_from_labelmap(scene, outLabel, f"{name} + tumour segmentation", volumeNode)
            added.append(segNode)
            source = {"input_volume": name, "input_volume_id": imageNode.GetID()}
            for node in (volumeNode, segNode):
                set_record(node, record)
                set_record(node, source, SOURCE_ATTRIBUTE)
        except Exception:
            remove_nodes(scene, added)
            raise
        return InsertionResult(volumeNode, segNode, record)

    @staticmethod
    def recordOf(node) -> dict | None:
        """The insertion record stored on an output node (None for other nodes)."""
        return get_record(node)
