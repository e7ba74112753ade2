"""SynTumorInsertion — insert synthetic pancreatic tumours into a CT, point-and-click or at random.

Module (metadata + sample data), parameter node, a thin widget, the logic (in
``SynTumorInsertionLib``, Qt-free) and a self-test on the procedural phantom.
"""

import pathlib
from typing import Annotated, Union

import slicer
from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
)
from SynTumorInsertionLib.logic import SIZE_CLASSES, InsertionLogic
from SynTumorInsertionLib.widget_base import ParameterNodeWidget

PHANTOM_SAMPLE = "SynTumorPhantom"


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
        slicer.app.connect("startupCompleted()", registerSampleData)


def registerSampleData():
    """Offer the procedural abdominal phantom in Sample Data (generated on the machine, no download)."""
    import SampleData

    def generatePhantom(source):
        from SynTumorInsertionLib.dependencies import ensureDependencies

        if not ensureDependencies():  # the phantom generator needs scipy
            return []
        from SynTumorLib.data.phantom import generate_case
        from SynTumorLib.mrml import add_volume_node, segmentation_from_labelmap

        image, label, _info = generate_case(seed=0, tumours=0)
        volumeNode = add_volume_node(slicer.mrmlScene, image, PHANTOM_SAMPLE)
        segmentation_from_labelmap(slicer.mrmlScene, label, f"{PHANTOM_SAMPLE} segmentation", volumeNode)
        slicer.util.setSliceViewerLayers(background=volumeNode, fit=True)
        return [volumeNode]

    iconsPath = pathlib.Path(__file__).parent / "Resources" / "Icons"
    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category="SynTumor",
        sampleName=PHANTOM_SAMPLE,
        uris="syntumor://phantom",  # never fetched: the custom downloader generates the data
        fileNames="SynTumorPhantom.nrrd",
        nodeNames=PHANTOM_SAMPLE,
        thumbnailFileName=str(iconsPath / "SynTumorInsertion.png"),
        customDownloader=generatePhantom,
    )


@parameterNodeWrapper
class SynTumorInsertionParameterNode:
    """Everything the panel shows; saved with the scene."""

    inputVolume: vtkMRMLScalarVolumeNode
    organNode: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode]
    tumourPoints: vtkMRMLMarkupsFiducialNode
    sizeClass: Annotated[str, Choice(list(SIZE_CLASSES))] = "medium"
    classesPreset: Annotated[str, Choice(["syntumor", "difftumor"])] = "syntumor"
    classesFile: pathlib.Path
    useRadii: bool = False
    radiusX: Annotated[float, WithinRange(0.5, 80.0)] = 10.0
    radiusY: Annotated[float, WithinRange(0.5, 80.0)] = 10.0
    radiusZ: Annotated[float, WithinRange(0.5, 80.0)] = 10.0
    count: Annotated[int, WithinRange(1, 10)] = 1
    seed: Annotated[int, WithinRange(0, 2**31 - 1)] = 0
    advanceSeed: bool = True
    textureBackend: Annotated[str, Choice(["statistical", "diffusion"])] = "statistical"
    diffusionModelFolder: pathlib.Path


def _isSet(path: pathlib.Path | None) -> bool:
    return path is not None and str(path) not in ("", ".")


class SynTumorInsertionWidget(ParameterNodeWidget):
    DEFAULT_NODES = {"inputVolume": "vtkMRMLScalarVolumeNode", "organNode": "vtkMRMLSegmentationNode"}
    _POINT_EVENTS = (slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, slicer.vtkMRMLMarkupsNode.PointRemovedEvent)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._pointsNode = None

    def setup(self) -> None:
        self.setupPanel(SynTumorInsertionLogic())
        # the segment list follows the "Pancreas" selector above it; its own node selector would duplicate it
        self.ui.pancreasSegmentSelector.setSegmentationNodeSelectorVisible(False)
        self.ui.organSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onOrganChanged)
        self.ui.pointsSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onPointsChanged)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.initializeParameterNode()

    def onOrganChanged(self, node) -> None:
        """Show the segment list for a segmentation (pre-selecting "pancreas"); hide it for a label map."""
        isSegmentation = node is not None and node.IsA("vtkMRMLSegmentationNode")
        self.ui.pancreasSegmentSelector.setVisible(isSegmentation)
        self.ui.pancreasSegmentLabel.setVisible(isSegmentation)
        if isSegmentation:
            from SynTumorLib.mrml import PANCREAS, find_segment

            self.ui.pancreasSegmentSelector.setCurrentNode(node)
            segmentId = find_segment(node, PANCREAS)
            if segmentId:
                self.ui.pancreasSegmentSelector.setCurrentSegmentID(segmentId)

    def onPointsChanged(self, node) -> None:
        """Let the place widget add points to the chosen list; follow its points (count is unused with points)."""
        self.ui.placeWidget.setCurrentNode(node)
        if self._pointsNode is not None:
            for e in self._POINT_EVENTS:
                self.removeObserver(self._pointsNode, e, self.updateGui)
        self._pointsNode = node
        if node is not None:
            for e in self._POINT_EVENTS:
                self.addObserver(node, e, self.updateGui)
        self.updateGui()

    def updateGui(self, caller=None, event=None) -> None:
        p = self._parameterNode
        ready = bool(p and p.inputVolume and p.organNode)
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Insert tumours") if ready else _("Select the CT and its pancreas segmentation")
        if p:
            for w in (self.ui.radiusXSpinBox, self.ui.radiusYSpinBox, self.ui.radiusZSpinBox):
                w.enabled = p.useRadii
            self.ui.diffusionModelPathLineEdit.enabled = p.textureBackend == "diffusion"
            self.ui.countSpinBox.enabled = not (p.tumourPoints and p.tumourPoints.GetNumberOfControlPoints())

    def onApplyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Tumour insertion failed."), waitCursor=True):
            from SynTumorInsertionLib.dependencies import ensureDependencies

            p = self._parameterNode
            if not ensureDependencies(withTorch=p.textureBackend == "diffusion"):
                return
            result = self.logic.insert(
                p.inputVolume,
                p.organNode,
                pancreasSegmentId=self.ui.pancreasSegmentSelector.currentSegmentID() or None,
                pointsNode=p.tumourPoints,
                sizeClass=p.sizeClass,
                classes=str(p.classesFile) if _isSet(p.classesFile) else p.classesPreset,
                radiiMm=(p.radiusX, p.radiusY, p.radiusZ) if p.useRadii else None,
                count=p.count,
                seed=p.seed,
                texture=str(p.diffusionModelFolder) if p.textureBackend == "diffusion" else "statistical",
            )
            slicer.util.setSliceViewerLayers(background=result.volumeNode)
            self.ui.statusLabel.text = _("Inserted with seed {seed} → {name}").format(
                seed=result.record.get("seed"), name=result.volumeNode.GetName())
            if p.advanceSeed:  # so that the next Apply gives another tumour
                p.seed = (p.seed + 1) % (2**31 - 1)


class SynTumorInsertionLogic(ScriptedLoadableModuleLogic, InsertionLogic):
    """Module logic: the Qt-free ``InsertionLogic`` plus Slicer's parameter-node plumbing."""

    def __init__(self, scene=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        InsertionLogic.__init__(self, scene)

    def getParameterNode(self):
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
