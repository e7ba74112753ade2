"""Evaluation: per-case metrics, empty ground truth, size bins, folders, the ``syntumor evaluate`` CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from SynTumorLib.cli.main import main
from SynTumorLib.data.io import write_volume
from SynTumorLib.data.msd import MSDWriter
from SynTumorLib.data.volume import Volume
from SynTumorLib.metrics.evaluate import evaluate_case, evaluate_folders, mean_sd
from SynTumorLib.metrics.size_breakdown import SizeBins
from SynTumorLib.utils.errors import InputError

SPACING = (0.8, 0.8, 2.5)  # i, j, k — anisotropic like a clinical CT


def label_pair(shift: int = 2):
    """ref: a pancreas block with two tumours (a big and a small one); pred: big one shifted, small missed, one FP."""
    ref = np.zeros((16, 40, 40), np.uint8)
    ref[2:14, 5:35, 5:35] = 1
    ref[4:10, 10:22, 10:22] = 2
    ref[11:13, 28:31, 28:31] = 2
    pred = np.zeros_like(ref)
    pred[2:14, 5:35, 5:35] = 1
    pred[4:10, 10:22, 10 + shift:22 + shift] = 2
    pred[2:4, 30:33, 6:9] = 2  # false positive, away from any reference tumour
    v = Volume.from_geometry(ref, spacing=SPACING, origin_ras=(10, -20, 5))
    return v.with_array(pred), v


def test_evaluate_case_matches_deepmind_surface_distance():
    surface_distance = pytest.importorskip("surface_distance")
    pred, ref = label_pair()
    pred_before = pred.array.copy()
    r = evaluate_case(pred, ref, tolerance_mm=2.0, size_classes=[1.5, 4.0, 6.5])
    assert np.array_equal(pred.array, pred_before)  # inputs untouched
    p, g = pred.array == 2, ref.array == 2
    sd = surface_distance.compute_surface_distances(g, p, ref.array_spacing)
    assert r["tumour_nsd"] == pytest.approx(surface_distance.compute_surface_dice_at_tolerance(sd, 2.0), abs=1e-9)
    assert r["tumour_hd95"] == pytest.approx(surface_distance.compute_robust_hausdorff(sd, 95), abs=1e-9)
    expected_dice = 2 * np.count_nonzero(p & g) / (p.sum() + g.sum())
    assert r["tumour_dice"] == pytest.approx(expected_dice)
    assert r["pancreas_dice"] == 1.0  # union of labels 1 and 2 is identical
    assert (r["n_ref_lesions"], r["lesion_tp"], r["lesion_fn"], r["lesion_fp"]) == (2, 1, 1, 1)
    assert r["lesion_sensitivity"] == 0.5
    voxel_ml = 0.8 * 0.8 * 2.5 / 1000
    assert r["ref_tumour_ml"] == pytest.approx((6 * 12 * 12 + 2 * 3 * 3) * voxel_ml)
    big, small = sorted(r["lesions"], key=lambda le: -le["volume_ml"])
    assert big["detected"] and not small["detected"]
    assert (small["size_class"], big["size_class"]) == ("small", "large")  # r ≈ 1.9 mm vs ≈ 6.9 mm


def test_empty_ground_truth_rules():
    ref = Volume.from_geometry(np.zeros((10, 12, 12), np.uint8))
    r = evaluate_case(ref.with_array(ref.array.copy()), ref)
    assert (r["tumour_dice"], r["tumour_nsd"], r["tumour_hd95"], r["lesion_sensitivity"]) == (1.0, 1.0, 0.0, None)
    assert r["size_class"] == "none" and not r["ref_has_tumour"]
    fp = ref.array.copy()
    fp[3:5, 3:5, 3:5] = 2
    r2 = evaluate_case(ref.with_array(fp), ref)
    assert (r2["tumour_dice"], r2["tumour_nsd"], r2["lesion_fp"]) == (0.0, 0.0, 1)
    assert r2["tumour_hd95"] == float("inf")


def test_bad_inputs():
    pred, ref = label_pair()
    other = Volume.from_geometry(ref.array, spacing=(0.8, 0.8, 3.0))
    with pytest.raises(InputError, match="a.nii.gz and b.nii.gz are on different grids"):
        evaluate_case(pred, other, pred_name="a.nii.gz", ref_name="b.nii.gz")
    bad = pred.array.copy()
    bad[0, 0, 0] = 7
    with pytest.raises(InputError, match=r"label values \[7\]"):
        evaluate_case(pred.with_array(bad), ref)


def test_size_bins():
    b = SizeBins.resolve([5.0, 9.0, 14.0])
    assert [b.classify(r) for r in (1, 5, 8.9, 9, 100)] == ["tiny", "small", "small", "medium", "large"]
    assert SizeBins.resolve("difftumor").cuts_mm == [6.0, 12.0, 24.0]
    assert SizeBins.resolve([3.0]).names == ["size0", "size1"]
    assert SizeBins.resolve(b.to_dict()) == b
    with pytest.raises(InputError, match="ascending"):
        SizeBins.resolve([9.0, 5.0])
    with pytest.raises(InputError, match="unknown size classes"):
        SizeBins.resolve("huge")


def test_mean_sd():
    s = mean_sd([0.5, 0.7, float("inf"), None])
    assert s["mean"] == pytest.approx(0.6) and s["sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert (s["n"], s["n_inf"]) == (2, 1)
    assert mean_sd([0.3])["sd"] == 0.0 and mean_sd([])["mean"] is None


def _folders(tmp_path):
    pred, ref = label_pair()
    w = MSDWriter(tmp_path / "ref")
    img = ref.with_array(np.zeros(ref.shape, np.int16))
    w.add_case("c1", img, ref)
    w.add_case("c2", img, ref)
    free = ref.with_array(np.where(ref.array == 2, 1, ref.array).astype(np.uint8))
    w.add_case("c3", img, free)  # tumour-free reference
    w.add_case("c4", img, ref)  # not predicted
    (tmp_path / "pred").mkdir()
    write_volume(pred, tmp_path / "pred" / "c1.nii.gz")
    write_volume(ref, tmp_path / "pred" / "c2.nii.gz")  # perfect
    write_volume(free, tmp_path / "pred" / "c3.nii.gz")  # correctly empty
    return pred, ref


def test_evaluate_folders_outputs_and_empty_handling(tmp_path):
    _folders(tmp_path)
    s = evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "out", size_classes=[1.5, 4.0, 6.5])
    assert (s["n_cases"], s["n_tumour_cases"], s["n_references_unpredicted"]) == (3, 2, 1)
    assert s["metrics"]["tumour_dice"]["n"] == 2  # tumour-free case left out of the tumour mean
    assert s["tumour_free"] == {"n": 1, "no_fp_fraction": 1.0}
    rows = list(csv.DictReader(open(tmp_path / "out" / "cases.csv")))
    assert [r["case"] for r in rows] == ["c1", "c2", "c3"] and rows[1]["tumour_dice"] == "1"
    dice_c1 = float(rows[0]["tumour_dice"])
    assert s["metrics"]["tumour_dice"]["mean"] == pytest.approx((dice_c1 + 1) / 2, abs=1e-5)
    assert s["metrics"]["lesion_sensitivity"]["pooled"] == pytest.approx(3 / 4)
    assert s["by_size_class"]["small"]["n_lesions"] == 2 and s["by_size_class"]["small"]["detected"] == 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["metrics"]["tumour_nsd"]["n"] == 2
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "tumour NSD @ 2 mm" in md and "| large |" in md
    lesions = list(csv.DictReader(open(tmp_path / "out" / "lesions.csv")))
    assert len(lesions) == 4
    s2 = evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "out2", include_empty=True)
    assert s2["metrics"]["tumour_dice"]["n"] == 3


def test_evaluate_folders_errors(tmp_path):
    pred, ref = _folders(tmp_path)
    write_volume(pred, tmp_path / "pred" / "zz.nii.gz")
    with pytest.raises(InputError, match="without a reference.*zz"):
        evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "out")
    (tmp_path / "pred" / "zz.nii.gz").unlink()
    write_volume(Volume.from_geometry(pred.array, spacing=(1, 1, 1)), tmp_path / "pred" / "c1.nii.gz")
    with pytest.raises(InputError, match=r"c1\.nii\.gz and .*labelsTr/c1\.nii\.gz are on different grids"):
        evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "out")
    with pytest.raises(InputError, match="no predicted label maps"):
        (tmp_path / "empty").mkdir()
        evaluate_folders(tmp_path / "empty", tmp_path / "ref", tmp_path / "out")


def test_cli_evaluate(tmp_path, capsys):
    _folders(tmp_path)
    rc = main(["evaluate", "--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref"),
               "--out", str(tmp_path / "out"), "--size-classes", "1.5,4,6.5"])
    assert rc == 0 and "tumour DSC" in capsys.readouterr().out
    assert (tmp_path / "out" / "summary.md").is_file()
    rc = main(["evaluate", "--pred", str(tmp_path / "nope"), "--ref", str(tmp_path / "ref"), "--out", str(tmp_path / "o")])
    assert rc == 2 and "prediction folder not found" in capsys.readouterr().err
