"""Render each SynTumor module panel (.ui) to docs/img/panel_<module>.png without Slicer.

PySide6's ``QUiLoader`` loads Slicer's .ui files offscreen; Slicer's own widget classes
(qMRMLNodeComboBox, ctkCollapsibleButton, …) do not exist outside Slicer, so small stand-ins with the
same class names and the properties the .ui files set take their place. Widgets bound to the
parameter node show the parameter's default, read from the module source with ``ast``
(the real ``parameterNodeWrapper`` runs in Testing/test_slicer_harness_*.py). Testing/test_slicer_ui.py
uses the same loader and parsers. The pictures are these offscreen renders, not screenshots of Slicer.

    QT_QPA_PLATFORM=offscreen python tools/render_panels.py        # writes docs/img/panel_*.png
"""

from __future__ import annotations

import argparse
import ast
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Property, QSize, qInstallMessageHandler  # noqa: E402
from PySide6.QtUiTools import QUiLoader  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QWidget,
)

REPO = Path(__file__).resolve().parents[1]
MODULES = ("SynTumorInsertion", "SynTumorLabelNoise", "SynTumorSegmentation")
EXAMPLE_NODES = {
    "vtkMRMLScalarVolumeNode": "SynTumorPhantom",
    "vtkMRMLSegmentationNode": "SynTumorPhantom segmentation",
    "vtkMRMLLabelMapVolumeNode": "SynTumorPhantom label",
    "vtkMRMLMarkupsFiducialNode": "Tumour centres",
    "vtkMRMLTableNode": "SynTumor metrics",
}


def _prop(type_, name: str, default):
    """A Qt property backed by a Python attribute, so QUiLoader can set it on a stand-in."""
    attr = f"_{name}"

    def get(self):
        return getattr(self, attr, default)

    def set_(self, value):
        setattr(self, attr, value)
        self.propertyChanged(name)

    return Property(type_, get, set_)


class _StandIn:
    def propertyChanged(self, name: str) -> None:  # refresh what the property shows
        pass


class qMRMLWidget(QWidget, _StandIn):
    pass


class qSlicerWidget(QWidget, _StandIn):
    pass


class ctkCollapsibleButton(QGroupBox, _StandIn):
    text = _prop(str, "text", "")
    collapsed = _prop(bool, "collapsed", False)

    def propertyChanged(self, name):
        if name == "text":
            self.setTitle("▾ " + self.text)


class qMRMLNodeComboBox(QComboBox, _StandIn):
    nodeTypes = _prop(list, "nodeTypes", [])
    noneEnabled = _prop(bool, "noneEnabled", False)
    addEnabled = _prop(bool, "addEnabled", False)
    removeEnabled = _prop(bool, "removeEnabled", False)
    renameEnabled = _prop(bool, "renameEnabled", False)
    showChildNodeTypes = _prop(bool, "showChildNodeTypes", True)

    def propertyChanged(self, name):
        if name in ("nodeTypes", "noneEnabled"):
            self.clear()
            if self.noneEnabled:
                self.addItem("None")
            for t in self.nodeTypes:
                self.addItem(EXAMPLE_NODES.get(t, t))
            if self.noneEnabled and self.count() > 1:
                self.setCurrentIndex(1 if "Volume" in " ".join(self.nodeTypes) else 0)


class qMRMLSegmentSelectorWidget(QComboBox, _StandIn):
    noneEnabled = _prop(bool, "noneEnabled", False)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.addItems(["pancreas", "tumour"])

    def setObjectName(self, name: str) -> None:
        super().setObjectName(name)
        # the panels pre-select the segment their selector is named after
        self.setCurrentText("tumour" if "tumour" in name.lower() else "pancreas")


class ctkPathLineEdit(QWidget, _StandIn):
    currentPath = _prop(str, "currentPath", "")
    nameFilters = _prop(list, "nameFilters", [])
    filters = _prop(int, "filters", 0)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(self)
        button = QToolButton(self)
        button.setText("…")
        layout.addWidget(self.edit)
        layout.addWidget(button)

    def propertyChanged(self, name):
        if name == "currentPath":
            self.edit.setText(self.currentPath)


class ctkSliderWidget(QDoubleSpinBox, _StandIn):
    pass


class qSlicerMarkupsPlaceWidget(QWidget, _StandIn):
    buttonsVisible = _prop(bool, "buttonsVisible", True)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for text in ("⊕ Place", "✖ Delete"):
            b = QToolButton(self)
            b.setText(text)
            layout.addWidget(b)
        layout.addStretch(1)


class qMRMLTableView(QTableWidget, _StandIn):
    def sizeHint(self) -> QSize:
        return QSize(300, 110)


STAND_INS = {cls.__name__: cls for cls in (qMRMLWidget, qSlicerWidget, ctkCollapsibleButton, qMRMLNodeComboBox,
                                             qMRMLSegmentSelectorWidget, ctkPathLineEdit, ctkSliderWidget,
                                             qSlicerMarkupsPlaceWidget, qMRMLTableView)}


