"""SynTumorInsertion — insert synthetic pancreatic tumours into a CT, point-and-click or at random.

Module (metadata + sample data), a thin widget, the module logic (parameter node) and a self-test.
The work is done by ``SynTumorInsertionLib`` (Qt-free) in a background worker process.

Slicer runs this file when it starts, including a Slicer older than 5.10 (Python 3.9): everything
SynTumor needs beyond Slicer's own Python layer is imported only after the version check, so an
old Slicer shows "needs Slicer 5.10 or later" in the module's help and panel instead of a traceback.
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


class SynTumorInsertion(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Tumour Insertion")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "SynTumor")]
        self.parent.dependencies = []
        self.parent.contributors = ["SynTumor developers"]
        self.parent.helpText = _(
            "Insert synthetic pancreatic tumours into a CT: pick the CT and its pancreas segmentation, a size class "
            "and a seed, optionally click tumour centres in the slice views, then Apply. The result is a new volume "
            "and segmentation; the input is never modified, and the record to reproduce the result is saved with "
            "the scene."
        )
        self.parent.acknowledgementText = _(
            "Implements the study 'Optimizing Synthetic Data for Enhanced Pancreatic Tumor Segmentation' "
            "(Peng, Zhang et al.), building on DiffTumor (Chen et al. 2024)."
        )
        problem = slicerVersionProblem()
        if problem:
            self.parent.helpText = problem
            return
        slicer.app.connect("startupCompleted()", registerSampleData)


def registerSampleData():
    """Offer the procedural abdominal phantom in Sample Data (generated on the machine, no download)."""
    from SynTumorInsertionLib.sample_data import registerPhantomSample

    registerPhantomSample(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Resources", "Icons",
                                       "SynTumorInsertion.png"))


class SynTumorInsertionWidget(ParameterNodeWidget):
    DEFAULT_NODES = {"inputVolume": "vtkMRMLScalarVolumeNode", "organNode": "vtkMRMLSegmentationNode"}

    def __init__(self, parent=None) -> None:
        self._pointsNode = None
        ParameterNodeWidget.__init__(self, parent)

    def setup(self) -> None:
        if not self.setupPanel(SynTumorInsertionLogic):
            return
        # the segment list follows the "Pancreas" selector above it; its own node selector would duplicate it
        self.ui.pancreasSegmentSelector.setSegmentationNodeSelectorVisible(False)
        self.ui.organSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onOrganChanged)
        self.ui.pancreasSegmentSelector.connect("currentSegmentChanged(QString)", self.onSegmentChanged)
        self.ui.pointsSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onPointsChanged)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.downloadTextureButton.connect("clicked(bool)", self.onDownloadTextureButton)
        self.initializeParameterNode()

    def onOrganChanged(self, node) -> None:
        """Show the segment list for a segmentation (the saved segment, else "pancreas"); hide it for a label map."""
        isSegmentation = node is not None and node.IsA("vtkMRMLSegmentationNode")
        self.ui.pancreasSegmentSelector.setVisible(isSegmentation)
        self.ui.pancreasSegmentLabel.setVisible(isSegmentation)
        if not isSegmentation:
            return
        from SynTumorLib.mrml import PANCREAS, find_segment

        saved = self._parameterNode.pancreasSegmentId if self._parameterNode else ""
        self.ui.pancreasSegmentSelector.setCurrentNode(node)
        segmentId = saved if saved and node.GetSegmentation().GetSegment(saved) else find_segment(node, PANCREAS)
        if segmentId:
            self.ui.pancreasSegmentSelector.setCurrentSegmentID(segmentId)

    def onSegmentChanged(self, segmentId) -> None:
        if self._parameterNode is not None:
            self._parameterNode.pancreasSegmentId = segmentId or ""

    def onPointsChanged(self, node) -> None:
        """Let the place widget add points to the chosen list; follow its points (count is unused with points)."""
        self.ui.placeWidget.setCurrentNode(node)
        events = (slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, slicer.vtkMRMLMarkupsNode.PointRemovedEvent)
        if self._pointsNode is not None:
            for e in events:
                self.removeObserver(self._pointsNode, e, self.updateGui)
        self._pointsNode = node
        if node is not None:
            for e in events:
                self.addObserver(node, e, self.updateGui)
        self.updateGui()

    def updateGui(self, caller=None, event=None) -> None:
        p = self._parameterNode
        ready = bool(p and p.inputVolume and p.organNode) and not self.busy
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Insert tumours") if ready else _("Select the CT and its pancreas segmentation")
        self.ui.cancelButton.enabled = self.busy
        self.ui.downloadTextureButton.enabled = not self.busy
        if p:
            for w in (self.ui.radiusXSpinBox, self.ui.radiusYSpinBox, self.ui.radiusZSpinBox):
                w.enabled = p.useRadii
            self.ui.diffusionModelPathLineEdit.enabled = p.textureBackend in ("diffusion", "difftumor")
            self.ui.textureModeComboBox.enabled = p.textureBackend == "difftumor"
            self.ui.countSpinBox.enabled = not (p.tumourPoints and p.tumourPoints.GetNumberOfControlPoints())
            selector = self.ui.pancreasSegmentSelector
            if p.pancreasSegmentId and selector.currentSegmentID() != p.pancreasSegmentId:
                selector.setCurrentSegmentID(p.pancreasSegmentId)

    def onDownloadTextureButton(self) -> None:
        from SynTumorCommon.dependencies import ensureDependencies
        from SynTumorCommon.model_download import offerDownload

        self.attempt(_("Could not start the download."), offerDownload, self, "texture", self._onTextureDownloaded,
                     beforeStart=lambda: ensureDependencies(withTorch=True))

    def _onTextureDownloaded(self, folder) -> None:
        if self._parameterNode is not None:
            self._parameterNode.textureBackend = "difftumor"
            self._parameterNode.diffusionModelFolder = folder
        self.showStatus(_("Downloaded and imported: {folder}").format(folder=folder))

    def onApplyButton(self) -> None:
        self.attempt(_("Tumour insertion failed."), self._startInsertion)

    def _startInsertion(self) -> None:
        from SynTumorCommon.dependencies import ensureDependencies

        from SynTumorLib.utils.errors import InputError

        p = self._parameterNode
        diffusion = p.textureBackend in ("diffusion", "difftumor")
        if diffusion and p.diffusionModelFolder is None:
            raise InputError("select the DiffTumor model folder (imported with 'syntumor models import difftumor')"
                             if p.textureBackend == "difftumor" else
                             "select the diffusion model folder (trained with 'syntumor train diffusion')")
        texture = str(p.diffusionModelFolder) if diffusion else "statistical"
        if p.textureBackend == "difftumor":  # the worker's get_texture picks the DiffTumor backend by the card
            texture = {"name": "difftumor", "config": {"folder": texture, "mode": p.textureMode}}
        inputVolume = p.inputVolume
        job = self.logic.insertion.startInsertion(
            inputVolume,
            p.organNode,
            pancreasSegmentId=p.pancreasSegmentId or None,
            pointsNode=p.tumourPoints,
            sizeClass=p.sizeClass,
            classes=str(p.classesFile) if p.classesFile is not None else p.classesPreset,
            radiiMm=(p.radiusX, p.radiusY, p.radiusZ) if p.useRadii else None,
            count=p.count,
            seed=p.seed,
            texture=texture,
        )  # checks (and writes) the inputs first: nothing is offered for installation for bad input
        try:
            installed = ensureDependencies(withTorch=diffusion)
        except Exception:
            job.cleanup()
            raise
        if not installed:
            job.cleanup()
            self.showStatus(_("Not inserted: the Python packages it needs were not installed."))
            return
        self.startJob(job, lambda j: self._onInserted(j, inputVolume), _("Inserting…"), _("Tumour insertion failed."))

    def _onInserted(self, job, inputVolume) -> None:
        result = self.logic.insertion.loadInsertion(job, inputVolume)
        slicer.util.setSliceViewerLayers(background=result.volumeNode)
        self.showStatus(_("Inserted with seed {seed} → {name}").format(
            seed=result.record.get("seed"), name=result.volumeNode.GetName()))
        p = self._parameterNode
        if p is not None and p.advanceSeed:  # so that the next Apply gives another tumour
            from SynTumorInsertionLib.parameters import MAX_SEED

            p.seed = (p.seed + 1) % (MAX_SEED + 1)


class SynTumorInsertionLogic(ScriptedLoadableModuleLogic):
    """Slicer's parameter-node plumbing; the work is ``self.insertion`` (the Qt-free ``InsertionLogic``)."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        from SynTumorInsertionLib.logic import InsertionLogic

        self.insertion = InsertionLogic()

    def getParameterNode(self):
        from SynTumorInsertionLib.parameters import SynTumorInsertionParameterNode

        return SynTumorInsertionParameterNode(super().getParameterNode())


class SynTumorInsertionTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_InsertAtPointOnPhantom()

    def test_InsertAtPointOnPhantom(self):
        from SynTumorInsertionLib.selftest import check_insertion_on_phantom

        self.delayDisplay("Inserting a tumour at a point in the phantom")
        result = check_insertion_on_phantom(slicer.mrmlScene)
        slicer.util.setSliceViewerLayers(background=result.volumeNode, fit=True)
        self.delayDisplay("Test passed")
