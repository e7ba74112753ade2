"""The panels' "download a published model" buttons, on each Slicer release's own module machinery
(the harness of test_slicer_harness_panels.py), against a local HTTP server on 127.0.0.1.

The consent dialog is answered by replacing the Qt dialog helpers: No leaves nothing behind (no
request, no folder, nothing in the scene); Yes runs the worker's ``download`` task in its own
process while the event loop runs, and the panel selects the imported model folder.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")
pytest.importorskip("PySide6.QtWidgets", reason="PySide6 not installed: no event loop for the worker")

import slicer_panels  # noqa: E402
from model_server import Server, catalogue_for, released_unet_bytes  # noqa: E402
from slicer_panels import add_case, open_panel, scene_nodes, wait  # noqa: E402

release = slicer_panels.release  # the fixture: each Slicer release the harness knows


@pytest.fixture
def served(tmp_path, monkeypatch):
    from PySide6 import QtWidgets

    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    server = Server()
    monkeypatch.setenv("SYNTUMOR_MODELS_CATALOGUE", str(catalogue_for(tmp_path, server.url, size=None)))
    monkeypatch.setenv("SYNTUMOR_MODELS_DIR", str(tmp_path / "models"))
    yield server
    server.close()


def _answer(monkeypatch, name: str | None, yes: bool) -> list[str]:
    import SynTumorCommon.dependencies as deps
    import SynTumorCommon.model_download as md

    shown: list[str] = []
    monkeypatch.setattr(md, "_chooseWithQt", lambda parent, title, names: name if name in names else None)
    monkeypatch.setattr(md, "_askWithQt", lambda parent, title, text: shown.append(text) or yes)
    monkeypatch.setattr(deps, "ensureDependencies", lambda **kw: True)  # the venv has them
    return shown


def test_segmentation_download_declined_leaves_nothing(release, served, monkeypatch, tmp_path):
    add_case(release.scene, with_tumour=True)
    _mod, _parent, widget = open_panel(release, "SynTumorSegmentation")
    assert widget.ui.downloadModelButton.enabled
    shown = _answer(monkeypatch, "tiny-seg", yes=False)
    before = scene_nodes(release.scene)
    widget.ui.downloadModelButton.click()
    assert "declined" in widget.ui.statusLabel.text and not widget.busy
    assert "Test-Licence-1.0" in shown[0] and "1.0 MB" in shown[0]
    assert served.requests == [] and not (tmp_path / "models").exists()
    assert scene_nodes(release.scene) == before and widget._parameterNode.modelFolder is None


def test_segmentation_download_accepted_selects_the_imported_model(release, served, monkeypatch, tmp_path):
    served.files["seg/model_a.pt"] = released_unet_bytes()
    add_case(release.scene, with_tumour=True)
    _mod, _parent, widget = open_panel(release, "SynTumorSegmentation")
    _answer(monkeypatch, "tiny-seg", yes=True)
    widget.ui.downloadModelButton.click()
    assert widget.busy and not widget.ui.downloadModelButton.enabled and widget.ui.cancelButton.enabled
    wait(release, widget)
    folder = tmp_path / "models" / "tiny-seg"
    assert str(widget._parameterNode.modelFolder) == str(folder), widget.ui.statusLabel.text
    assert json.loads((folder / "model_card.json").read_text())["config"]["recipe"] == "difftumor-released"
    assert widget._parameterNode.overlap == 0.75  # the released networks' own sliding-window overlap
    assert widget.ui.applyButton.enabled and widget.ui.downloadModelButton.enabled


def test_insertion_download_accepted_selects_the_difftumor_texture(release, served, monkeypatch, tmp_path):
    from _difftumor_tiny import released_files

    paths = released_files(tmp_path / "src", recipes=("early",))
    served.files["tex/ae.ckpt"] = paths["autoencoder"].read_bytes()
    served.files["tex/early.pt"] = paths["early"].read_bytes()
    add_case(release.scene)
    _mod, _parent, widget = open_panel(release, "SynTumorInsertion")
    assert widget.ui.downloadTextureButton.enabled
    _answer(monkeypatch, "tiny-tex", yes=False)
    widget.ui.downloadTextureButton.click()
    assert "declined" in widget.ui.statusLabel.text and served.requests == []
    _answer(monkeypatch, "tiny-tex", yes=True)
    widget.ui.downloadTextureButton.click()
    wait(release, widget)
    p = widget._parameterNode
    assert p.textureBackend == "difftumor", widget.ui.statusLabel.text
    assert str(p.diffusionModelFolder) == str(tmp_path / "models" / "tiny-tex")
    assert widget.ui.diffusionModelPathLineEdit.enabled and widget.ui.textureModeComboBox.enabled
