"""Every module's real parameter-node class, wrapped by Slicer's own parameterNodeWrapper (5.10.0 and
5.12.3) on a fresh vtkMRMLScriptedModuleNode, exactly as opening the panel does: the defaults are
written, every field takes every value the panel can give it (nodes of each accepted type, None
where the panel allows none, empty and set paths, each Choice, both ends of each range) and refuses
the rest, and a saved scene loaded into a new scene gives the same values back.

Guards AUDIT A1 (a Union of node types without None cannot be wrapped: Insertion and Segmentation
panels dead), D11 (empty paths) and D13 (the selected segment is not saved with the scene).
"""

from __future__ import annotations

import pytest

pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

from slicer_harness import MODULES  # noqa: E402
from slicer_harness.fields import cases, same  # noqa: E402
from slicer_harness.release import new_scene, slicer_release  # noqa: E402
from slicer_harness.sources import RELEASES  # noqa: E402

from SynTumorLib.mrml import load_scene, save_scene  # noqa: E402

SEGMENT_FIELDS = {"SynTumorInsertion": "pancreasSegmentId", "SynTumorLabelNoise": "tumourSegmentId"}


@pytest.fixture(params=RELEASES)
def release(request, tmp_path):
    with slicer_release(request.param, tmp_path / "slicer") as rel:
        yield rel


def wrap(release, module, scene=None):
    scene = scene or release.scene
    node = scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode", f"{module} parameters")
    node.SetAttribute("ModuleName", module)
    return release.parameter_class(module)(node), node


@pytest.mark.parametrize("module", MODULES)
def test_wrapping_a_fresh_parameter_node_writes_every_default(release, module):
    p, node = wrap(release, module)  # what initializeParameterNode does when a panel opens
    cls = type(p)
    for name, info in cls.allParameters.items():
        assert same(getattr(p, name), info.default.value), name
        assert info.serializer.isIn(node, name), f"{name}: default not written to the node"


@pytest.mark.parametrize("module", MODULES)
def test_every_field_takes_every_value_the_panel_can_give_it(release, module, tmp_path):
    p, _node = wrap(release, module)
    for case in cases(type(p), module, release.scene, tmp_path):
        for value in case.values:
            setattr(p, case.name, value)
            assert same(getattr(p, case.name), value) or (value is None and getattr(p, case.name) is None), \
                f"{module}.{case.name} ({case.kind}): set {value!r}, read {getattr(p, case.name)!r}"
        before = getattr(p, case.name)
        for value in case.refused:
            with pytest.raises((ValueError, TypeError)):
                setattr(p, case.name, value)
            assert same(getattr(p, case.name), before), f"{module}.{case.name}: a refused value was kept"


@pytest.mark.parametrize("module", MODULES)
def test_values_survive_saving_and_loading_the_scene(release, module, tmp_path):
    p, _node = wrap(release, module)
    chosen = {}
    for case in cases(type(p), module, release.scene, tmp_path):
        value = case.values[0] if case.kind != "range" else case.values[-1]  # a non-default value of each
        setattr(p, case.name, value)
        chosen[case.name] = value
    save_scene(release.scene, tmp_path / "saved" / "scene.mrml")

    fresh = load_scene(tmp_path / "saved" / "scene.mrml", new_scene())
    loaded = fresh.GetFirstNodeByName(f"{module} parameters")
    assert loaded is not None and loaded.IsA("vtkMRMLScriptedModuleNode")
    again = release.parameter_class(module)(loaded)
    for name, value in chosen.items():
        assert same(getattr(again, name), value), f"{module}.{name}: saved {value!r}, loaded {getattr(again, name)!r}"


@pytest.mark.parametrize("module", MODULES)
def test_optional_paths_start_empty(release, module):
    """An empty path field must read as 'not set' (None), not as Path('.') shown as '.' (AUDIT D11)."""
    p, _node = wrap(release, module)
    paths = [c for c in cases(type(p), module, release.scene, release.folder) if "path" in c.kind]
    for case in paths:
        assert getattr(p, case.name) is None, f"{module}.{case.name} starts as {getattr(p, case.name)!r}"


@pytest.mark.parametrize("module", sorted(SEGMENT_FIELDS))
def test_the_selected_segment_is_a_saved_parameter(release, module, tmp_path):
    """The segment chosen in the panel's segment selector is saved with the scene (AUDIT D13)."""
    field = SEGMENT_FIELDS[module]
    p, _node = wrap(release, module)
    assert field in type(p).allParameters, f"{module}: the selected segment is not a parameter"
    setattr(p, field, "Segment_2")
    save_scene(release.scene, tmp_path / "s" / "scene.mrml")
    fresh = load_scene(tmp_path / "s" / "scene.mrml", new_scene())
    again = release.parameter_class(module)(fresh.GetFirstNodeByName(f"{module} parameters"))
    assert getattr(again, field) == "Segment_2"
