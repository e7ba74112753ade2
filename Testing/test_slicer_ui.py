"""The module panels without Slicer: every .ui parses and loads offscreen (PySide6 QUiLoader with
stand-ins for Slicer's widgets), every ``self.ui.<name>`` the code uses exists, every
SlicerParameterName matches a parameter-node field (and vice versa; which connector binds each is
resolved from Slicer's own guiConnectors.py in test_slicer_harness_ui.py), the module files follow
the template's rules, the Qt-free logic packages import without Qt or torch, and each panel renders
to a PNG."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6.QtUiTools", reason="PySide6-Essentials not installed")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import render_panels  # noqa: E402
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox  # noqa: E402
from render_panels import MODULES, bound_widgets, load_ui, parameter_fields, parameters_py, ui_path  # noqa: E402

MRML_WIDGETS = {"qMRMLNodeComboBox", "qMRMLSegmentSelectorWidget", "qSlicerMarkupsPlaceWidget", "qMRMLTableView"}
WIDGET_BASE = REPO / "SynTumor" / "SynTumorCommon" / "widget_base.py"
# parameters no .ui widget binds: the selected segment (qMRMLSegmentSelectorWidget has no GUI
# connector; the panel keeps the field and the selector in step)
SYNCED_BY_THE_WIDGET = {"pancreasSegmentId", "tumourSegmentId"}


def module_py(module: str) -> Path:
    return REPO / "SynTumor" / module / f"{module}.py"


def widget_sources(module: str) -> list[Path]:
    """The module file and the shared widget base it builds its panel on (if it does)."""
    source = module_py(module)
    uses_base = "from SynTumorCommon.widget_base import" in source.read_text(encoding="utf-8")
    return [source, WIDGET_BASE] if uses_base else [source]


def ui_names_used(source: Path) -> set[str]:
    """Every ``self.ui.<name>`` attribute the module code touches."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "ui"
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "self"):
            names.add(node.attr)
    return names


def ui_tree(module: str) -> ET.Element:
    return ET.parse(ui_path(module)).getroot()


@pytest.mark.parametrize("module", MODULES)
def test_ui_parses_and_loads_offscreen_with_every_class_known(module):
    root = ui_tree(module)
    assert root.tag == "ui" and root.find("widget").get("class") == "qMRMLWidget"
    classes = {w.get("class") for w in root.iter("widget")}
    declared = {c.findtext("class") for c in root.iter("customwidget")}
    custom = classes - set(render_panels.app() and render_panels.StandInLoader().availableWidgets())
    assert custom <= declared, f"custom widgets used but not declared in <customwidgets>: {custom - declared}"
    assert custom <= set(render_panels.STAND_INS), f"no stand-in for {custom - set(render_panels.STAND_INS)}"
    render_panels.QT_MESSAGES.clear()
    widget = load_ui(ui_path(module))
    assert widget.objectName() == module
    names = {w.get("name") for w in root.iter("widget")}
    loaded = {c.objectName() for c in widget.findChildren(object)}
    assert names - {module} <= loaded
    assert render_panels.QT_MESSAGES == []  # no unknown property, enum or class warnings
    # every MRML-aware widget receives the scene, as in Slicer's own .ui files
    receivers = {c.findtext("receiver") for c in root.iter("connection")
                 if c.findtext("signal") == "mrmlSceneChanged(vtkMRMLScene*)"}
    mrml = {w.get("name") for w in root.iter("widget") if w.get("class") in MRML_WIDGETS}
    assert mrml == receivers
    for prop in root.iter("property"):
        if prop.get("name") == "filters":  # ctkPathLineEdit flags the stand-in cannot check itself
            flags = {f.split("::")[-1] for f in prop.findtext("set").split("|")}
            assert flags <= render_panels.PATH_FILTER_FLAGS, flags - render_panels.PATH_FILTER_FLAGS


@pytest.mark.parametrize("module", MODULES)
def test_every_ui_name_used_in_code_exists(module):
    names = {w.get("name") for w in ui_tree(module).iter("widget")}
    used = set().union(*(ui_names_used(source) for source in widget_sources(module)))
    if "startJob(" not in module_py(module).read_text(encoding="utf-8"):
        used -= {"progressBar", "cancelButton"}  # the base class's background-job plumbing, unused here
    missing = used - names
    assert not missing, f"{module}.py uses self.ui.{sorted(missing)} which the .ui does not define"


