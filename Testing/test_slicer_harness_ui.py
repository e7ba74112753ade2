"""The panels' ``.ui`` bindings against each release's own GUI connectors (5.10.0 and 5.12.3).

Every widget a ``.ui`` binds with ``SlicerParameterName`` is built as a stand-in of its class, and
the connector is chosen the way Slicer chooses it — ``createGuiConnector`` walking that release's
registry (``guiConnectors.py``, plus the one SynTumor registers) — not from a list written here.
Then ``connectGui`` binds the whole panel: each widget shows its parameter's value, a change in the
widget reaches the parameter node and a change in the node reaches the widget.
"""

from __future__ import annotations

import inspect
import pathlib

import pytest

pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

from slicer_harness import MODULES, SYNTUMOR  # noqa: E402
from slicer_harness.fields import cases, same, ui_bindings  # noqa: E402
from slicer_harness.release import slicer_release  # noqa: E402
from slicer_harness.sources import RELEASES  # noqa: E402

OURS = SYNTUMOR / "SynTumorCommon" / "connectors.py"


@pytest.fixture(params=RELEASES)
def release(request, tmp_path):
    with slicer_release(request.param, tmp_path / "slicer") as rel:
        import SynTumorCommon.connectors  # noqa: F401  (registers like the panels do, into this release)

        yield rel


def panel(release, module):
    """The module's .ui loaded by Slicer's own loadUI/childWidgetVariables (stand-in widgets)."""
    slicer = release.slicer
    widget = slicer.util.loadUI(str(SYNTUMOR / module / "Resources" / "UI" / f"{module}.ui"))
    widget.setMRMLScene(release.scene)
    return widget, slicer.util.childWidgetVariables(widget)


def wrapped(release, module):
    node = release.scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode", f"{module} parameters")
    return release.parameter_class(module)(node)


@pytest.mark.parametrize("module", MODULES)
def test_every_bound_widget_has_a_connector_in_this_release(release, module):
    from slicer.parameterNodeWrapper import createGuiConnector

    guiConnectors = pathlib.Path(inspect.getfile(createGuiConnector))
    assert guiConnectors.parent.parent.parent.name == f"v{release.version}"  # this release's file
    p = wrapped(release, module)
    _widget, ui = panel(release, module)
    bound = ui_bindings(module)
    assert bound, f"{module}.ui binds nothing"
    for name, element in bound.items():
        assert name in type(p).allParameters, f"{module}.ui binds '{name}', which is not a parameter"
        widget = getattr(ui, element.get("name"))
        connector = createGuiConnector(widget, p.dataType(name))  # raises when Slicer has none
        source = pathlib.Path(inspect.getfile(type(connector)))
        assert source in (guiConnectors, OURS), f"{name}: connector from {source}"


@pytest.mark.parametrize("module", MODULES)
def test_connect_gui_binds_the_whole_panel_both_ways(release, module, tmp_path):
    p = wrapped(release, module)
    _widget, ui = panel(release, module)
    bound = {name: getattr(ui, element.get("name")) for name, element in ui_bindings(module).items()}
    tag = p.connectGui(ui)
    connectors = p._parameterGUIs[tag]
    assert set(connectors) == set(bound)
    for name, connector in connectors.items():
        assert same(connector.read(), getattr(p, name)), f"{name}: the widget does not show the parameter"
    for case in cases(type(p), module, release.scene, tmp_path):
        if case.name not in connectors:
            continue
        connector = connectors[case.name]
        for value in case.values:
            if case.kind == "node" and value is not None and not bound[case.name].noneEnabled:
                pass  # any offered node may be chosen; None only where the combo offers it
            elif case.kind == "node" and value is None and not bound[case.name].noneEnabled:
                continue
            setattr(p, case.name, value)  # node → widget
            assert same(connector.read(), value) or (value is None and connector.read() is None), \
                f"{module}.{case.name}: node has {value!r}, widget shows {connector.read()!r}"
        for value in reversed(case.values):  # widget → node (what a user's edit does)
            if case.kind == "node" and value is None and not bound[case.name].noneEnabled:
                continue
            connector.write(value)
            connector.changed()
            assert same(getattr(p, case.name), value) or (value is None and getattr(p, case.name) is None), \
                f"{module}.{case.name}: widget has {value!r}, node got {getattr(p, case.name)!r}"
    p.disconnectGui(tag)


@pytest.mark.parametrize("module", MODULES)
def test_empty_path_fields_show_empty(release, module):
    """A path nobody chose is an empty line edit, not '.' (AUDIT D11)."""
    p = wrapped(release, module)
    _widget, ui = panel(release, module)
    p.connectGui(ui)
    paths = {n: e.get("name") for n, e in ui_bindings(module).items() if e.get("class") == "ctkPathLineEdit"}
    for name, widgetName in paths.items():
        assert getattr(ui, widgetName).currentPath == "", f"{name} shows {getattr(ui, widgetName).currentPath!r}"
        getattr(ui, widgetName).currentPath = "/data/models/unet"
        assert getattr(p, name) == pathlib.Path("/data/models/unet")
        getattr(ui, widgetName).currentPath = ""
        assert getattr(p, name) is None, f"{name}: clearing the field gives {getattr(p, name)!r}"


@pytest.mark.parametrize("module", MODULES)
def test_ranges_in_the_ui_come_from_the_parameter_node(release, module):
    """The connectors set each spin box's range from the field's WithinRange: the bounds are reachable."""
    from slicer.parameterNodeWrapper import WithinRange, findFirstAnnotation, splitAnnotations

    p = wrapped(release, module)
    _widget, ui = panel(release, module)
    p.connectGui(ui)
    for name, element in ui_bindings(module).items():
        limits = findFirstAnnotation(splitAnnotations(p.dataType(name))[1], WithinRange)
        if limits is None:
            continue
        widget = getattr(ui, element.get("name"))
        assert (widget.minimum, widget.maximum) == pytest.approx((limits.minimum, limits.maximum)), name
        for bound in (limits.minimum, limits.maximum):
            widget.value = bound
            assert getattr(p, name) == pytest.approx(bound), f"{name}: {bound} set in the widget"
