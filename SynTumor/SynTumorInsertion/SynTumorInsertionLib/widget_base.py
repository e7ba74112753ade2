"""The parameter-node plumbing of Slicer's scripted-module template, shared by the SynTumor panels.

Every SynTumor panel wires its .ui to a typed parameter node the same way (the template's
``setup`` / ``cleanup`` / ``enter`` / ``exit`` / scene-close handlers / ``initializeParameterNode`` /
``setParameterNode``); this base class holds that code once, so each module's widget only adds its own
connections and ``updateGui``.

Why it lives in ``SynTumorInsertionLib``: Slicer installs all scripted modules of an extension into
the same ``qt-scripted-modules`` folder, which is on ``sys.path`` (in a development checkout each
module folder is added to the module paths, with the same effect), so ``SynTumorLabelNoise`` and
``SynTumorSegmentation`` import it as ``SynTumorInsertionLib.widget_base``. Both already declare
``SynTumorInsertion`` as a dependency (for the dependency installer), so it is always present. The
package ``__init__`` does not import this file: the logic stays importable without Qt.

Usage (the module file)::

    class MyModuleWidget(ParameterNodeWidget):
        DEFAULT_NODES = {"inputVolume": "vtkMRMLScalarVolumeNode"}

        def setup(self) -> None:
            self.setupPanel(MyModuleLogic())  # loads Resources/UI/MyModule.ui into self.ui
            self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
            self.initializeParameterNode()

        def updateGui(self, caller=None, event=None) -> None:
            self.ui.applyButton.enabled = bool(self._parameterNode and self._parameterNode.inputVolume)
"""

import slicer
import vtk
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin


class ParameterNodeWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Template widget life cycle around a ``@parameterNodeWrapper`` node bound to ``self.ui``.

    A module's widget subclasses it, calls ``setupPanel(logic)`` from ``setup`` and overrides
    ``updateGui``. ``DEFAULT_NODES`` maps parameter names to the MRML class whose first node in the
    scene fills the parameter while it is empty.
    """

    DEFAULT_NODES: dict[str, str] = {}

    def __init__(self, parent=None) -> None:
        # explicit calls, as in the template: VTKObservationMixin.__init__ calls super().__init__(),
        # which must not reach ScriptedLoadableModuleWidget a second time
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setupPanel(self, logic) -> None:
        """Load ``Resources/UI/<module>.ui`` into ``self.ui``, keep ``logic``, follow scene closing."""
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath(f"UI/{self.moduleName}.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = logic
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

    def updateGui(self, caller=None, event=None) -> None:
        """Enable/disable widgets from the parameter node (called on every change of it)."""

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """Bind the logic's parameter node and fill empty node parameters from the scene."""
        self.setParameterNode(self.logic.getParameterNode())
        for name, className in self.DEFAULT_NODES.items():
            if not getattr(self._parameterNode, name):
                setattr(self._parameterNode, name, slicer.mrmlScene.GetFirstNodeByClass(className))

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGui)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            # the .ui's "SlicerParameterName" dynamic properties bind each widget to a parameter
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGui)
            self.updateGui()
