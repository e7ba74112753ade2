"""SynTumorInsertion logic on a real MRML scene (slicer-core): point-and-click and random
placement, output geometry, segment styles, untouched inputs, records that survive save/load."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

import slicer_harness  # noqa: E402, F401  (the module folders and SynTumorCommon on sys.path)
from slicer_support import new_scene, oblique_case  # noqa: E402
from SynTumorInsertionLib import InsertionLogic  # noqa: E402

from SynTumorLib.mrml import (  # noqa: E402
    PANCREAS,
    TUMOUR,
    add_volume_node,
    find_segment,
    get_record,
    labelmap_from_segments,
    load_scene,
    save_scene,
    segment_ids,
    segment_mask,
    volume_from_node,
)
from SynTumorLib.utils.errors import InputError, SynTumorError  # noqa: E402

pytest.importorskip("SynTumorLib.insertion.insert", reason="SynTumorLib.insertion.insert_tumours not written yet")


def centroid_ras(mask_volume):
    return mask_volume.kji_to_ras(np.argwhere(mask_volume.array > 0).mean(axis=0))


@pytest.fixture
def case():
    scene = new_scene()
    image, label, ct, seg = oblique_case(scene, with_tumour=False)
    pancreas = np.argwhere(label.array == 1)
    target = image.kji_to_ras(pancreas[len(pancreas) // 2])
    points = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "centres")
    points.AddControlPoint(*target)
    return scene, image, label, ct, seg, points, target


def test_tumour_lands_on_the_clicked_point_and_inputs_are_untouched(case):
    scene, image, label, ct, seg, points, target = case
    seg_before = labelmap_from_segments(seg, {segment_ids(seg)[0]: 1}, ct).array
    result = InsertionLogic(scene).insert(ct, seg, pointsNode=points, sizeClass="small", seed=3)

    out = volume_from_node(result.volumeNode)
    assert out.same_grid(image, atol=1e-9)  # on the input's oblique, anisotropic grid
    assert result.volumeNode.GetName() == "ct + tumour"
    tumour = segment_mask(result.segmentationNode, find_segment(result.segmentationNode, TUMOUR), result.volumeNode)
    assert tumour.array.sum() > 10
    assert np.linalg.norm(centroid_ras(tumour) - target) <= max(image.spacing)  # within a voxel
    assert not np.array_equal(out.array[tumour.array > 0], image.array[tumour.array > 0])  # texture written

    names = [result.segmentationNode.GetSegmentation().GetSegment(s).GetName() for s in segment_ids(result.segmentationNode)]
    assert names == ["pancreas", "tumour"]
    colour = result.segmentationNode.GetSegmentation().GetSegment(find_segment(result.segmentationNode, PANCREAS)).GetColor()
    assert colour == pytest.approx(PANCREAS.color)

    np.testing.assert_array_equal(volume_from_node(ct).array, image.array)
    np.testing.assert_array_equal(labelmap_from_segments(seg, {segment_ids(seg)[0]: 1}, ct).array, seg_before)
    assert get_record(result.volumeNode) == get_record(result.segmentationNode)
    assert get_record(result.volumeNode)["seed"] == 3 == result.record["seed"]


def test_random_placement_seeds_and_reproducibility(case):
    scene, image, label, ct, seg, _points, _target = case
    logic = InsertionLogic(scene)
    a = logic.insert(ct, seg, sizeClass="small", count=1, seed=10)
    b = logic.insert(ct, seg, sizeClass="small", count=1, seed=10)
    c = logic.insert(ct, seg, sizeClass="small", count=1, seed=11)
    va, vb, vc = (volume_from_node(r.volumeNode).array for r in (a, b, c))
    np.testing.assert_array_equal(va, vb)
    assert not np.array_equal(va, vc)  # Apply again with another seed: another tumour
    tumour = segment_mask(a.segmentationNode, find_segment(a.segmentationNode, TUMOUR), a.volumeNode)
    near = np.linalg.norm(image.kji_to_ras(np.argwhere(label.array == 1)) - centroid_ras(tumour), axis=1).min()
    assert near < 3.0  # centred in (or right at) the pancreas
    assert a.volumeNode.GetID() != b.volumeNode.GetID()  # every Apply makes new nodes


def test_fresh_seed_is_recorded_when_none_given(case):
    scene, _image, _label, ct, seg, _points, _target = case
    result = InsertionLogic(scene).insert(ct, seg, sizeClass="tiny", count=1, seed=None)
    assert isinstance(get_record(result.volumeNode)["seed"], int)


def test_label_map_organ_and_parent_transform(case):
    scene, image, label, ct, _seg, points, target = case
    organ = add_volume_node(scene, label, "pancreas label", labelmap=True)
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    m = transform.GetMatrixTransformToParent()
    m.SetElement(1, 3, -7.0)
    transform.SetMatrixTransformToParent(m)
    ct.SetAndObserveTransformNodeID(transform.GetID())
    points.SetNthControlPointPositionWorld(0, target[0], target[1] - 7.0, target[2])  # clicked on the moved CT
    result = InsertionLogic(scene).insert(ct, organ, pointsNode=points, sizeClass="small", seed=5)
    assert result.volumeNode.GetTransformNodeID() == transform.GetID()
    tumour = segment_mask(result.segmentationNode, find_segment(result.segmentationNode, TUMOUR), result.volumeNode)
    assert np.linalg.norm(centroid_ras(tumour) - target) <= max(image.spacing)


def test_records_survive_scene_save_and_load(case, tmp_path):
    scene, _image, _label, ct, seg, points, _target = case
    result = InsertionLogic(scene).insert(ct, seg, pointsNode=points, sizeClass="small", seed=8)
    save_scene(scene, tmp_path / "s.mrml")
    fresh = load_scene(tmp_path / "s.mrml")
    vol = fresh.GetFirstNodeByName("ct + tumour")
    segnode = fresh.GetFirstNodeByName("ct + tumour segmentation")
    assert get_record(vol) == result.record == get_record(segnode)
    np.testing.assert_array_equal(volume_from_node(vol).array, volume_from_node(result.volumeNode).array)


def test_bad_inputs_give_clear_errors(case):
    scene, image, label, ct, seg, _points, _target = case
    logic = InsertionLogic(scene)
    with pytest.raises(InputError, match="pancreas segmentation"):
        logic.insert(ct, None)
    segment = seg.GetSegmentation().GetSegment(segment_ids(seg)[0])
    segment.SetName("pancreas head")
    assert logic.organLabel(ct, seg).array.any()  # still found through its terminology entry
    segment.RemoveTag(slicer.vtkSegment.GetTerminologyEntryTagName())
    with pytest.raises(InputError, match="no segment named 'pancreas'"):
        logic.insert(ct, seg)
    empty = add_volume_node(scene, label.with_array(np.zeros(label.shape, np.uint8)), "empty", labelmap=True)
    with pytest.raises(InputError, match="empty"):
        logic.insert(ct, empty)
    with pytest.raises(InputError, match="size class"):
        logic.buildSpec("huge")


def test_the_slicer_self_test_steps_on_the_phantom():
    """The same check SynTumorInsertionTest runs inside Slicer (on a smaller phantom grid)."""
    pytest.importorskip("SynTumorLib.data.phantom", reason="phantom not written yet")
    from SynTumorInsertionLib.selftest import check_insertion_on_phantom

    result = check_insertion_on_phantom(new_scene(), spacing=(2.0, 2.0, 2.0), shape=(48, 48, 40))
    assert result.record["seed"] == 7


# ------------------------------------------------------------------ the panel's way: a worker process
def scene_nodes(scene) -> list[str]:
    """The scene's nodes, but the subject hierarchy (the application has one from the start; a bare
    slicer-core scene makes it on first use)."""
    nodes = (scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes()))
    return sorted(n.GetID() for n in nodes if not n.IsA("vtkMRMLSubjectHierarchyNode"))


def test_the_worker_gives_the_same_result_as_this_process(case, tmp_path):
    scene, image, _label, ct, seg, points, _target = case
    logic = InsertionLogic(scene)
    here = logic.insert(ct, seg, pointsNode=points, sizeClass="small", seed=4)
    job = logic.startInsertion(ct, seg, pointsNode=points, sizeClass="small", seed=4, folder=tmp_path / "work")
    seen = []
    job.run(progress=lambda f, m: seen.append(f), timeout_s=240)
    there = logic.loadInsertion(job, ct)
    np.testing.assert_array_equal(volume_from_node(there.volumeNode).array, volume_from_node(here.volumeNode).array)
    assert there.record == here.record and get_record(there.segmentationNode) == here.record
    assert volume_from_node(there.volumeNode).same_grid(image, atol=1e-6)
    assert seen == sorted(seen) and seen[-1] == 1.0
    np.testing.assert_array_equal(volume_from_node(ct).array, image.array)  # the input is untouched


def test_a_cancelled_insertion_adds_nothing(case, tmp_path, monkeypatch):
    scene, image, _label, ct, seg, points, _target = case
    logic = InsertionLogic(scene)
    before = scene_nodes(scene)
    job = logic.startInsertion(ct, seg, pointsNode=points, seed=1)
    folder = job.folder
    job.cancelled = True  # cancelled before its result was loaded
    with pytest.raises(SynTumorError, match="cancelled"):
        logic.loadInsertion(job, ct)
    job.cleanup()
    assert scene_nodes(scene) == before and not folder.exists()


def test_a_crashed_worker_is_reported_and_adds_nothing(case, tmp_path):
    scene, _image, _label, ct, seg, _points, _target = case
    logic = InsertionLogic(scene)
    before = scene_nodes(scene)
    job = logic.startInsertion(ct, seg, seed=1, texture=str(tmp_path / "no such model"), folder=tmp_path / "w")
    with pytest.raises(SynTumorError, match=r"(?s)insert process failed \(exit code 2\).*no such model"):
        job.run(timeout_s=240)
    with pytest.raises(SynTumorError):
        logic.loadInsertion(job, ct)
    assert scene_nodes(scene) == before


def test_a_result_that_cannot_be_added_leaves_no_orphan_nodes(case, monkeypatch):
    scene, image, label, ct, seg, _points, _target = case
    logic = InsertionLogic(scene)
    before = scene_nodes(scene)
    import SynTumorInsertionLib.logic as insertion_logic

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(insertion_logic, "segmentation_from_labelmap", broken)  # fails after the volume node
    with pytest.raises(RuntimeError, match="disk full"):
        logic.insert(ct, seg, sizeClass="small", seed=2)
    assert scene_nodes(scene) == before