@pytest.mark.parametrize("module", MODULES)
def test_parameter_names_match_fields(module):
    fields = parameter_fields(parameters_py(module))
    bound = {}
    for w in ui_tree(module).iter("widget"):
        for p in w.findall("property"):
            if p.get("name") == "SlicerParameterName":
                assert p.get("stdset") == "0", f"{w.get('name')}: SlicerParameterName must be a dynamic property"
                bound[p.findtext("string")] = w
    unbound = set(fields) - set(bound)
    assert set(bound) <= set(fields), f"bound but no field: {set(bound) - set(fields)}"
    assert unbound <= SYNCED_BY_THE_WIDGET, f"field but no widget: {unbound - SYNCED_BY_THE_WIDGET}"
    for name, widget in bound.items():
        if widget.get("class") == "qMRMLNodeComboBox":  # the .ui offers exactly the field's node types
            annotation = fields[name][0]
            types = [s.text for s in widget.find("property[@name='nodeTypes']").iter("string")]
            assert types and all(t in annotation for t in types), (name, types, annotation)
            import re

            assert set(re.findall(r"vtkMRML\w+", annotation)) == set(types), (name, types, annotation)


@pytest.mark.parametrize("module", MODULES)
def test_bound_widgets_take_the_parameter_defaults(module):
    """Ranges in the .ui must admit the defaults (Qt would silently clamp them)."""
    widget = load_ui(ui_path(module))
    fields = parameter_fields(parameters_py(module))
    render_panels.show_defaults(widget, fields)
    for name, w in bound_widgets(widget).items():
        default = fields[name][1]
        if isinstance(w, (QSpinBox, QDoubleSpinBox)) and default is not None:
            assert w.value() == pytest.approx(default), name
        elif isinstance(w, QCheckBox) and default is not None:
            assert w.isChecked() == default
        elif type(w) is QComboBox and default is not None:
            assert w.currentText() == default


@pytest.mark.parametrize("module", MODULES)
def test_module_file_follows_the_template(module):
    source = module_py(module).read_text(encoding="utf-8")
    tree = ast.parse(source)
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    assert {module, f"{module}Widget", f"{module}Logic", f"{module}Test"} <= classes
    assert f"class {module}ParameterNode" in parameters_py(module).read_text(encoding="utf-8")
    # at load time only Slicer's own Python layer and SynTumorCommon's version-safe part: an old
    # Slicer must get as far as saying which version it needs
    top_imports = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    top_imports |= {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    assert top_imports <= {"os", "sys", "slicer", "slicer.i18n", "slicer.ScriptedLoadableModule", "SynTumorCommon",
                           "SynTumorCommon.compat", "SynTumorCommon.widget_base"}, top_imports
    assert "pip_install" not in source.split("class ")[0]  # nothing installed at import time
    assert "slicerVersionProblem()" in source and "setupPanel(" in source
    assert any("connectGui" in s.read_text(encoding="utf-8") for s in widget_sources(module))
    # the nodes the shared widget base fills in from the scene are node parameters of this module
    widget = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == f"{module}Widget")
    fields = parameter_fields(parameters_py(module))
    for stmt in widget.body:
        if isinstance(stmt, ast.Assign) and any(getattr(t, "id", None) == "DEFAULT_NODES" for t in stmt.targets):
            for name, node_class in ast.literal_eval(stmt.value).items():
                assert node_class in fields[name][0], f"DEFAULT_NODES[{name!r}]: not a {node_class} parameter"


def test_logic_packages_import_without_qt_torch_or_uninstalled_packages():
    """Slicer must load the modules before first-use installation: no torch, MONAI, scipy, tqdm."""
    code = (
        "import sys\n"
        f"sys.path[:0] = {[str(REPO / 'SynTumor'), *(str(REPO / 'SynTumor' / m) for m in MODULES)]!r}\n"
        "import SynTumorInsertionLib.logic, SynTumorLabelNoiseLib.logic, SynTumorSegmentationLib.logic\n"
        "import SynTumorInsertionLib.sample_data, SynTumorCommon.dependencies, SynTumorCommon.worker\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('qt', 'PySide6', 'ctk', 'torch', 'monai', 'scipy', 'tqdm'))\n"
        "print(bad)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("module", MODULES)
def test_panel_renders_to_png(module, tmp_path):
    out = render_panels.render(module, tmp_path / f"panel_{module}.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert image.width() >= 400 and image.height() > 300  # at least the requested width
