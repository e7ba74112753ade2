"""Tumour segmentation and inspection on MRML nodes: the work behind the SynTumorSegmentation panel.

Both long steps run in a worker process (``SynTumorCommon.worker``), so Slicer stays responsive and
Cancel works; batch scripts use the blocking forms, which run the very same worker:

* :meth:`SegmentationLogic.startPrediction` writes the CT (and an optional pancreas mask) to a
  temporary folder and returns a job for the worker's ``predict`` task;
  :meth:`SegmentationLogic.loadPrediction` puts its label map back as a segmentation with
  ``pancreas`` and ``tumour`` segments on the input's geometry. :meth:`segment` = both, blocking.
* :meth:`SegmentationLogic.startEvaluation` / :meth:`loadEvaluation` compare a predicted with a
  reference segmentation (worker task ``evaluate``): a metrics table (tumour DSC, NSD at the chosen
  tolerance, HD95, volumes, lesion counts) and a lesion table with one row per reference lesion or
  false positive, including its centre in world RAS, so a click on a row can centre the slice views
  there. :meth:`evaluate` computes the same tables in this process (self-test, small cases).

Batch use (``Slicer --no-main-window --python-script`` or the Python console)::

    from SynTumorSegmentationLib import SegmentationLogic
    logic = SegmentationLogic()
    seg = logic.segment(ctNode, "models/unet", device="cpu")        # blocks
    result = logic.evaluate(seg, referenceSegNode, ctNode)
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from SynTumorCommon.scene import SceneLogic

from SynTumorLib.mrml import (
    LABEL_STYLES,
    PANCREAS,
    TUMOUR,
    add_segment,
    find_segment,
    labelmap_from_segments,
    organ_mask,
    segment_ids,
    segmentation_from_labelmap,
    table_from_rows,
    volume_from_node,
)
from SynTumorLib.utils.errors import InputError

DEVICES = ("auto", "cuda", "cpu")
LESION_COLUMNS = ["Lesion", "Kind", "Volume (ml)", "Radius (mm)", "Detected", "Dice", "R", "A", "S"]


@dataclass
class EvaluationResult:
    metricsTable: Any
    lesionTable: Any
    metrics: dict


def _workFolder(folder, prefix: str) -> tuple[Path, bool]:
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        return path, False
    return Path(tempfile.mkdtemp(prefix=prefix)), True


class SegmentationLogic(SceneLogic):
    """Run a SynTumor segmenter on a volume node and evaluate predictions. ``scene``: default slicer.mrmlScene.

    ``python``: the interpreter of the worker processes (default: PythonSlicer inside Slicer).
    """

    def __init__(self, scene=None, python: str | None = None) -> None:
        super().__init__(scene)
        self.python = python

    # ------------------------------------------------------------------ prediction
    @staticmethod
    def recipeOverlap(modelFolder) -> float | None:
        """The sliding-window overlap a model folder's own recipe asks for (DiffTumor's released
        segmenters: 0.75), or None (a SynTumor-trained model, or no readable card). Reads only the
        card, so the panel can call it whenever the folder changes."""
        import json

        from SynTumorLib.runtime.model_folder import CARD

        try:
            card = json.loads((Path(os.fspath(modelFolder)) / CARD).read_text(encoding="utf-8"))
            overlap = card["config"]["preprocessing"]["overlap"]
        except (OSError, ValueError, TypeError, KeyError):
            return None
        return float(overlap) if isinstance(overlap, (int, float)) and 0.0 <= overlap < 1.0 else None

    def startPrediction(self, inputVolume, modelFolder: str | os.PathLike | None, pancreasNode=None,
                        device: str = "auto", overlap: float = 0.5, workDir: str | os.PathLike | None = None):
        """Check the inputs, write them to ``workDir`` (default: a new temporary folder) and return the
        ``predict`` worker job (not started: ``job.start(...)`` in the panel, ``job.run()`` in scripts)."""
        from SynTumorCommon.worker import WorkerJob

        from SynTumorLib.data.io import write_volume

        if inputVolume is None:
            raise InputError("select the CT volume to segment")
        folder = Path(os.fspath(modelFolder)) if modelFolder is not None and str(modelFolder).strip() else None
        if folder is None or not folder.is_dir():
            raise InputError(f"model folder not found: '{modelFolder or ''}' (train one with the Train module)")
        if device not in DEVICES:
            raise InputError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
        if not 0.0 <= float(overlap) < 1.0:
            raise InputError(f"overlap must be in [0, 1), got {overlap}")
        mask = organ_mask(inputVolume, pancreasNode) if pancreasNode is not None else None
        image = volume_from_node(inputVolume)
        work, owns = _workFolder(workDir, "SynTumorSegmentation-")
        write_volume(image, work / "input_image.nrrd", compress=False)
        args = {"model": str(folder), "image": "input_image.nrrd", "device": device, "overlap": float(overlap)}
        if mask is not None:
            write_volume(mask, work / "input_pancreas.nrrd", compress=False)
            args["pancreas"] = "input_pancreas.nrrd"
        return WorkerJob.forTask("predict", work, args, python=self.python, ownsFolder=owns)

    def loadPrediction(self, job, inputVolume, outputSegmentation=None):
        """Turn a finished job's label map into segments (a new node, or replacing ``outputSegmentation``'s)."""
        from SynTumorLib.data.io import read_volume

        job.check()
        path = job.outputPath("prediction.nrrd")
        label = read_volume(path)
        image = volume_from_node(inputVolume)
        if not label.same_grid(image, atol=1e-4):
            raise InputError(f"the prediction in {path} is not on the grid of '{inputVolume.GetName()}'")
        if outputSegmentation is None:
            return segmentation_from_labelmap(self.scene, label, f"{inputVolume.GetName()} prediction", inputVolume)
        outputSegmentation.GetSegmentation().RemoveAllSegments()
        outputSegmentation.SetReferenceImageGeometryParameterFromVolumeNode(inputVolume)
        for value, style in LABEL_STYLES.items():
            add_segment(outputSegmentation, label.with_array(np.asarray(label.array) == value), style)
        return outputSegmentation

    def segment(self, inputVolume, modelFolder, pancreasNode=None, device: str = "auto", overlap: float = 0.5,
                outputSegmentation=None, progress=None, timeout_s: float | None = None):
        """Blocking convenience for scripts: the ``predict`` worker, run to its end, then loaded."""
        job = self.startPrediction(inputVolume, modelFolder, pancreasNode, device, overlap)
        try:
            job.run(progress=progress, timeout_s=timeout_s)
            return self.loadPrediction(job, inputVolume, outputSegmentation)
        finally:
            job.cleanup()

    # ------------------------------------------------------------------ evaluation
    @staticmethod
    def _label(segmentationNode, referenceVolume, what: str):
        tumour = find_segment(segmentationNode, TUMOUR)
        if tumour is None:
            raise InputError(f"{what} segmentation '{segmentationNode.GetName()}' has no tumour segment; "
                             f"segments: {segment_ids(segmentationNode)}")
        values = {}
        pancreas = find_segment(segmentationNode, PANCREAS)
        if pancreas is not None:
            values[pancreas] = 1
        values[tumour] = 2  # painted last: tumour wins where the two overlap
        return labelmap_from_segments(segmentationNode, values, referenceVolume)

    def _labels(self, predictedSegmentation, referenceSegmentation, referenceVolume):
        if predictedSegmentation is None or referenceSegmentation is None:
            raise InputError("select both the predicted and the reference segmentation")
        if referenceVolume is None:
            raise InputError("select the volume both segmentations belong to")
        return (self._label(predictedSegmentation, referenceVolume, "predicted"),
                self._label(referenceSegmentation, referenceVolume, "reference"))

    def evaluate(self, predictedSegmentation, referenceSegmentation, referenceVolume, toleranceMm: float = 2.0,
                 metricsTable=None, lesionTable=None) -> EvaluationResult:
        """Metrics and lesion tables of a prediction against a reference (both on ``referenceVolume``'s
        grid), computed in this process."""
        from SynTumorLib.metrics import lesion_detection
        from SynTumorLib.metrics.evaluate import evaluate_case

        pred, ref = self._labels(predictedSegmentation, referenceSegmentation, referenceVolume)
        metrics = evaluate_case(pred, ref, tolerance_mm=toleranceMm)
        lesions = lesion_detection(pred.array == 2, ref.array == 2, ref.array_spacing)
        return self._tables(metrics, lesions, ref, referenceVolume, toleranceMm, metricsTable, lesionTable)

    def startEvaluation(self, predictedSegmentation, referenceSegmentation, referenceVolume, toleranceMm: float = 2.0,
                        workDir: str | os.PathLike | None = None):
        """The ``evaluate`` worker job for the same comparison as :meth:`evaluate` (not started)."""
        from SynTumorCommon.worker import WorkerJob

        from SynTumorLib.data.io import write_volume

        pred, ref = self._labels(predictedSegmentation, referenceSegmentation, referenceVolume)
        work, owns = _workFolder(workDir, "SynTumorEvaluation-")
        write_volume(pred, work / "input_prediction.nrrd", compress=False)
        write_volume(ref, work / "input_reference.nrrd", compress=False)
        args = {"prediction": "input_prediction.nrrd", "reference": "input_reference.nrrd",
                "tolerance_mm": float(toleranceMm)}
        return WorkerJob.forTask("evaluate", work, args, python=self.python, ownsFolder=owns)

    def loadEvaluation(self, job, referenceVolume, toleranceMm: float = 2.0, metricsTable=None,
                       lesionTable=None) -> EvaluationResult:
        """The tables of a finished ``evaluate`` job."""
        result = job.result()
        grid = volume_from_node(referenceVolume)
        return self._tables(result["metrics"], result["lesions"], grid, referenceVolume, toleranceMm, metricsTable,
                            lesionTable)

    def _tables(self, m: dict, det: dict, grid, referenceVolume, toleranceMm, metricsTable, lesionTable):
        rows = [
            ["Tumour DSC", m["tumour_dice"]],
            [f"Tumour NSD ({toleranceMm:g} mm)", m["tumour_nsd"]],
            ["Tumour HD95 (mm)", m["tumour_hd95"]],
            ["Tumour mean surface distance (mm)", m["tumour_msd"]],
            ["Pancreas DSC", m["pancreas_dice"]],
            ["Reference tumour volume (ml)", m["ref_tumour_ml"]],
            ["Predicted tumour volume (ml)", m["pred_tumour_ml"]],
            ["Reference lesions", m["n_ref_lesions"]],
            ["Predicted lesions", m["n_pred_lesions"]],
            ["Detected lesions (TP)", m["lesion_tp"]],
            ["Missed lesions (FN)", m["lesion_fn"]],
            ["False-positive lesions", m["lesion_fp"]],
            ["Lesion sensitivity", m["lesion_sensitivity"]],
        ]
        rows = [[name, None if v is None else float(v)] for name, v in rows]
        lesionRows = [self._lesionRow(les, "reference", grid, referenceVolume) for les in det["lesions"]]
        lesionRows += [self._lesionRow(fp, "false positive", grid, referenceVolume) for fp in det["false_positives"]]
        metricsTable = table_from_rows(self.scene, "SynTumor metrics", ["Metric", "Value"], rows, metricsTable)
        lesionTable = table_from_rows(self.scene, "SynTumor lesions", LESION_COLUMNS, lesionRows, lesionTable)
        return EvaluationResult(metricsTable, lesionTable, m)

    @staticmethod
    def _lesionRow(lesion: dict, kind: str, grid, volumeNode) -> list:
        from SynTumorLib.mrml.volumes import world_to_local_matrix

        local = grid.kji_to_ras(np.asarray(lesion["centre_kji"], dtype=float))
        world = np.linalg.inv(world_to_local_matrix(volumeNode)) @ np.r_[local, 1.0]
        detected = lesion.get("detected")
        return [int(lesion["id"]), kind, float(lesion["volume_ml"]), float(lesion["radius_mm"]),
                "" if detected is None else ("yes" if detected else "no"),
                float(lesion.get("dice", 0.0)), *(round(float(x), 3) for x in world[:3])]

    @staticmethod
    def lesionCentre(lesionTable, row: int) -> tuple[float, float, float]:
        """World RAS centre of the lesion in ``row`` of a lesion table made by :meth:`evaluate`."""
        table = lesionTable.GetTable()
        if not 0 <= row < table.GetNumberOfRows():
            raise InputError(f"lesion table has no row {row}")
        cols = [table.GetColumnByName(c) for c in ("R", "A", "S")]
        if any(c is None for c in cols):
            raise InputError(f"'{lesionTable.GetName()}' is not a SynTumor lesion table")
        return tuple(float(c.GetValue(row)) for c in cols)  # type: ignore[return-value]
