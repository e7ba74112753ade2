"""The panels opened the way Slicer opens them, for the harness tests of every panel: a fixture that
loads each Slicer release's own code over a real MRML scene (``release``), opening a module's panel,
the scene's nodes, a test case and a wait that runs the event loop until a panel's job has ended.
Import only after ``pytest.importorskip("slicer")``."""

from __future__ import annotations

import time

import pytest
from slicer_harness.release import slicer_release
from slicer_harness.sources import RELEASES


@pytest.fixture(params=RELEASES)
def release(request, tmp_path, monkeypatch):
    with slicer_release(request.param, tmp_path / "slicer") as rel, monkeypatch.context() as m:
        shown = []
        # what needs the application's views: recorded instead of shown
        m.setattr(rel.slicer.util, "setSliceViewerLayers", lambda **kw: shown.append(kw))
        rel.shown, rel.widgets = shown, []
        yield rel
        for widget in rel.widgets:  # as Slicer does when a module is unloaded: no scene observers left
            widget.cleanup()


def open_panel(release, module):
    """Load the module file, create the module and its panel, set it up and show it."""
    mod = release.import_module_file(module)
    parent = release.module_parent(module)
    getattr(mod, module)(parent)
    widget = getattr(mod, f"{module}Widget")(release.panel_parent())
    release.widgets.append(widget)
    widget.setup()
    widget.enter()
    return mod, parent, widget


def scene_nodes(scene) -> set[str]:
    nodes = (scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes()))
    return {n.GetID() for n in nodes if not n.IsA("vtkMRMLSubjectHierarchyNode") and not n.IsA("vtkMRMLScriptedModuleNode")}


def add_case(scene, with_tumour=False):
    from slicer_support import oblique_case

    return oblique_case(scene, with_tumour=with_tumour)


def wait(release, widget, timeout_s=240.0):
    """Run the event loop (as Slicer's GUI does) until the panel's job has ended."""
    end = time.monotonic() + timeout_s
    while widget.busy and time.monotonic() < end:
        release.app.processEvents()
        time.sleep(0.01)
    assert not widget.busy, "the worker did not finish"


