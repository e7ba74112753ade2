"""Tumour segmentation and inspection on MRML nodes: the work behind the SynTumorSegmentation panel.

* :meth:`SegmentationLogic.startPrediction` writes the CT (and an optional pancreas mask) to a
  temporary folder and starts ``predict_worker.py`` in a separate process (PythonSlicer), returning a
  :class:`~.process.PredictionJob` to poll or cancel — the GUI stays responsive throughout.
* :meth:`SegmentationLogic.loadPrediction` puts the worker's label map back as a segmentation with
  ``pancreas`` and ``tumour`` segments on the input's geometry.
* :meth:`SegmentationLogic.evaluate` compares a predicted with a reference segmentation: a metrics
  table (tumour DSC, NSD at the chosen tolerance, HD95, volumes, lesion counts) and a lesion table with
  one row per reference lesion or false positive, including its centre in world RAS, so a click on a
  row can centre the slice views there.

Batch use (``Slicer --no-main-window --python-script`` or the Python console)::

    from SynTumorSegmentationLib import SegmentationLogic
    logic = SegmentationLogic()
    seg = logic.segment(ctNode, "models/unet", device="cpu")        # blocks, prints nothing
    metrics, lesions, result = logic.evaluate(seg, referenceSegNode, ctNode)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from SynTumorInsertionLib.logic import SceneLogic

import SynTumorLib
from SynTumorLib.mrml import (
    LABEL_STYLES,
    PANCREAS,
    TUMOUR,
    add_segment,
    find_segment,
    labelmap_from_segments,
    segment_ids,
    segmentation_from_labelmap,
    table_from_rows,
    volume_from_node,
)
from SynTumorLib.utils.errors import InputError

from .process import PredictionJob

WORKER = Path(__file__).resolve().parent / "predict_worker.py"
DEVICES = ("auto", "cuda", "cpu")
LESION_COLUMNS = ["Lesion", "Kind", "Volume (ml)", "Radius (mm)", "Detected", "Dice", "R", "A", "S"]


@dataclass
class EvaluationResult:
    metricsTable: Any
    lesionTable: Any
    metrics: dict


def default_python() -> str:
    """The interpreter that runs the worker: PythonSlicer inside Slicer, this Python elsewhere."""
    if "PythonSlicer" in os.path.basename(sys.executable):
        return sys.executable
    found = shutil.which("PythonSlicer")
    if found:
        return found
    try:
        import slicer

        app = getattr(slicer, "app", None)
        if app is not None:
            candidate = Path(app.applicationDirPath) / ("PythonSlicer.exe" if os.name == "nt" else "PythonSlicer")
            if candidate.exists():
                return str(candidate)
    except ImportError:
        pass
    return sys.executable


class SegmentationLogic(SceneLogic):
    """Run a SynTumor segmenter on a volume node and evaluate predictions. ``scene``: default slicer.mrmlScene."""

    def __init__(self, scene=None, python: str | None = None) -> None:
        super().__init__(scene)
        self.python = python

    # ------------------------------------------------------------------ prediction
    def buildCommand(self, modelFolder: str | os.PathLike, imagePath: str, outPath: str, pancreasPath: str | None,
                     device: str, overlap: float) -> list[str]:
        cmd = [self.python or default_python(), str(WORKER), "--model", os.fspath(modelFolder), "--image", imagePath,
               "--out", outPath, "--device", device, "--overlap", f"{float(overlap):g}"]
        if pancreasPath:
            cmd += ["--pancreas", pancreasPath]
        return cmd

    def startPrediction(self, inputVolume, modelFolder: str | os.PathLike, pancreasNode=None, device: str = "auto",
                        overlap: float = 0.5, workDir: str | os.PathLike | None = None) -> PredictionJob:
        """Write the inputs to ``workDir`` (default: a new temporary folder) and start the worker."""
        from SynTumorLib.data.io import write_volume

        if inputVolume is None:
            raise InputError("select the CT volume to segment")
        folder = Path(os.fspath(modelFolder)) if modelFolder else None
        if folder is None or str(folder) in ("", ".") or not folder.is_dir():
            raise InputError(f"model folder not found: '{modelFolder}' (train one with the Train module)")
        if device not in DEVICES:
            raise InputError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
        if not 0.0 <= float(overlap) < 1.0:
            raise InputError(f"overlap must be in [0, 1), got {overlap}")
        ownsWorkDir = not workDir
        work = Path(workDir) if workDir else Path(tempfile.mkdtemp(prefix="SynTumorSegmentation-"))
        work.mkdir(parents=True, exist_ok=True)
        image = volume_from_node(inputVolume)
        imagePath = str(write_volume(image, work / "image.nrrd"))
        pancreasPath = None
        if pancreasNode is not None:
            from SynTumorInsertionLib.logic import (
                InsertionLogic,  # one definition of "the pancreas of a node"
            )

            mask = InsertionLogic(self.scene).organLabel(inputVolume, pancreasNode)
            pancreasPath = str(write_volume(mask, work / "pancreas.nrrd"))
        outPath = str(work / "prediction.nrrd")
        env = dict(os.environ)
        # the worker must import the same SynTumorLib as this process (the extension's bundled copy)
        libParent = str(Path(SynTumorLib.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([libParent, *filter(None, [env.get("PYTHONPATH")])])
        job = PredictionJob(self.buildCommand(folder, imagePath, outPath, pancreasPath, device, overlap), outPath, env,
                            workDir=str(work), ownsWorkDir=ownsWorkDir)
        return job.start()

    def loadPrediction(self, job: PredictionJob, inputVolume, outputSegmentation=None):
        """Turn a finished job's label map into segments (a new node, or replacing ``outputSegmentation``'s)."""
        from SynTumorLib.data.io import read_volume

        try:
            job.check()
            label = read_volume(job.outputPath)
        finally:
            job.cleanup()  # the label is in memory now; the temporary folder is not needed any more
        image = volume_from_node(inputVolume)
        if not label.same_grid(image):
            raise InputError(f"the prediction in {job.outputPath} is not on the grid of '{inputVolume.GetName()}'")
        if outputSegmentation is None:
            return segmentation_from_labelmap(self.scene, label, f"{inputVolume.GetName()} prediction", inputVolume)
        outputSegmentation.GetSegmentation().RemoveAllSegments()
        outputSegmentation.SetReferenceImageGeometryParameterFromVolumeNode(inputVolume)
        for value, style in LABEL_STYLES.items():
            add_segment(outputSegmentation, label.with_array(np.asarray(label.array) == value), style)
        return outputSegmentation

    def segment(self, inputVolume, modelFolder, pancreasNode=None, device: str = "auto", overlap: float = 0.5,
                outputSegmentation=None, progress=None, timeout_s: float | None = None):
        """Blocking convenience for scripts: start, wait (forwarding progress), load."""
        job = self.startPrediction(inputVolume, modelFolder, pancreasNode, device, overlap)
        try:
            job.wait(progress=progress, timeout_s=timeout_s)
        except BaseException:
            job.cancel()
            job.cleanup()
            raise
        return self.loadPrediction(job, inputVolume, outputSegmentation)

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

    def evaluate(self, predictedSegmentation, referenceSegmentation, referenceVolume, toleranceMm: float = 2.0,
                 metricsTable=None, lesionTable=None) -> EvaluationResult:
        """Metrics and lesion tables of a prediction against a reference (both on ``referenceVolume``'s grid)."""
        from SynTumorLib.metrics import lesion_detection
        from SynTumorLib.metrics.evaluate import evaluate_case

        if predictedSegmentation is None or referenceSegmentation is None:
            raise InputError("select both the predicted and the reference segmentation")
        if referenceVolume is None:
            raise InputError("select the volume both segmentations belong to")
        pred = self._label(predictedSegmentation, referenceVolume, "predicted")
        ref = self._label(referenceSegmentation, referenceVolume, "reference")
        m = evaluate_case(pred, ref, tolerance_mm=toleranceMm)
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
        metricsTable = table_from_rows(self.scene, "SynTumor metrics", ["Metric", "Value"], rows, metricsTable)
        det = lesion_detection(pred.array == 2, ref.array == 2, ref.array_spacing)
        lesionRows = [self._lesionRow(les, "reference", ref, referenceVolume) for les in det["lesions"]]
        lesionRows += [self._lesionRow(fp, "false positive", ref, referenceVolume) for fp in det["false_positives"]]
        lesionTable = table_from_rows(self.scene, "SynTumor lesions", LESION_COLUMNS, lesionRows, lesionTable)
        return EvaluationResult(metricsTable, lesionTable, m)

    @staticmethod
    def _lesionRow(lesion: dict, kind: str, grid, volumeNode) -> list:
        from SynTumorLib.mrml.volumes import world_to_local_matrix

        local = grid.kji_to_ras(lesion["centre_kji"])
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
