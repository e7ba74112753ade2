"""SynTumorLabelNoise — add an elastically corrupted copy of a tumour segment (the study's label noise)
and show how far it is from the original (Dice, mean surface distance).

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


class SynTumorLabelNoise(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Label Noise")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "SynTumor")]
        self.parent.dependencies = []
        self.parent.contributors = ["SynTumor developers"]
        self.parent.helpText = _(
            "Corrupt a tumour segment's boundary with the study's elastic label noise (levels low … extreme, or a "
            "given σ). The noisy copy is added beside the original segment; Dice and mean surface distance between "
            "the two are shown. The record to reproduce it is saved with the scene."
        )
        self.parent.acknowledgementText = _("Label-noise levels from Peng, Zhang et al., hypothesis 2.")
        problem = slicerVersionProblem()
        if problem:
            self.parent.helpText = problem


class SynTumorLabelNoiseWidget(ParameterNodeWidget):
    DEFAULT_NODES = {"segmentationNode": "vtkMRMLSegmentationNode"}

    def setup(self) -> None:
        if not self.setupPanel(SynTumorLabelNoiseLogic):
            return
        self.ui.tumourSegmentSelector.setSegmentationNodeSelectorVisible(False)
        self.ui.segmentationSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onSegmentationChanged)
        self.ui.tumourSegmentSelector.connect("currentSegmentChanged(QString)", self.onSegmentChanged)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.initializeParameterNode()

    def onSegmentationChanged(self, node) -> None:
        """Point the segment list at the chosen segmentation: its saved segment, else its tumour segment."""
        saved = self._parameterNode.tumourSegmentId if self._parameterNode else ""
        self.ui.tumourSegmentSelector.setCurrentNode(node)
        if node is None:
            return
        from SynTumorLib.mrml import TUMOUR, find_segment

        segmentId = saved if saved and node.GetSegmentation().GetSegment(saved) else find_segment(node, TUMOUR)
        if segmentId:
            self.ui.tumourSegmentSelector.setCurrentSegmentID(segmentId)

    def onSegmentChanged(self, segmentId) -> None:
        if self._parameterNode is not None:
            self._parameterNode.tumourSegmentId = segmentId or ""

    def updateGui(self, caller=None, event=None) -> None:
        from SynTumorLabelNoiseLib.parameters import CUSTOM

        p = self._parameterNode
        self.ui.applyButton.enabled = bool(p and p.segmentationNode)
        if p:
            self.ui.sigmaSpinBox.enabled = p.level == CUSTOM
            selector = self.ui.tumourSegmentSelector
            if p.tumourSegmentId and selector.currentSegmentID() != p.tumourSegmentId:
                selector.setCurrentSegmentID(p.tumourSegmentId)

    def onApplyButton(self) -> None:
        self.attempt(_("Label noise failed."), self._corrupt)

    def _corrupt(self) -> None:
        from SynTumorLabelNoiseLib.parameters import CUSTOM

        p = self._parameterNode
        custom = p.level == CUSTOM
        result = self.logic.noise.corrupt(
            p.segmentationNode,
            p.tumourSegmentId,
            level=None if custom else p.level,
            sigmaMm=p.sigmaMm if custom else None,
            seed=p.seed,
            controlPoints=p.controlPoints,
            referenceVolume=p.referenceVolume,
        )
        self.ui.diceValueLabel.text = f"{result.dice:.3f}"
        self.ui.msdValueLabel.text = f"{result.meanSurfaceDistanceMm:.2f} mm"
        self.showStatus(_("Added segment '{name}'.").format(
            name=p.segmentationNode.GetSegmentation().GetSegment(result.segmentId).GetName()))


class SynTumorLabelNoiseLogic(ScriptedLoadableModuleLogic):
    """Slicer's parameter-node plumbing; the work is ``self.noise`` (the Qt-free ``LabelNoiseLogic``)."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        from SynTumorLabelNoiseLib.logic import LabelNoiseLogic

        self.noise = LabelNoiseLogic()

    def getParameterNode(self):
        from SynTumorLabelNoiseLib.parameters import SynTumorLabelNoiseParameterNode

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
