"""The panels opened the way Slicer opens them, on each release's own ScriptedLoadableModule, util,
parameterNodeWrapper and GUI connectors, over stand-in widgets and a real MRML scene (slicer-core).

Slicer loads the module file (its folder appended to sys.path), instantiates the module class,
then the widget class with a parent widget, calls ``setup()`` and, when the panel is shown,
``enter()``. On an older Slicer the module must say that it needs 5.10 instead of failing (AUDIT
A3); on 5.10 and 5.12 ``setup()`` must get through ``initializeParameterNode`` (AUDIT A1). Then the
panels are used: Apply runs the insertion in a worker process with a progress bar and Cancel (AUDIT
B5) — real Qt (PySide6) runs that process and the event loop — and bad input ends in a message in
the panel with nothing left half-done in the scene.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

import slicer_panels  # noqa: E402
from slicer_harness import MODULES  # noqa: E402
from slicer_panels import add_case, open_panel, scene_nodes, wait  # noqa: E402

release = slicer_panels.release  # the fixture: each Slicer release the harness knows


@pytest.mark.parametrize("module", MODULES)
def test_the_module_loads_and_its_panel_opens(release, module):
    add_case(release.scene, with_tumour=True)
    _mod, parent, widget = open_panel(release, module)
    assert parent.title and "needs" not in parent.helpText
    assert widget.problem is None and widget._parameterNode is not None  # setup() got through
    assert widget._parameterNode.parameterNode.GetAttribute("ModuleName") == module
    first = next(iter(widget.DEFAULT_NODES))
    assert getattr(widget._parameterNode, first) is not None  # filled from the scene
    assert widget.ui.applyButton.enabled == (module != "SynTumorSegmentation")  # that one needs a model folder
    widget.exit()
    assert widget._parameterNode is None
    widget.enter()
    release.scene.Clear(0)  # closing the scene unbinds and (the panel being shown) binds again
    assert widget._parameterNode is not None


@pytest.mark.parametrize("module", MODULES)
def test_an_older_slicer_gets_a_message_not_a_traceback(release, module, monkeypatch):
    monkeypatch.setattr(release.app, "majorVersion", 5)
    monkeypatch.setattr(release.app, "minorVersion", 8)
    mod, parent, widget = open_panel(release, module)
    assert "needs 3D Slicer 5.10 or later" in parent.helpText and "Slicer 5.8" in parent.helpText
    assert not hasattr(widget, "ui") and widget.logic is None
    labels = [c for c in widget.parent.findChildren() if getattr(c, "objectName", "") == "SynTumorProblemLabel"]
    assert len(labels) == 1 and "needs 3D Slicer 5.10" in labels[0].text
    assert not [c for c in release.app.connections if c[0] == "startupCompleted()"]  # no sample data offered


# ------------------------------------------------------------------ Tumour Insertion
@pytest.fixture
def insertion(release):
    pytest.importorskip("PySide6.QtWidgets", reason="PySide6 not installed: no event loop for the worker")
    from PySide6 import QtWidgets

    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    image, label, ct, seg = add_case(release.scene)
    _mod, _parent, widget = open_panel(release, "SynTumorInsertion")
    return widget, image, ct, seg


def test_apply_inserts_in_a_worker_and_advances_the_seed(release, insertion):
    widget, image, ct, seg = insertion
    p = widget._parameterNode
    assert p.inputVolume is ct and p.organNode is seg and p.pancreasSegmentId  # filled from the scene
    assert widget.ui.pancreasSegmentSelector.currentSegmentID() == p.pancreasSegmentId
    p.seed, p.sizeClass = 5, "small"
    before = scene_nodes(release.scene)
    widget.ui.applyButton.click()
    assert widget.busy and widget.ui.cancelButton.enabled and not widget.ui.applyButton.enabled
    wait(release, widget)
    added = scene_nodes(release.scene) - before
    names = sorted(release.scene.GetNodeByID(i).GetName() for i in added if release.scene.GetNodeByID(i).IsA(
        "vtkMRMLVolumeNode") or release.scene.GetNodeByID(i).IsA("vtkMRMLSegmentationNode"))
    assert names == ["ct + tumour", "ct + tumour segmentation"], widget.ui.statusLabel.text
    assert "seed 5" in widget.ui.statusLabel.text and widget.ui.progressBar.value == 100
    assert p.seed == 6 and widget.ui.applyButton.enabled and not widget.ui.cancelButton.enabled
    from SynTumorLib.mrml import volume_from_node

    np.testing.assert_array_equal(volume_from_node(ct).array, image.array)  # the input is untouched


def test_cancel_stops_the_insertion_and_adds_nothing(release, insertion):
    widget, _image, _ct, _seg = insertion
    before = scene_nodes(release.scene)
    widget.ui.applyButton.click()
    widget.ui.cancelButton.click()
    # Cancel only asks the worker to stop: it returns before the process has ended (no events have
    # been processed yet), so the GUI thread never waits for the worker.
    assert widget.busy
    wait(release, widget, timeout_s=30)
    assert "Cancelled" in widget.ui.statusLabel.text
    assert scene_nodes(release.scene) == before and widget._parameterNode.seed == 0


def test_a_failing_worker_ends_in_a_message_and_adds_nothing(release, insertion, tmp_path):
    widget, _image, _ct, _seg = insertion
    p = widget._parameterNode
    p.textureBackend = "diffusion"
    p.diffusionModelFolder = tmp_path / "not a model"  # the worker cannot load it
    before = scene_nodes(release.scene)
    widget.ui.applyButton.click()
    wait(release, widget)
    assert "Tumour insertion failed." in widget.ui.statusLabel.text and "not a model" in widget.ui.statusLabel.text
    assert scene_nodes(release.scene) == before


def test_bad_input_ends_in_a_message_in_the_panel(release, insertion):
    widget, _image, _ct, seg = insertion
    p = widget._parameterNode
    before = scene_nodes(release.scene)
    p.textureBackend = "diffusion"  # …without a model folder
    widget.onApplyButton()
    assert "select the diffusion model folder" in widget.ui.statusLabel.text
    p.textureBackend = "statistical"
    p.organNode = None  # an empty selection (Apply is disabled, but the message must still be clear)
    assert not widget.ui.applyButton.enabled
    widget.onApplyButton()
    assert "select the pancreas segmentation" in widget.ui.statusLabel.text
    p.organNode = seg
    p.pancreasSegmentId = "no such segment"
    widget.onApplyButton()
    assert "no segment 'no such segment'" in widget.ui.statusLabel.text
    assert scene_nodes(release.scene) == before and not widget.busy


def test_a_missing_pytorch_extension_is_reported_before_anything_runs(release, insertion, monkeypatch, tmp_path):
    import sys

    from SynTumorCommon import dependencies

    widget, _image, _ct, _seg = insertion
    monkeypatch.setattr(dependencies, "installedVersion", lambda name: None)  # a fresh Slicer: no torch
    monkeypatch.setitem(sys.modules, "PyTorchUtils", None)
    p = widget._parameterNode
    p.textureBackend, p.diffusionModelFolder = "diffusion", tmp_path
    widget.onApplyButton()
    assert "PyTorch extension" in widget.ui.statusLabel.text and not widget.busy


def test_a_difftumor_folder_runs_in_the_worker_with_the_chosen_mode(release, insertion, monkeypatch, tmp_path):
    from _difftumor_tiny import tiny_texture_folder

    widget, image, ct, _seg = insertion
    p = widget._parameterNode
    p.textureBackend = "difftumor"
    widget.onApplyButton()  # no folder yet
    assert "select the DiffTumor model folder" in widget.ui.statusLabel.text and not widget.busy
    p.diffusionModelFolder, p.textureMode, p.seed, p.sizeClass = tiny_texture_folder(tmp_path / "dt"), "reference", 3, "tiny"
    assert widget.ui.textureModeComboBox.enabled and widget.ui.diffusionModelPathLineEdit.enabled
    records = []
    load = widget.logic.insertion.loadInsertion
    monkeypatch.setattr(widget.logic.insertion, "loadInsertion",
                        lambda job, node: records.append(job.result()["record"]) or load(job, node))
    widget.ui.applyButton.click()
    wait(release, widget)
    assert records, widget.ui.statusLabel.text
    texture = records[0]["texture"]
    assert texture["name"] == "difftumor" and texture["config"]["mode"] == "reference"
    assert records[0]["tumours"][0]["texture"]["mode"] == "reference"
    p.textureBackend = "statistical"
    assert not widget.ui.textureModeComboBox.enabled


def test_the_chosen_segment_is_kept_in_the_parameter_node(release, insertion):
    widget, _image, _ct, seg = insertion
    second = seg.GetSegmentation().AddEmptySegment("other", "other")
    widget.ui.pancreasSegmentSelector.setCurrentSegmentID(second)
    assert widget._parameterNode.pancreasSegmentId == second
    widget.exit()
    widget.enter()  # reopening the panel (or loading the scene) shows the saved choice
    assert widget.ui.pancreasSegmentSelector.currentSegmentID() == second


# ------------------------------------------------------------------ Label Noise, Segmentation
def test_label_noise_adds_a_segment_and_reports_the_distance(release):
    _image, _label, ct, seg = add_case(release.scene, with_tumour=True)
    _mod, _parent, widget = open_panel(release, "SynTumorLabelNoise")
    p = widget._parameterNode
    from SynTumorLib.mrml import TUMOUR, find_segment

    assert p.tumourSegmentId == find_segment(seg, TUMOUR)
    n = seg.GetSegmentation().GetNumberOfSegments()
    p.level, p.seed = "extreme", 3
    widget.ui.applyButton.click()
    assert seg.GetSegmentation().GetNumberOfSegments() == n + 1, widget.ui.statusLabel.text
    assert widget.ui.diceValueLabel.text and "Added segment" in widget.ui.statusLabel.text
    p.tumourSegmentId = ""
    widget.onApplyButton()  # an empty selection
    assert "select the segment" in widget.ui.statusLabel.text
    assert seg.GetSegmentation().GetNumberOfSegments() == n + 1


def test_segmentation_needs_a_model_folder_and_reports_a_missing_one(release, tmp_path):
    add_case(release.scene, with_tumour=True)
    _mod, _parent, widget = open_panel(release, "SynTumorSegmentation")
    p = widget._parameterNode
    assert p.modelFolder is None and widget.ui.modelPathLineEdit.currentPath == ""
    assert not widget.ui.applyButton.enabled  # nothing to segment with yet
    widget.ui.modelPathLineEdit.currentPath = str(tmp_path / "no model here")
    assert widget.ui.applyButton.enabled
    before = scene_nodes(release.scene)
    widget.onApplyButton()
    assert "model folder not found" in widget.ui.statusLabel.text and not widget.busy
    assert scene_nodes(release.scene) == before


def test_evaluate_runs_in_the_worker_fills_the_tables_and_removes_its_folder(release):
    """Evaluate, like Apply, runs in the background worker (AUDIT B5: nothing that can take seconds in
    the GUI thread), fills the metric and lesion tables, and its temporary folder is gone afterwards."""
    pytest.importorskip("PySide6.QtWidgets", reason="PySide6 not installed: no event loop for the worker")
    from PySide6 import QtWidgets

    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    _image, _label, ct, seg = add_case(release.scene, with_tumour=True)
    _mod, _parent, widget = open_panel(release, "SynTumorSegmentation")
    p = widget._parameterNode
    p.inputVolume, p.outputSegmentation, p.referenceSegmentation = ct, seg, seg  # a perfect prediction
    assert widget.ui.evaluateButton.enabled
    widget.ui.evaluateButton.click()
    job = widget.job
    assert widget.busy and job is not None and job.folder is not None and job.folder.is_dir()  # not in the GUI thread
    wait(release, widget)
    assert "tumour DSC 1.000" in widget.ui.statusLabel.text, widget.ui.statusLabel.text
    assert p.metricsTable is not None and p.lesionTable is not None
    assert not job.folder.exists(), "the worker's temporary folder was left behind"