class StandInLoader(QUiLoader):
    """QUiLoader that builds the stand-ins above for Slicer's widget classes."""

    def createWidget(self, className, parent=None, name=""):
        if className in STAND_INS:
            w = STAND_INS[className](parent)
            w.setObjectName(name)
            return w
        return super().createWidget(className, parent, name)


# Qt messages while loading. The .ui files connect mrmlSceneChanged(vtkMRMLScene*) to each MRML
# widget's setMRMLScene(vtkMRMLScene*) — signatures with a VTK type no stand-in can declare — and set
# ctkPathLineEdit's "filters" flags, a C++ flag type PySide6 cannot declare on a Python class; those
# warnings are expected here (the test checks the flag names against PATH_FILTER_FLAGS instead).
QT_MESSAGES: list[str] = []
_EXPECTED = ("mrmlSceneChanged(vtkMRMLScene*)", "(sender name:", "(receiver name:",
             "of the set-type property filters could not be read")
# ctkPathLineEdit::Filter values (CTK's ctkPathLineEdit.h)
PATH_FILTER_FLAGS = {"Dirs", "Files", "Drives", "NoSymLinks", "AllEntries", "TypeMask", "Readable", "Writable",
                     "Executable", "PermissionMask", "Modified", "Hidden", "System", "AccessMask", "AllDirs",
                     "CaseSensitive", "NoDot", "NoDotDot", "NoDotAndDotDot", "NoFilter"}


def _on_qt_message(mode, context, message: str) -> None:
    if not any(e in message for e in _EXPECTED):
        QT_MESSAGES.append(message)


def app() -> QApplication:
    qInstallMessageHandler(_on_qt_message)
    return QApplication.instance() or QApplication([])


def ui_path(module: str) -> Path:
    return REPO / "SynTumor" / module / "Resources" / "UI" / f"{module}.ui"


def parameters_py(module: str) -> Path:
    """The file with the module's ``@parameterNodeWrapper`` class."""
    return REPO / "SynTumor" / module / f"{module}Lib" / "parameters.py"


def load_ui(path: Path) -> QWidget:
    app()
    widget = StandInLoader().load(str(path))
    if widget is None:
        raise RuntimeError(f"QUiLoader could not load {path}")
    return widget


def parameter_fields(module_py: Path) -> dict[str, tuple[str, object]]:
    """Fields of the ``@parameterNodeWrapper`` class: name → (annotation source, literal default or None)."""
    tree = ast.parse(module_py.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
                getattr(d, "id", getattr(d, "attr", None)) == "parameterNodeWrapper" for d in node.decorator_list):
            out = {}
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    try:
                        default = ast.literal_eval(stmt.value) if stmt.value is not None else None
                    except ValueError:
                        default = None
                    out[stmt.target.id] = (ast.unparse(stmt.annotation), default)
            return out
    raise ValueError(f"{module_py}: no @parameterNodeWrapper class")


def bound_widgets(root: QWidget) -> dict[str, QWidget]:
    """SlicerParameterName → widget, for every widget of a loaded panel that is bound."""
    out = {}
    for w in root.findChildren(QWidget):
        name = w.property("SlicerParameterName")
        if name:
            out[str(name)] = w
    return out


def show_defaults(root: QWidget, fields: dict[str, tuple[str, object]]) -> None:
    """Put each parameter's default into its widget (what a user sees on first opening the panel)."""
    for name, w in bound_widgets(root).items():
        default = fields.get(name, (None, None))[1]
        if default is None:
            continue
        if isinstance(w, QCheckBox):
            w.setChecked(bool(default))
        elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
            w.setValue(default)
        elif isinstance(w, QComboBox) and type(w) is QComboBox:
            w.clear()
            w.addItem(str(default))


def _example_tables(root: QWidget) -> None:
    for view in root.findChildren(qMRMLTableView):
        if view.objectName() == "metricsTableView":
            rows = [("Tumour DSC", "0.612"), ("Tumour NSD (2 mm)", "0.574"), ("Detected lesions (TP)", "1")]
            headers = ["Metric", "Value"]
        else:
            rows = [("1", "reference", "2.31", "yes"), ("2", "false positive", "0.12", "")]
            headers = ["Lesion", "Kind", "Volume (ml)", "Detected"]
        view.setColumnCount(len(headers))
        view.setHorizontalHeaderLabels(headers)
        view.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                view.setItem(r, c, QTableWidgetItem(v))
        view.resizeColumnsToContents()


def render(module: str, out: Path, width: int = 400) -> Path:
    root = load_ui(ui_path(module))
    show_defaults(root, parameter_fields(parameters_py(module)))
    _example_tables(root)
    root.resize(width, root.sizeHint().height())
    root.adjustSize()
    root.resize(width, root.height())
    out.parent.mkdir(parents=True, exist_ok=True)
    if not root.grab().save(str(out)):
        raise OSError(f"could not write {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Render the SynTumor module panels to PNG (offscreen).")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "img", help="output folder")
    args = p.parse_args(argv)
    for module in MODULES:
        print(render(module, args.out / f"panel_{module}.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
