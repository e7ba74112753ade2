"""SynTumorSegmentation — segment pancreas and tumour with a trained SynTumor model and inspect the result
against a reference: metrics and a lesion table whose rows centre the views on each lesion. Both the
segmentation and the evaluation run in a separate process, with progress and Cancel.

Slicer runs this file when it starts, including a Slicer older than 5.10 (Python 3.9): everything
SynTumor needs beyond Slicer's own Python layer is imported only after the version check.
"""

import os
import sys

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
)

try:
    import SynTumorCommon  # noqa: F401  (an installed extension packages it beside the modules)
except ImportError:  # a development checkout: only this module's folder is on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from SynTumorCommon.compat import slicerVersionProblem  # noqa: E402
from SynTumorCommon.widget_base import ParameterNodeWidget  # noqa: E402


class SynTumorSegmentation(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Tumour Segmentation")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "SynTumor")]
        self.parent.dependencies = []
        self.parent.contributors = ["SynTumor developers"]
        self.parent.helpText = _(
            "Segment the pancreas and pancreatic tumours with a model trained by SynTumor, or with one of DiffTumor's "
            "released segmenters ('Download a published model…' asks before it downloads). Segmentation and "
            "evaluation run in a separate process (the application stays responsive; Cancel stops them). With a "
            "reference segmentation, Evaluate fills a metrics table (DSC, NSD, volumes, lesion detection) and a "
            "lesion table: click a lesion to centre the views on it."
        )
        self.parent.acknowledgementText = _("Metrics follow the study: DSC and NSD (DeepMind definition, 2 mm).")
        problem = slicerVersionProblem()
        if problem:
            self.parent.helpText = problem


class SynTumorSegmentationWidget(ParameterNodeWidget):
    DEFAULT_NODES = {"inputVolume": "vtkMRMLScalarVolumeNode"}

    def setup(self) -> None:
        if not self.setupPanel(SynTumorSegmentationLogic):
            return
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.evaluateButton.connect("clicked(bool)", self.onEvaluateButton)
        self.ui.downloadModelButton.connect("clicked(bool)", self.onDownloadModelButton)
        self.ui.metricsTableSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.ui.metricsTableView.setMRMLTableNode)
        self.ui.lesionTableSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.ui.lesionTableView.setMRMLTableNode)
        self.ui.lesionTableView.connect("clicked(QModelIndex)", self.onLesionClicked)
        self.initializeParameterNode()

    def updateGui(self, caller=None, event=None) -> None:
        p = self._parameterNode
        folder = p.modelFolder if p else None
        if folder != getattr(self, "_recipeFolder", None):
            # a model folder that brings its own recipe (DiffTumor's networks: overlap 0.75) sets the
            # overlap when it is chosen; the user may still change it afterwards
            self._recipeFolder = folder
            overlap = self.logic.segmentation.recipeOverlap(folder) if folder is not None else None
            if overlap is not None and abs(p.overlap - overlap) > 1e-9:
                p.overlap = overlap
                return  # setting it modifies the node, which calls updateGui again
        self.ui.applyButton.enabled = bool(p and p.inputVolume and p.modelFolder is not None) and not self.busy
        self.ui.cancelButton.enabled = self.busy
        self.ui.downloadModelButton.enabled = not self.busy
        self.ui.evaluateButton.enabled = bool(p and p.outputSegmentation and p.referenceSegmentation
                                              and p.inputVolume) and not self.busy

    # ------------------------------------------------------------------ segmentation
    def onApplyButton(self) -> None:
        self.attempt(_("Could not start the segmentation."), self._startPrediction)

    def _startPrediction(self) -> None:
        from SynTumorCommon.dependencies import ensureDependencies

        p = self._parameterNode
        inputVolume = p.inputVolume
        # the inputs are checked (and written) first: nothing is offered for installation for bad input
        job = self.logic.segmentation.startPrediction(inputVolume, p.modelFolder, p.pancreasNode, p.device, p.overlap)
        try:
            installed = ensureDependencies(withTorch=True)
        except Exception:
            job.cleanup()
            raise
        if not installed:
            job.cleanup()
            self.showStatus(_("Not segmented: the Python packages it needs were not installed."))
            return
        self.startJob(job, lambda j: self._onPredicted(j, inputVolume), _("Segmenting…"), _("Segmentation failed."))

    def _onPredicted(self, job, inputVolume) -> None:
        p = self._parameterNode
        target = p.outputSegmentation if p is not None else None
        segmentation = self.logic.segmentation.loadPrediction(job, inputVolume, target)
        if p is not None:
            p.outputSegmentation = segmentation
        self.showStatus(_("Done: {name}").format(name=segmentation.GetName()))

    # ------------------------------------------------------------------ published models
    def onDownloadModelButton(self) -> None:
        from SynTumorCommon.dependencies import ensureDependencies
        from SynTumorCommon.model_download import offerDownload

        self.attempt(_("Could not start the download."), offerDownload, self, "segmenter", self._onModelDownloaded,
                     beforeStart=lambda: ensureDependencies(withTorch=True))

    def _onModelDownloaded(self, folder) -> None:
        if self._parameterNode is not None:
            self._parameterNode.modelFolder = folder
        self.showStatus(_("Downloaded and imported: {folder}").format(folder=folder))

    # ------------------------------------------------------------------ evaluation
    def onEvaluateButton(self) -> None:
        self.attempt(_("Evaluation failed."), self._startEvaluation)

    def _startEvaluation(self) -> None:
        p = self._parameterNode
        volume, tolerance = p.inputVolume, p.toleranceMm
        job = self.logic.segmentation.startEvaluation(p.outputSegmentation, p.referenceSegmentation, volume, tolerance)
        self.startJob(job, lambda j: self._onEvaluated(j, volume, tolerance), _("Evaluating…"), _("Evaluation failed."))

    def _onEvaluated(self, job, volume, tolerance) -> None:
        p = self._parameterNode
        result = self.logic.segmentation.loadEvaluation(job, volume, tolerance, p.metricsTable if p else None,
                                                        p.lesionTable if p else None)
        if p is not None:
            p.metricsTable, p.lesionTable = result.metricsTable, result.lesionTable
        self.ui.metricsTableView.setMRMLTableNode(result.metricsTable)
        self.ui.lesionTableView.setMRMLTableNode(result.lesionTable)
        self.showStatus(_("Evaluated: tumour DSC {dice:.3f}").format(dice=result.metrics["tumour_dice"]))

    def onLesionClicked(self, index) -> None:
        table = self._parameterNode.lesionTable if self._parameterNode else None
        if table is None:
            return
        r, a, s = self.logic.segmentation.lesionCentre(table, index.row())
        slicer.modules.markups.logic().JumpSlicesToLocation(r, a, s, True)


class SynTumorSegmentationLogic(ScriptedLoadableModuleLogic):
    """Slicer's parameter-node plumbing; the work is ``self.segmentation`` (the Qt-free ``SegmentationLogic``)."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        from SynTumorSegmentationLib.logic import SegmentationLogic

        self.segmentation = SegmentationLogic()

    def getParameterNode(self):
        from SynTumorSegmentationLib.parameters import SynTumorSegmentationParameterNode

        return SynTumorSegmentationParameterNode(super().getParameterNode())


class SynTumorSegmentationTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_EvaluatePhantom()

    def test_EvaluatePhantom(self):
        """Evaluation and lesion navigation on the phantom (inference needs a trained model folder)."""
        from SynTumorSegmentationLib.logic import SegmentationLogic
        from SynTumorSegmentationLib.selftest import check_evaluation_on_phantom

        result = check_evaluation_on_phantom(slicer.mrmlScene)
        r, a, s = SegmentationLogic.lesionCentre(result.lesionTable, 0)
        slicer.modules.markups.logic().JumpSlicesToLocation(r, a, s, True)
        self.delayDisplay("Test passed")
