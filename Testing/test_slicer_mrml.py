"""SynTumorLib.mrml with real MRML classes (the Qt-free slicer-core wheel): nodes ⇄ volumes,
segments with standard names/colours, records and a scene save/load round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

from builders import make_tiny_ct, oblique_direction  # noqa: E402
from slicer_support import new_scene, oblique_case  # noqa: E402

from SynTumorLib.data.volume import Volume  # noqa: E402
from SynTumorLib.mrml import (  # noqa: E402
    PANCREAS,
    TUMOUR,
    add_segment,
    add_volume_node,
    control_points_ras,
    find_segment,
    get_record,
    labelmap_from_segments,
    load_scene,
    save_scene,
    segment_ids,
    segment_mask,
    segment_tag,
    segmentation_from_labelmap,
    set_record,
    table_from_rows,
    table_rows,
    volume_from_node,
    world_to_local_ras,
)
from SynTumorLib.utils.errors import InputError  # noqa: E402


def test_volume_round_trip_keeps_array_and_oblique_geometry():
    scene = new_scene()
    image, _label = make_tiny_ct(shape=(24, 48, 48), spacing=(1.4, 1.4, 2.5), direction_ras=oblique_direction())
    node = add_volume_node(scene, image, "ct")
    back = volume_from_node(node)
    assert back.array.dtype == image.array.dtype
    np.testing.assert_array_equal(back.array, image.array)
    np.testing.assert_allclose(back.ijk_to_ras, image.ijk_to_ras, atol=1e-9)
    assert back.spacing == pytest.approx((1.4, 1.4, 2.5))
    # the library gets a copy: writing into it leaves the node alone
    back.array[:] = 0
    assert volume_from_node(node).array.any()
    # dimensions as Slicer sees them are (i, j, k)
    assert node.GetImageData().GetDimensions() == (48, 48, 24)


def test_volume_from_node_rejects_missing_or_vector_data():
    scene = new_scene()
    empty = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty")
    with pytest.raises(InputError, match="no image data"):
        volume_from_node(empty)
    with pytest.raises(InputError, match="no volume node"):
        volume_from_node(None)


def test_segmentation_round_trip_with_standard_names_colours_terminology():
    scene = new_scene()
    image, label, ct, seg = oblique_case(scene)
    ids = segment_ids(seg)
    names = [seg.GetSegmentation().GetSegment(s).GetName() for s in ids]
    assert names == ["pancreas", "tumour"]
    pan = seg.GetSegmentation().GetSegment(find_segment(seg, PANCREAS))
    tum = seg.GetSegmentation().GetSegment(find_segment(seg, TUMOUR))
    assert pan.GetColor() == pytest.approx(PANCREAS.color)
    assert tum.GetColor() == pytest.approx(TUMOUR.color)
    assert pan.GetColor()[1] > pan.GetColor()[0]  # green-ish
    assert tum.GetColor()[0] > 2 * tum.GetColor()[2]  # red/brown
    tag = slicer.vtkSegment.GetTerminologyEntryTagName()
    assert "Pancreas" in segment_tag(seg, find_segment(seg, PANCREAS), tag)
    assert "Neoplasm" in segment_tag(seg, find_segment(seg, TUMOUR), tag)
    back = labelmap_from_segments(seg, {find_segment(seg, PANCREAS): 1, find_segment(seg, TUMOUR): 2}, ct)
    assert back.same_grid(image)
    np.testing.assert_array_equal(back.array, label.array)
    np.testing.assert_array_equal(segment_mask(seg, find_segment(seg, TUMOUR)).array, label.array == 2)


def test_find_segment_accepts_aliases_ids_and_reports_unknown():
    scene = new_scene()
    _image, label, ct, seg = oblique_case(scene)
    sid = find_segment(seg, TUMOUR)
    seg.GetSegmentation().GetSegment(sid).SetName("Tumor")
    assert find_segment(seg, TUMOUR) == sid
    assert find_segment(seg, sid) == sid
    assert find_segment(seg, "liver") is None
    with pytest.raises(InputError, match="no segment"):
        labelmap_from_segments(seg, {"nope": 1}, ct)


def test_empty_mask_gives_an_empty_named_segment():
    scene = new_scene()
    image, _label, ct, seg = oblique_case(scene, with_tumour=False)
    sid = add_segment(seg, image.with_array(np.zeros(image.shape, np.uint8)), TUMOUR)
    assert seg.GetSegmentation().GetSegment(sid).GetName() == "tumour"
    assert not segment_mask(seg, sid, ct).array.any()


def test_segmentation_without_reference_needs_a_volume():
    scene = new_scene()
    image, label = make_tiny_ct(shape=(8, 10, 12))
    seg = segmentation_from_labelmap(scene, label, "loose")
    with pytest.raises(InputError, match="no reference volume"):
        labelmap_from_segments(seg, {segment_ids(seg)[0]: 1})


def test_control_points_in_world_and_local_frames():
    scene = new_scene()
    image, _label, ct, _seg = oblique_case(scene)
    points = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "centres")
    points.AddControlPoint(1.0, 2.0, 3.0)
    points.AddControlPoint(-4.0, 5.0, 6.0)
    np.testing.assert_allclose(control_points_ras(points), [[1, 2, 3], [-4, 5, 6]])
    assert control_points_ras(None).shape == (0, 3)
    # a volume moved 10 mm along R by a parent transform: world point (11, 2, 3) is local (1, 2, 3)
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    m = transform.GetMatrixTransformToParent()
    m.SetElement(0, 3, 10.0)
    transform.SetMatrixTransformToParent(m)
    ct.SetAndObserveTransformNodeID(transform.GetID())
    np.testing.assert_allclose(world_to_local_ras(ct, [[11.0, 2.0, 3.0]]), [[1.0, 2.0, 3.0]])


def test_records_are_json_attributes_and_bad_json_is_reported():
    scene = new_scene()
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "v")
    record = {"op": "insert", "seed": np.int64(5), "radii": np.array([1.0, 2.0])}
    set_record(node, record)
    assert json.loads(node.GetAttribute("SynTumor.Record")) == {"op": "insert", "seed": 5, "radii": [1.0, 2.0]}
    assert get_record(node)["seed"] == 5
    assert get_record(scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "w")) is None
    node.SetAttribute("SynTumor.Record", "{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        get_record(node)


def test_tables_round_trip():
    scene = new_scene()
    node = table_from_rows(scene, "metrics", ["metric", "value", "n"], [["DSC", 0.5, 1], ["NSD", 0.25, 2]])
    assert table_rows(node) == [{"metric": "DSC", "value": 0.5, "n": 1.0}, {"metric": "NSD", "value": 0.25, "n": 2.0}]


def test_scene_save_load_keeps_data_geometry_segments_and_records(tmp_path):
    scene = new_scene()
    image, label, ct, seg = oblique_case(scene)
    points = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "centres")
    points.AddControlPoint(1.0, 2.0, 3.0)
    set_record(ct, {"op": "test", "seed": 11})
    set_record(seg, {"op": "test", "seed": 12})
    written = save_scene(scene, tmp_path / "scene" / "s.mrml")
    assert (tmp_path / "scene" / "s.mrml").is_file() and len(written) >= 3

    fresh = load_scene(tmp_path / "scene" / "s.mrml")
    ct2 = fresh.GetFirstNodeByName("ct")
    seg2 = fresh.GetFirstNodeByName("ct segmentation")
    assert get_record(ct2) == {"op": "test", "seed": 11}
    assert get_record(seg2) == {"op": "test", "seed": 12}
    back = volume_from_node(ct2)
    np.testing.assert_array_equal(back.array, image.array)
    np.testing.assert_allclose(back.ijk_to_ras, image.ijk_to_ras, atol=1e-6)
    lab = labelmap_from_segments(seg2, {find_segment(seg2, PANCREAS): 1, find_segment(seg2, TUMOUR): 2}, ct2)
    np.testing.assert_array_equal(lab.array, label.array)
    assert seg2.GetSegmentation().GetSegment(find_segment(seg2, TUMOUR)).GetColor() == pytest.approx(TUMOUR.color)
    pts2 = fresh.GetFirstNodeByName("centres")
    np.testing.assert_allclose(control_points_ras(pts2), [[1.0, 2.0, 3.0]])


def test_volume_dataclass_is_what_nodes_hold():
    """A Volume built from spacing/origin lands in the node with the matching IJK→RAS."""
    scene = new_scene()
    v = Volume.from_geometry(np.arange(24, dtype=np.float32).reshape(2, 3, 4), (0.5, 0.7, 3.0), (1, 2, 3))
    node = add_volume_node(scene, v, "f", labelmap=False)
    assert node.GetSpacing() == pytest.approx((0.5, 0.7, 3.0))
    assert node.GetOrigin() == pytest.approx((1, 2, 3))
