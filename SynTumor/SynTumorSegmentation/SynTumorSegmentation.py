"""SynTumorSegmentation — segment pancreas and tumour with a trained SynTumor model (in a separate
process, with progress and Cancel) and inspect the result against a reference: metrics and a
lesion table whose rows centre the views on each lesion."""

import pathlib
from typing import Annotated, Union

import qt
import slicer
from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
)
from SynTumorInsertionLib.widget_base import ParameterNodeWidget
from SynTumorSegmentationLib.logic import DEVICES, SegmentationLogic

POLL_INTERVAL_MS = 250


class SynTumorSegmentation(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Tumour Segmentation")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "SynTumor")]
        # SynTumorInsertion provides the dependency installer and the pancreas-mask helper
        self.parent.dependencies = ["SynTumorInsertion"]
        self.parent.contributors = ["SynTumor developers"]
        self.parent.helpText = _(
            "Segment the pancreas and pancreatic tumours with a model trained by SynTumor. Inference runs in a "
            "separate process (the application stays responsive; Cancel stops it). With a reference segmentation, "
            "Evaluate fills a metrics table (DSC, NSD, volumes, lesion detection) and a lesion table: click a "
            "lesion to centre the views on it."
        )
        self.parent.acknowledgementText = _("Metrics follow the study: DSC and NSD (DeepMind definition, 2 mm).")


@parameterNodeWrapper
class SynTumorSegmentationParameterNode:
    modelFolder: pathlib.Path
    device: Annotated[str, Choice(list(DEVICES))] = "auto"
    overlap: Annotated[float, WithinRange(0.0, 0.9)] = 0.5
    inputVolume: vtkMRMLScalarVolumeNode
    pancreasNode: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode]
    outputSegmentation: vtkMRMLSegmentationNode
    referenceSegmentation: vtkMRMLSegmentationNode
    toleranceMm: Annotated[float, WithinRange(0.5, 10.0)] = 2.0
    metricsTable: vtkMRMLTableNode
    lesionTable: vtkMRMLTableNode


class SynTumorSegmentationWidget(ParameterNodeWidget):
    DEFAULT_NODES = {"inputVolume": "vtkMRMLScalarVolumeNode"}

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.job = None
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_INTERVAL_MS)

    def setup(self) -> None:
        self.setupPanel(SynTumorSegmentationLogic())
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.evaluateButton.connect("clicked(bool)", self.onEvaluateButton)
        self.ui.metricsTableSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.ui.metricsTableView.setMRMLTableNode)
        self.ui.lesionTableSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.ui.lesionTableView.setMRMLTableNode)
        self.ui.lesionTableView.connect("clicked(QModelIndex)", self.onLesionClicked)
        self.timer.connect("timeout()", self.onPoll)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.timer.stop()
        if self.job is not None:
            self.job.cancel()
        super().cleanup()

    def updateGui(self, caller=None, event=None) -> None:
        p = self._parameterNode
        busy = self.job is not None
        self.ui.applyButton.enabled = bool(p and p.inputVolume and str(p.modelFolder) not in ("", ".")) and not busy
        self.ui.cancelButton.enabled = busy
        self.ui.evaluateButton.enabled = bool(p and p.outputSegmentation and p.referenceSegmentation and p.inputVolume)

    # ------------------------------------------------------------------ inference in a separate process
    def onApplyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not start the segmentation."), waitCursor=True):
            from SynTumorInsertionLib.dependencies import ensureDependencies

            if not ensureDependencies(withTorch=True):
                return
            p = self._parameterNode
            self.job = self.logic.startPrediction(p.inputVolume, p.modelFolder, p.pancreasNode, p.device, p.overlap)
            self.ui.progressBar.value = 0
            self.ui.statusLabel.text = _("Segmenting…")
            self.timer.start()
            self.updateGui()

    def onPoll(self) -> None:
        job = self.job
        if job is None:
            self.timer.stop()
            return
        running = job.poll()
        self.ui.progressBar.value = int(round(100 * job.fraction))
        if job.message:
            self.ui.statusLabel.text = job.message
        if running:
            return
        self.timer.stop()
        self.job = None
        self.updateGui()
        if job.cancelled:
            job.cleanup()
            self.ui.statusLabel.text = _("Cancelled.")
            return
        with slicer.util.tryWithErrorDisplay(_("Segmentation failed."), waitCursor=True):
            p = self._parameterNode
            p.outputSegmentation = self.logic.loadPrediction(job, p.inputVolume, p.outputSegmentation)
            self.ui.statusLabel.text = _("Done: {name}").format(name=p.outputSegmentation.GetName())

    def onCancelButton(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.onPoll()

    # ------------------------------------------------------------------ evaluation
    def onEvaluateButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Evaluation failed."), waitCursor=True):
            from SynTumorInsertionLib.dependencies import ensureDependencies

            if not ensureDependencies():
                return
            p = self._parameterNode
            result = self.logic.evaluate(p.outputSegmentation, p.referenceSegmentation, p.inputVolume,
                                         p.toleranceMm, p.metricsTable, p.lesionTable)
            p.metricsTable, p.lesionTable = result.metricsTable, result.lesionTable
            self.ui.metricsTableView.setMRMLTableNode(result.metricsTable)
            self.ui.lesionTableView.setMRMLTableNode(result.lesionTable)

    def onLesionClicked(self, index) -> None:
        table = self._parameterNode.lesionTable if self._parameterNode else None
        if table is None:
            return
        r, a, s = self.logic.lesionCentre(table, index.row())
        slicer.modules.markups.logic().JumpSlicesToLocation(r, a, s, True)


class SynTumorSegmentationLogic(ScriptedLoadableModuleLogic, SegmentationLogic):
    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        SegmentationLogic.__init__(self)

    def getParameterNode(self):
        return SynTumorSegmentationParameterNode(super().getParameterNode())


class SynTumorSegmentationTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_EvaluatePhantom()

    def test_EvaluatePhantom(self):
        """Evaluation and lesion navigation on the phantom (inference needs a trained model folder)."""
        from SynTumorSegmentationLib.selftest import check_evaluation_on_phantom

        result = check_evaluation_on_phantom(slicer.mrmlScene)
        r, a, s = SynTumorSegmentationLogic.lesionCentre(result.lesionTable, 0)
        slicer.modules.markups.logic().JumpSlicesToLocation(r, a, s, True)
        self.delayDisplay("Test passed")
