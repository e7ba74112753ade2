"""SynTumorSegmentation logic (slicer-core): the predict → load path through the worker (with a stand-in
worker and with a tiny trained model), input checks, and evaluation tables with lesion centres —
in this process and through the worker's ``evaluate`` task, with the same tables."""

from __future__ import annotations

import sys

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

import slicer_harness  # noqa: E402, F401  (the module folders and SynTumorCommon on sys.path)
from slicer_support import new_scene, oblique_case  # noqa: E402
from SynTumorCommon.worker import WorkerJob  # noqa: E402
from SynTumorSegmentationLib import SegmentationLogic  # noqa: E402

from SynTumorLib.metrics import dice  # noqa: E402
from SynTumorLib.mrml import (  # noqa: E402
    PANCREAS,
    TUMOUR,
    find_segment,
    segment_ids,
    segmentation_from_labelmap,
    table_rows,
)
from SynTumorLib.utils.errors import InputError  # noqa: E402


def test_loaded_prediction_replaces_segments_and_removes_the_temporary_folder(tmp_path):
    """A stand-in worker that writes a known label map: the result lands in an existing node, styled."""
    scene = new_scene()
    image, label, ct, seg = oblique_case(scene)
    work = tmp_path / "owned"
    work.mkdir()
    np.save(work / "label.npy", label.array)
    np.save(work / "ijk_to_ras.npy", image.ijk_to_ras)
    (tmp_path / "worker.py").write_text(f"""
import numpy as np
from SynTumorLib import Volume, write_volume
folder = {str(work)!r}
write_volume(Volume(np.load(folder + "/label.npy"), np.load(folder + "/ijk_to_ras.npy")), folder + "/prediction.nrrd")
print("<filter-progress>1.0</filter-progress>")
""")
    job = WorkerJob([sys.executable, str(tmp_path / "worker.py")], folder=work, ownsFolder=True).run(timeout_s=120)
    target = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "existing")
    target.GetSegmentation().AddEmptySegment("old", "old segment")
    out = SegmentationLogic(scene).loadPrediction(job, ct, target)
    job.cleanup()
    assert out is target
    assert [out.GetSegmentation().GetSegment(s).GetName() for s in segment_ids(out)] == ["pancreas", "tumour"]
    from SynTumorLib.mrml import labelmap_from_segments

    back = labelmap_from_segments(out, {find_segment(out, PANCREAS): 1, find_segment(out, TUMOUR): 2}, ct)
    np.testing.assert_array_equal(back.array, label.array)
    assert not work.exists()  # owned temporary folder removed once the label is loaded


def test_start_prediction_checks_inputs(tmp_path):
    scene = new_scene()
    _image, _label, ct, _seg = oblique_case(scene)
    logic = SegmentationLogic(scene)
    with pytest.raises(InputError, match="model folder not found"):
        logic.startPrediction(ct, tmp_path / "nope")
    with pytest.raises(InputError, match="model folder not found: ''"):
        logic.startPrediction(ct, None)  # the panel's empty model field
    with pytest.raises(InputError, match="device"):
        logic.startPrediction(ct, tmp_path, device="tpu")
    with pytest.raises(InputError, match="CT volume"):
        logic.startPrediction(None, tmp_path)


def test_evaluation_through_the_worker_gives_the_same_tables(tmp_path):
    scene = new_scene()
    _image, label, ct, ref_seg = oblique_case(scene)
    pred = label.array.copy()
    pred[18:21, 10:13, 10:13] = 2
    pred_seg = segmentation_from_labelmap(scene, label.with_array(pred), "prediction", ct)
    logic = SegmentationLogic(scene)
    here = logic.evaluate(pred_seg, ref_seg, ct, toleranceMm=2.0)
    job = logic.startEvaluation(pred_seg, ref_seg, ct, toleranceMm=2.0, workDir=tmp_path / "w").run(timeout_s=240)
    there = logic.loadEvaluation(job, ct, 2.0)
    assert table_rows(there.metricsTable) == table_rows(here.metricsTable)
    assert table_rows(there.lesionTable) == table_rows(here.lesionTable)
    with pytest.raises(InputError, match="select both"):
        logic.startEvaluation(None, ref_seg, ct)


