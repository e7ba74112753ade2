"""Lesion detection from probability maps (PI-CAI's protocol): hand-made cases (a hit, a miss, a false
positive, an empty case) against hand-computed FROC / AP / AUROC, the matching rules (IoU
threshold, one-to-one, minimum size in mm³), agreement with the `picai_eval` package on random
detection maps, and the folder evaluation with probability maps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from SynTumorLib.data.io import write_volume
from SynTumorLib.data.volume import Volume
from SynTumorLib.metrics.detection import (
    DetectionRule,
    auroc,
    average_precision,
    case_detection,
    detection_summary,
    froc,
    lesion_candidates,
    lesion_list,
)
from SynTumorLib.metrics.evaluate import evaluate_folders
from SynTumorLib.utils.errors import InputError

SHAPE = (24, 24, 24)
SP = (1.0, 1.0, 1.0)


def _cube(arr, lo, hi, value=True):
    arr[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = value
    return arr


def _hand_cases():
    """A: lesion found (0.9); B: lesion missed (max prob 0.05 < threshold); C: no lesion, one false
    positive (0.6); D: no lesion, empty map."""
    ref_a = _cube(np.zeros(SHAPE, bool), (4, 4, 4), (10, 10, 10))
    prob_a = _cube(np.zeros(SHAPE), (5, 5, 5), (10, 10, 10), 0.9)
    ref_b = _cube(np.zeros(SHAPE, bool), (12, 12, 12), (18, 18, 18))
    prob_b = _cube(np.zeros(SHAPE), (12, 12, 12), (18, 18, 18), 0.05)
    prob_c = _cube(np.zeros(SHAPE), (2, 2, 2), (6, 6, 6), 0.6)
    return [case_detection(prob_a, ref_a, SP), case_detection(prob_b, ref_b, SP),
            case_detection(prob_c, np.zeros(SHAPE, bool), SP), case_detection(np.zeros(SHAPE), np.zeros(SHAPE, bool), SP)]


def test_hand_made_hit_miss_false_positive_and_empty_case():
    a, b, c, d = _hand_cases()
    assert [le["hit"] for le in a["lesions"]] == [True] and a["lesions"][0]["iou"] == pytest.approx(125 / 216)
    assert b["candidates"] == [] and [le["hit"] for le in b["lesions"]] == [False] and b["score"] == pytest.approx(0.05)
    assert [x["kind"] for x in c["candidates"]] == ["fp"] and not c["has_tumour"]
    assert d["candidates"] == d["lesions"] == [] and d["score"] == 0.0
    assert lesion_list(a) == [(1, 0.9)] and lesion_list(b) == [(1, 0.0)] and lesion_list(c) == [(0, 0.6)]
    f = froc([a, b, c, d])
    # threshold 0.9: 1 of 2 lesions, 0 FP; threshold 0.6: still 1 of 2, 1 FP over 4 cases
    assert f["thresholds"] == [0.9, 0.6] and f["sensitivity"] == [0.5, 0.5] and f["fp_per_case"] == [0.0, 0.25]
    assert set(f["sensitivity_at"].values()) == {0.5}
    assert average_precision([a, b, c, d]) == pytest.approx(0.5)  # recall 0.5 at precision 1, never more
    # cases A (0.9), B (0.05) positive; C (0.6), D (0) negative: A beats both, B beats D only → 3/4
    s = detection_summary([a, b, c, d])
    assert s["auroc"] == pytest.approx(0.75) and s["n_lesions"] == 2 and s["n_candidates"] == 2
    assert s["rule"] == {"threshold": 0.1, "min_lesion_mm3": 10.0, "hit_iou": 0.1}


def test_froc_counts_false_positives_per_case_and_ranks_by_confidence():
    ref = _cube(np.zeros(SHAPE, bool), (2, 2, 2), (6, 6, 6)) | _cube(np.zeros(SHAPE, bool), (14, 14, 14), (20, 20, 20))
    prob = np.zeros(SHAPE)
    _cube(prob, (2, 2, 2), (6, 6, 6), 0.8)       # lesion 1 at 0.8
    _cube(prob, (14, 14, 14), (20, 20, 20), 0.3)  # lesion 2 at 0.3
    _cube(prob, (2, 16, 2), (5, 19, 5), 0.5)      # a false positive between them
    c = case_detection(prob, ref, SP)
    f = froc([c, case_detection(np.zeros(SHAPE), np.zeros(SHAPE, bool), SP)])
    assert f["thresholds"] == [0.8, 0.5, 0.3] and f["sensitivity"] == [0.5, 0.5, 1.0]
    assert f["fp_per_case"] == [0.0, 0.5, 0.5]
    assert f["sensitivity_at"]["0.125"] == 0.5 and f["sensitivity_at"]["0.5"] == 1.0 and f["sensitivity_at"]["8"] == 1.0
    # AP: recall 0.5 at precision 1 (t=0.8), then recall 1 at precision 2/3 (t=0.3)
    assert average_precision([c]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_iou_threshold_one_to_one_matching_and_minimum_size():
    ref = _cube(np.zeros(SHAPE, bool), (4, 4, 4), (14, 14, 14))  # 1000 voxels
    small_overlap = _cube(np.zeros(SHAPE), (12, 12, 12), (18, 18, 18), 0.7)  # 8 shared of 1208 → IoU 0.0066
    c = case_detection(small_overlap, ref, SP)
    assert not c["lesions"][0]["hit"] and c["candidates"][0]["kind"] == "fp"
    assert case_detection(small_overlap, ref, SP, {"hit_iou": 0.005})["lesions"][0]["hit"]  # configurable
    # two candidates on one lesion: the better IoU is the hit, the other is not a false positive
    two = np.zeros(SHAPE)
    _cube(two, (4, 4, 4), (14, 14, 9), 0.6)
    _cube(two, (4, 4, 10), (14, 14, 14), 0.9)
    c = case_detection(two, ref, SP)
    assert [x["kind"] for x in c["candidates"]] == ["tp", "ignored"] and c["lesions"][0]["confidence"] == 0.6
    assert lesion_list(c) == [(1, 0.6)]
    # one candidate covering two lesions detects only one (one-to-one)
    refs = _cube(_cube(np.zeros(SHAPE, bool), (4, 4, 4), (8, 8, 8)), (4, 4, 10), (8, 8, 14))
    blob = _cube(np.zeros(SHAPE), (4, 4, 4), (8, 8, 14), 0.8)
    assert sorted(le["hit"] for le in case_detection(blob, refs, SP)["lesions"]) == [False, True]
    # minimum lesion size in mm³ (anisotropic voxels: 2 mm³ each)
    p = _cube(np.zeros(SHAPE), (1, 1, 1), (3, 3, 2), 0.9)  # 4 voxels = 8 mm³
    assert lesion_candidates(p, (2.0, 1.0, 1.0), min_lesion_mm3=10.0)[1] == []
    assert len(lesion_candidates(p, (2.0, 1.0, 1.0), min_lesion_mm3=8.0)[1]) == 1


def test_undefined_metrics_and_bad_input():
    empty = case_detection(np.zeros(SHAPE), np.zeros(SHAPE, bool), SP)
    s = detection_summary([empty])
    assert s["auroc"] is None and s["average_precision"] is None and set(s["sensitivity_at"].values()) == {None}
    miss = case_detection(np.zeros(SHAPE), _cube(np.zeros(SHAPE, bool), (2, 2, 2), (5, 5, 5)), SP)
    assert average_precision([miss]) == 0.0 and froc([miss])["sensitivity_at"]["8"] == 0.0
    assert auroc([0.2, 0.3], [True, True]) is None and auroc([0.5, 0.5], [True, False]) == 0.5
    with pytest.raises(InputError, match="within"):
        case_detection(np.full(SHAPE, 1.5), np.zeros(SHAPE, bool), SP)
    with pytest.raises(InputError, match="float"):
        case_detection(np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, bool), SP)
    with pytest.raises(InputError, match="shapes differ"):
        case_detection(np.zeros(SHAPE), np.zeros((4, 4, 4), bool), SP)
    for bad in ({"threshold": 0}, {"hit_iou": 1.5}, {"min_lesion_mm3": -1}, {"iou": 0.1}):
        with pytest.raises(InputError):
            DetectionRule.resolve(bad)


def _random_case(rng, lesions: int, blobs: int):
    """A random reference (cubes) and probability map: noise below the threshold, random blobs, and
    near most lesions one or two blobs shifted by a few voxels (hits, near misses, duplicates)."""
    ref = np.zeros((32, 32, 32), bool)
    starts = []
    for _ in range(lesions):
        lo = rng.integers(1, 24, 3)
        starts.append(lo)
        ref[tuple(slice(a, a + int(rng.integers(3, 8))) for a in lo)] = True
    prob = rng.uniform(0, 0.08, ref.shape)  # background noise below the threshold
    near = [np.clip(lo + rng.integers(-2, 3, 3), 0, 26) for lo in starts for _ in range(int(rng.integers(0, 4)))]
    for n in range(blobs + len(near)):
        lo = near[n - blobs] if n >= blobs else rng.integers(0, 26, 3)
        size = rng.integers(2, 7, 3)
        peak = rng.uniform(0.15, 1.0)
        k, j, i = np.ogrid[: size[0], : size[1], : size[2]]
        blob = peak * (0.6 + 0.4 * np.exp(-((k - size[0] / 2) ** 2 + (j - size[1] / 2) ** 2 + (i - size[2] / 2) ** 2) / 6))
        sl = tuple(slice(a, a + s) for a, s in zip(lo, size, strict=True))
        prob[sl] = np.maximum(prob[sl], blob[tuple(slice(0, x.stop - x.start) for x in sl)])
    return np.clip(prob, 0, 1).astype(np.float32), ref  # float32 as the saved maps (and picai_eval)


def test_agrees_with_picai_eval_on_random_detection_maps():
    picai = pytest.importorskip("picai_eval", reason="picai_eval not installed (pip install picai_eval; in the test extras)")
    from picai_eval.metrics import Metrics

    rng = np.random.default_rng(11)
    ours, y_det, y_true = [], [], []
    for n in range(24):
        prob, ref = _random_case(rng, lesions=int(rng.integers(0, 3)), blobs=int(rng.integers(0, 5)))
        if n == 0:  # a lesion no candidate reaches, so picai's curve ends at threshold 0 like ours (below)
            ref[28:31, 28:31, 28:31] = True
            prob[27:32, 27:32, 27:32] = 0.01
        if n == 1:  # two candidates on one lesion: one is matched, the other neither TP nor FP
            ref[2:10, 2:10, 2:10] = True
            prob[2:10, 2:10, 2:5], prob[2:10, 2:10, 6:10] = 0.45, 0.55
            prob[:, :, 5] = np.minimum(prob[:, :, 5], 0.05)
        c = case_detection(prob, ref, SP, {"threshold": 0.1, "min_lesion_mm3": 4, "hit_iou": 0.1})
        ours.append(c)
        # picai_eval takes detection maps: each kept candidate filled with its confidence
        from SynTumorLib.metrics.detection import lesion_candidates as cands

        lab, cs = cands(prob, SP, 0.1, 4)
        det = np.zeros(prob.shape, np.float32)
        for x in cs:
            det[lab == x["id"]] = x["confidence"]
        y_det.append(det)
        y_true.append(ref.astype(np.int32))
    m = picai.evaluate(y_det=y_det, y_true=y_true, min_overlap=0.1, num_parallel_calls=1)
    for n, c in enumerate(ours):
        theirs = sorted((int(a), round(float(b), 5)) for a, b, _ in m.lesion_results[n])
        assert sorted((a, round(b, 5)) for a, b in lesion_list(c)) == theirs, n
    assert average_precision(ours) == pytest.approx(m.AP, abs=1e-6)
    # picai's case score is the max of its detection map; ours the max of the probability map —
    # compare the AUROC computation itself on picai's scores, and ours on the maps
    assert auroc([m.case_pred[n] for n in range(len(ours))], [bool(m.case_target[n]) for n in range(len(ours))]) \
        == pytest.approx(m.auroc)
    f = froc(ours)
    for x, sens in f["sensitivity_at"].items():
        assert sens == pytest.approx(m.lesion_TPR_at_FPR(float(x)), abs=1e-6), x
    assert Metrics  # the Metrics class is the one behind m (same version as the cross-check was written for)


def test_evaluate_folders_with_probability_maps(tmp_path):
    ref = np.zeros(SHAPE, np.uint8)
    _cube(ref, (2, 2, 2), (20, 20, 20), 1)
    _cube(ref, (4, 4, 4), (10, 10, 10), 2)
    prob = _cube(np.zeros(SHAPE, np.float32), (5, 5, 5), (10, 10, 10), 0.8)
    pred = ref.copy()
    for d in ("pred", "prob", "ref"):
        (tmp_path / d).mkdir()
    write_volume(Volume.from_geometry(pred), tmp_path / "pred" / "a.nii.gz")
    write_volume(Volume.from_geometry(ref), tmp_path / "ref" / "a.nii.gz")
    write_volume(Volume.from_geometry(prob), tmp_path / "prob" / "a.nii.gz")
    s = evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "out", prob_dir=tmp_path / "prob")
    assert s["cases"][0]["tumour_score"] == pytest.approx(0.8) and s["detection"]["n_lesions"] == 1
    saved = json.loads((tmp_path / "out" / "detection.json").read_text())
    assert saved["cases"][0]["lesions"][0]["hit"] and saved["summary"]["sensitivity_at"]["1"] == 1.0
    assert "Detection (PI-CAI protocol)" in (tmp_path / "out" / "summary.md").read_text()
    assert s["by_diameter"]["< 2 cm"]["n_lesions"] == 1  # a 6 mm cube: equivalent diameter 7.4 mm
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no probability map for prediction"):
        evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "o2", prob_dir=tmp_path / "empty")
    with pytest.raises(InputError, match="probability-map folder not found"):
        evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "o2", prob_dir=tmp_path / "nope")
    (tmp_path / "prob" / "a.nii.gz").unlink()
    write_volume(Volume.from_geometry(prob, spacing=(2, 2, 2)), tmp_path / "prob" / "a.nii.gz")
    with pytest.raises(InputError, match="different grids"):
        evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "o3", prob_dir=tmp_path / "prob")
    write_volume(Volume.from_geometry(ref), tmp_path / "prob" / "a.nii.gz")  # a label map is not a probability map
    with pytest.raises(InputError, match=r"prob/a\.nii\.gz: probability map must be a 3-D float"):
        evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "o4", prob_dir=tmp_path / "prob")


def test_picai_eval_froc_drops_its_lowest_threshold_ours_does_not():
    """The one documented difference (docs/metrics.md): with no missed lesion, picai_eval overwrites
    the last point of its FROC, so two lesions found at 0.9 and 0.3 read as sensitivity 0.5."""
    picai = pytest.importorskip("picai_eval", reason="picai_eval not installed (pip install picai_eval; in the test extras)")
    ref = _cube(_cube(np.zeros(SHAPE, bool), (2, 2, 2), (8, 8, 8)), (12, 12, 12), (16, 16, 16))
    prob = _cube(_cube(np.zeros(SHAPE, np.float32), (2, 2, 2), (8, 8, 8), 0.9), (12, 12, 12), (16, 16, 16), 0.3)
    c = case_detection(prob, ref, SP)
    m = picai.evaluate([prob], [ref.astype(np.int32)], num_parallel_calls=1)
    assert froc([c])["sensitivity_at"]["1"] == 1.0 and m.lesion_TPR_at_FPR(1.0) == pytest.approx(0.5)
    assert average_precision([c]) == pytest.approx(m.AP) == pytest.approx(1.0)
