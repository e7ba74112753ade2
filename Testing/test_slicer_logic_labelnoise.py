"""SynTumorLabelNoise logic on a real MRML scene (slicer-core): the noisy copy is a new segment
beside the original, Dice/MSD are reported, the record survives save/load."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

import slicer_harness  # noqa: E402, F401  (the module folders and SynTumorCommon on sys.path)
from slicer_support import new_scene, oblique_case  # noqa: E402
from SynTumorLabelNoiseLib import LabelNoiseLogic  # noqa: E402

from SynTumorLib.mrml import (  # noqa: E402
    NOISY_COLOR,
    TUMOUR,
    find_segment,
    load_scene,
    save_scene,
    segment_ids,
    segment_mask,
)
from SynTumorLib.utils.errors import InputError  # noqa: E402

pytest.importorskip("SynTumorLib.corruption.corrupt", reason="SynTumorLib.corruption.corrupt_label not written yet")


def big_tumour_case(scene):
    image, label, ct, seg = oblique_case(scene, with_tumour=False)
    lab = label.array.copy()
    lab[8:16, 18:30, 18:30] = 2  # a 8×12×12-voxel tumour: enough boundary for visible noise
    from SynTumorLib.mrml import segmentation_from_labelmap

    scene.RemoveNode(seg)
    seg = segmentation_from_labelmap(scene, label.with_array(lab), "ct segmentation", ct)
    return image, label.with_array(lab), ct, seg


def test_noisy_copy_is_added_beside_the_original():
    scene = new_scene()
    _image, label, ct, seg = big_tumour_case(scene)
    tumourId = find_segment(seg, TUMOUR)
    before = segment_mask(seg, tumourId, ct).array.copy()
    result = LabelNoiseLogic().corrupt(seg, tumourId, level="extreme", seed=1)
    assert segment_ids(seg) == [*segment_ids(seg)[:2], result.segmentId] and len(segment_ids(seg)) == 3
    np.testing.assert_array_equal(segment_mask(seg, tumourId, ct).array, before)  # original untouched
    noisy = segment_mask(seg, result.segmentId, ct).array
    assert noisy.any() and not np.array_equal(noisy, before)
    segment = seg.GetSegmentation().GetSegment(result.segmentId)
    assert segment.GetName() == "tumour (noisy: extreme, seed 1)"
    assert segment.GetColor() == pytest.approx(NOISY_COLOR)
    assert 0.0 < result.dice < 1.0
    assert result.meanSurfaceDistanceMm > 0.0
    assert LabelNoiseLogic.recordOf(seg, result.segmentId)["seed"] == 1


def test_stronger_noise_moves_the_boundary_further_and_seed_reproduces():
    scene = new_scene()
    _image, _label, ct, seg = big_tumour_case(scene)
    tumourId = find_segment(seg, TUMOUR)
    logic = LabelNoiseLogic()
    low = logic.corrupt(seg, tumourId, level="low", seed=3)
    extreme = logic.corrupt(seg, tumourId, level="extreme", seed=3)
    assert extreme.dice < low.dice
    custom_a = logic.corrupt(seg, tumourId, level=None, sigmaMm=2.5, seed=9)
    custom_b = logic.corrupt(seg, tumourId, level=None, sigmaMm=2.5, seed=9)
    np.testing.assert_array_equal(segment_mask(seg, custom_a.segmentId, ct).array,
                                  segment_mask(seg, custom_b.segmentId, ct).array)
    assert "σ 2.5 mm" in seg.GetSegmentation().GetSegment(custom_a.segmentId).GetName()


def test_record_survives_save_and_load(tmp_path):
    scene = new_scene()
    _image, _label, ct, seg = big_tumour_case(scene)
    result = LabelNoiseLogic().corrupt(seg, find_segment(seg, TUMOUR), level="moderate", seed=5)
    save_scene(scene, tmp_path / "s.mrml")
    fresh = load_scene(tmp_path / "s.mrml")
    seg2 = fresh.GetFirstNodeByClass("vtkMRMLSegmentationNode")
    assert LabelNoiseLogic.recordOf(seg2, result.segmentId) == {**result.record, "source_segment": "tumour"}


def test_bad_inputs_give_clear_errors():
    scene = new_scene()
    _image, _label, ct, seg = oblique_case(scene, with_tumour=False)
    logic = LabelNoiseLogic()
    with pytest.raises(InputError, match="empty"):
        logic.corrupt(seg, find_segment(seg, TUMOUR), level="low")
    with pytest.raises(InputError, match="noise level"):
        logic.corrupt(seg, find_segment(seg, TUMOUR), level="huge")
    with pytest.raises(InputError, match="select the segment"):
        logic.corrupt(seg, "", level="low")


def test_the_slicer_self_test_steps_on_the_phantom():
    """The same check SynTumorLabelNoiseTest runs inside Slicer (on a smaller phantom grid)."""
    pytest.importorskip("SynTumorLib.data.phantom", reason="phantom not written yet")
    from SynTumorLabelNoiseLib.selftest import check_label_noise_on_phantom

    result = check_label_noise_on_phantom(new_scene(), spacing=(2.0, 2.0, 2.0), shape=(48, 48, 40))
    assert result.record["seed"] == 4