def test_evaluate_fills_metrics_and_lesion_tables_with_world_centres():
    scene = new_scene()
    image, label, ct, ref_seg = oblique_case(scene)  # one reference tumour
    pred = label.array.copy()
    pred[pred == 2] = 1  # misses the real tumour …
    pred[18:21, 10:13, 10:13] = 2  # … and invents one elsewhere
    pred_seg = segmentation_from_labelmap(scene, label.with_array(pred), "prediction", ct)
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "moved")
    m = transform.GetMatrixTransformToParent()
    m.SetElement(2, 3, 5.0)
    transform.SetMatrixTransformToParent(m)
    for node in (ct, ref_seg, pred_seg):
        node.SetAndObserveTransformNodeID(transform.GetID())

    result = SegmentationLogic(scene).evaluate(pred_seg, ref_seg, ct, toleranceMm=2.0)
    metrics = {r["Metric"]: r["Value"] for r in table_rows(result.metricsTable)}
    assert metrics["Tumour DSC"] == pytest.approx(dice(pred == 2, label.array == 2)) == 0.0
    assert metrics["Detected lesions (TP)"] == 0 and metrics["False-positive lesions"] == 1
    assert metrics["Pancreas DSC"] > 0.9
    rows = table_rows(result.lesionTable)
    assert [r["Kind"] for r in rows] == ["reference", "false positive"]
    assert rows[0]["Detected"] == "no"
    # the lesion centre is given in world coordinates (the +5 mm S shift included)
    centre_local = image.kji_to_ras(np.argwhere(label.array == 2).mean(axis=0))
    r, a, s = SegmentationLogic.lesionCentre(result.lesionTable, 0)
    np.testing.assert_allclose([r, a, s], centre_local + [0, 0, 5.0], atol=0.05)
    with pytest.raises(InputError, match="no row"):
        SegmentationLogic.lesionCentre(result.lesionTable, 5)


def test_evaluate_needs_a_tumour_segment():
    scene = new_scene()
    _image, _label, ct, seg = oblique_case(scene)
    seg.GetSegmentation().RemoveSegment(find_segment(seg, TUMOUR))
    with pytest.raises(InputError, match="no tumour segment"):
        SegmentationLogic(scene).evaluate(seg, seg, ct)


def test_the_slicer_self_test_steps_on_the_phantom():
    """The same check SynTumorSegmentationTest runs inside Slicer (on a smaller phantom grid)."""
    pytest.importorskip("SynTumorLib.data.phantom", reason="phantom not written yet")
    from SynTumorSegmentationLib.selftest import check_evaluation_on_phantom

    result = check_evaluation_on_phantom(new_scene(), spacing=(2.0, 2.0, 2.0), shape=(48, 48, 40))
    assert result.metrics["lesion_fn"] == result.metrics["n_ref_lesions"]


@pytest.mark.slow
def test_predict_in_a_separate_process_and_load(tmp_path, cli_trained_model):
    """Segment with a tiny trained model in a worker process; load the result as segments."""
    model, training = cli_trained_model
    if training.returncode != 0:
        pytest.fail(f"training the tiny model failed: {training.stderr[-1500:]}")
    scene = new_scene()
    image, _label, ct, seg = oblique_case(scene)
    logic = SegmentationLogic(scene)
    job = logic.startPrediction(ct, model, pancreasNode=seg, device="cpu", overlap=0.25, workDir=tmp_path / "work")
    seen = []
    job.run(progress=lambda f, m: seen.append(f), timeout_s=240)
    assert seen == sorted(seen) and seen[-1] == 1.0 and job.fraction > 0.5
    out = logic.loadPrediction(job, ct)
    names = [out.GetSegmentation().GetSegment(s).GetName() for s in segment_ids(out)]
    assert names == ["pancreas", "tumour"] and find_segment(out, PANCREAS)
    assert (tmp_path / "work" / "input_image.nrrd").is_file()  # a folder the caller gave is the caller's: kept
    again = logic.loadPrediction(job, ct, out)  # replacing the segments of an existing node
    assert again is out and len(segment_ids(out)) == 2
