"""SynTumorLabelNoise — add an elastically corrupted copy of a tumour segment (the study's label noise)
and show how far it is from the original (Dice, mean surface distance)."""

from typing import Annotated

import slicer
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
)
from SynTumorInsertionLib.widget_base import ParameterNodeWidget
from SynTumorLabelNoiseLib.logic import LEVELS, LabelNoiseLogic

CUSTOM = "custom σ"


class SynTumorLabelNoise(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Label Noise")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "SynTumor")]
        # SynTumorInsertion provides the shared dependency installer and panel plumbing (SynTumorInsertionLib)
        self.parent.dependencies = ["SynTumorInsertion"]
        self.parent.contributors = ["SynTumor developers"]
        self.parent.helpText = _(
            "Corrupt a tumour segment's boundary with the study's elastic label noise (levels low … extreme, or a "
            "given σ). The noisy copy is added beside the original segment; Dice and mean surface distance between "
            "the two are shown. The record to reproduce it is saved with the scene."
        )
        self.parent.acknowledgementText = _("Label-noise levels from Peng, Zhang et al., hypothesis 2.")


@parameterNodeWrapper
class SynTumorLabelNoiseParameterNode:
    segmentationNode: vtkMRMLSegmentationNode
    referenceVolume: vtkMRMLScalarVolumeNode
    level: Annotated[str, Choice([*LEVELS, CUSTOM])] = "moderate"
    sigmaMm: Annotated[float, WithinRange(0.1, 30.0)] = 2.0
    controlPoints: Annotated[int, WithinRange(2, 10)] = 3
    seed: Annotated[int, WithinRange(0, 2**31 - 1)] = 0


class SynTumorLabelNoiseWidget(ParameterNodeWidget):
    DEFAULT_NODES = {"segmentationNode": "vtkMRMLSegmentationNode"}

    def setup(self) -> None:
        self.setupPanel(SynTumorLabelNoiseLogic())
        self.ui.tumourSegmentSelector.setSegmentationNodeSelectorVisible(False)
        self.ui.segmentationSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onSegmentationChanged)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.initializeParameterNode()

    def onSegmentationChanged(self, node) -> None:
        """Point the segment list at the chosen segmentation and pre-select its tumour segment."""
        self.ui.tumourSegmentSelector.setCurrentNode(node)
        if node is not None:
            from SynTumorLib.mrml import TUMOUR, find_segment

            segmentId = find_segment(node, TUMOUR)
            if segmentId:
                self.ui.tumourSegmentSelector.setCurrentSegmentID(segmentId)

    def updateGui(self, caller=None, event=None) -> None:
        p = self._parameterNode
        self.ui.applyButton.enabled = bool(p and p.segmentationNode)
        if p:
            self.ui.sigmaSpinBox.enabled = p.level == CUSTOM

    def onApplyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Label noise failed."), waitCursor=True):
            from SynTumorInsertionLib.dependencies import ensureDependencies

            if not ensureDependencies():
                return
            p = self._parameterNode
            custom = p.level == CUSTOM
            result = self.logic.corrupt(
                p.segmentationNode,
                self.ui.tumourSegmentSelector.currentSegmentID(),
                level=None if custom else p.level,
                sigmaMm=p.sigmaMm if custom else None,
                seed=p.seed,
                controlPoints=p.controlPoints,
                referenceVolume=p.referenceVolume,
            )
            self.ui.diceValueLabel.text = f"{result.dice:.3f}"
            self.ui.msdValueLabel.text = f"{result.meanSurfaceDistanceMm:.2f} mm"
            self.ui.statusLabel.text = _("Added segment '{name}'.").format(
                name=p.segmentationNode.GetSegmentation().GetSegment(result.segmentId).GetName())


class SynTumorLabelNoiseLogic(ScriptedLoadableModuleLogic, LabelNoiseLogic):
    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        LabelNoiseLogic.__init__(self)

    def getParameterNode(self):
        return SynTumorLabelNoiseParameterNode(super().getParameterNode())


class SynTumorLabelNoiseTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_NoiseOnPhantomTumour()

    def test_NoiseOnPhantomTumour(self):
        from SynTumorLabelNoiseLib.selftest import check_label_noise_on_phantom

        self.delayDisplay("Adding label noise to the phantom's tumour")
        result = check_label_noise_on_phantom(slicer.mrmlScene)
        self.delayDisplay(f"Dice {result.dice:.3f}, MSD {result.meanSurfaceDistanceMm:.2f} mm — test passed")
