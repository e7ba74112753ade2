"""The plumbing every SynTumor panel shares: Slicer's scripted-module template life cycle around a
typed parameter node, the "needs Slicer 5.10" panel of an older Slicer, messages in the panel, and
long work in a background worker with a progress bar and a Cancel button.

A module's widget subclasses :class:`ParameterNodeWidget`::

    class MyModuleWidget(ParameterNodeWidget):
        DEFAULT_NODES = {"inputVolume": "vtkMRMLScalarVolumeNode"}

        def setup(self) -> None:
            if not self.setupPanel(MyModuleLogic):  # False on an unsupported Slicer: the panel says why
                return
            self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
            self.initializeParameterNode()

        def updateGui(self, caller=None, event=None) -> None:
            self.ui.applyButton.enabled = bool(self._parameterNode and self._parameterNode.inputVolume)

This file is imported when Slicer loads a module file, so it must run on Slicer 5.6/5.8 (Python 3.9)
far enough to show the version message: only Slicer's own Python layer is imported at the top.
"""

from __future__ import annotations

import logging

import qt
import slicer
import vtk
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from .compat import slicerVersionProblem


class ParameterNodeWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Template widget life cycle around a ``@parameterNodeWrapper`` node bound to ``self.ui``.

    ``DEFAULT_NODES`` maps parameter names to the MRML class whose first node in the scene fills the
    parameter while it is empty. A panel that runs background work has ``progressBar``,
    ``cancelButton`` and ``statusLabel`` widgets and calls :meth:`startJob`.
    """

    DEFAULT_NODES: dict = {}

    def __init__(self, parent=None) -> None:
        # explicit calls, as in the template: VTKObservationMixin.__init__ calls super().__init__(),
        # which must not reach ScriptedLoadableModuleWidget a second time
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self.job = None
        self.problem = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    # ------------------------------------------------------------------ set-up
    def setupPanel(self, logicFactory) -> bool:
        """Load ``Resources/UI/<module>.ui`` into ``self.ui`` and create the logic; False (and a panel
        that only explains why) when this Slicer cannot run SynTumor."""
        ScriptedLoadableModuleWidget.setup(self)
        self.problem = slicerVersionProblem()
        if self.problem is None:
            try:
                from . import connectors  # noqa: F401  (registers the optional-path GUI connector)

                self.logic = logicFactory()
            except ImportError as e:  # a broken installation: say so in the panel, not only in the log
                self.problem = f"SynTumor could not load its Python library: {e}"
        if self.problem is not None:
            logging.warning(self.problem)
            label = qt.QLabel(self.problem)
            label.wordWrap = True
            label.objectName = "SynTumorProblemLabel"
            self.layout.addWidget(label)
            self.layout.addStretch(1)
            return False
        uiWidget = slicer.util.loadUI(self.resourcePath(f"UI/{self.moduleName}.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        if hasattr(self.ui, "cancelButton"):
            self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        return True

    def updateGui(self, caller=None, event=None) -> None:
        """Enable/disable widgets from the parameter node (called on every change of it)."""

    # ------------------------------------------------------------------ template life cycle
    def cleanup(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.removeObservers()

    def enter(self) -> None:
        if self.problem is None:
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

    # ------------------------------------------------------------------ messages
    def showStatus(self, text: str) -> None:
        self.ui.statusLabel.text = text

    def attempt(self, failText: str, action, *args, **kwargs):
        """Run ``action``; on an error show ``failText`` and the reason in the panel (and in Slicer's
        error dialog) and return None instead of raising out of a Qt slot."""
        try:
            with slicer.util.tryWithErrorDisplay(failText, waitCursor=True):
                return action(*args, **kwargs)
        except Exception as e:  # shown above; the panel keeps it visible
            self.showStatus(f"{failText} {e}")
            return None

    # ------------------------------------------------------------------ background work
    @property
    def busy(self) -> bool:
        return self.job is not None

    def startJob(self, job, onSuccess, busyText: str, failText: str) -> None:
        """Run ``job`` (a ``worker.WorkerJob``) in the background; ``onSuccess(job)`` loads its result."""
        self.job = job
        self.ui.progressBar.value = 0
        self.showStatus(busyText)
        job.start(onUpdate=self._onJobUpdate, onFinished=lambda j: self._onJobFinished(j, onSuccess, failText))
        self.updateGui()

    def _onJobUpdate(self, job) -> None:
        self.ui.progressBar.value = int(round(100 * job.fraction))
        if job.message:
            self.showStatus(job.message)

    def _onJobFinished(self, job, onSuccess, failText: str) -> None:
        self.job = None
        try:
            if job.cancelled:
                self.showStatus("Cancelled; nothing was added to the scene.")
                return
            if self.attempt(failText, self._loadResult, job, onSuccess) is not None:
                self.ui.progressBar.value = 100
        finally:
            job.cleanup()
            self.updateGui()

    @staticmethod
    def _loadResult(job, onSuccess) -> bool:
        job.check()
        onSuccess(job)
        return True

    def onCancelButton(self) -> None:
        if self.job is not None:
            self.job.cancel()  # returns at once; the job reports back through _onJobFinished
            self.showStatus("Cancelling…")
