"""The panels' shared parameter-node plumbing (SynTumorInsertionLib.widget_base) on a real MRML scene
(slicer-core), with stand-ins for what only the Slicer application provides (the scripted-module
widget base class, loading the .ui, the parameter-node wrapper)."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")
import vtk  # noqa: E402
from test_slicer_mrml import new_scene  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class _StandInModuleWidget:
    """What the panels use of Slicer's ScriptedLoadableModuleWidget."""

    def __init__(self, parent=None):
        self.inits = getattr(self, "inits", 0) + 1
        self.moduleName = type(self).__name__.removesuffix("Widget")
        self.parent = types.SimpleNamespace(isEntered=True)
        self.layout = types.SimpleNamespace(addWidget=lambda w: None)
        self.setupCalls = 0

    def setup(self):
        self.setupCalls += 1

    def resourcePath(self, filename):
        return f"{self.moduleName}/Resources/{filename}"


class _ParameterNode(vtk.vtkObject):
    """A parameter node: node fields, Modified on every change, connectGui/disconnectGui."""

    def __init__(self):
        super().__init__()
        self.inputVolume = None
        self.connected = []

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name == "inputVolume":
            self.Modified()

    def connectGui(self, ui):
        self.connected.append(ui)
        return len(self.connected)

    def disconnectGui(self, tag):
        assert self.connected[tag - 1] is not None
        self.connected[tag - 1] = None


@pytest.fixture
def widget_base(monkeypatch):
    scene = new_scene()
    loaded = []
    monkeypatch.setitem(sys.modules, "slicer.ScriptedLoadableModule",
                        types.SimpleNamespace(ScriptedLoadableModuleWidget=_StandInModuleWidget))
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    monkeypatch.setattr(slicer.util, "loadUI", lambda path: loaded.append(path) or
                        types.SimpleNamespace(setMRMLScene=lambda s: None), raising=False)
    monkeypatch.setattr(slicer.util, "childWidgetVariables", lambda w: types.SimpleNamespace(panel=w),
                        raising=False)
    monkeypatch.syspath_prepend(str(REPO / "SynTumor" / "SynTumorInsertion"))
    monkeypatch.delitem(sys.modules, "SynTumorInsertionLib.widget_base", raising=False)
    widget_base = importlib.import_module("SynTumorInsertionLib.widget_base")  # built against the stand-ins
    yield widget_base, scene, loaded
    sys.modules.pop("SynTumorInsertionLib.widget_base", None)


def test_parameter_node_life_cycle(widget_base):
    module, scene, loaded = widget_base
    node = _ParameterNode()

    class DemoWidget(module.ParameterNodeWidget):
        DEFAULT_NODES = {"inputVolume": "vtkMRMLScalarVolumeNode"}
        updates = 0

        def setup(self):
            self.setupPanel(types.SimpleNamespace(getParameterNode=lambda: node))
            self.initializeParameterNode()

        def updateGui(self, caller=None, event=None):
            DemoWidget.updates += 1

    first = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "first")
    w = DemoWidget()
    w.setup()
    assert w.inits == 1 and w.setupCalls == 1 and loaded == ["Demo/Resources/UI/Demo.ui"]
    assert node.inputVolume is first  # an empty node parameter is filled from the scene
    assert node.connected == [w.ui] and DemoWidget.updates >= 1

    before = DemoWidget.updates
    node.Modified()
    assert DemoWidget.updates == before + 1  # the panel follows its parameter node

    w.exit()
    assert node.connected == [None] and w._parameterNode is None
    before = DemoWidget.updates
    node.Modified()
    assert DemoWidget.updates == before  # no longer observed

    second = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "second")
    node.inputVolume = second
    w.enter()
    assert node.inputVolume is second and node.connected[-1] is w.ui  # a set parameter is kept

    scene.Clear(0)  # start close → unbound; end close while entered → bound again
    assert w._parameterNode is node and node.connected[-2] is None and node.connected[-1] is w.ui

    w.cleanup()
    bound = len(node.connected)
    scene.Clear(0)
    assert len(node.connected) == bound  # no scene observers left after cleanup
