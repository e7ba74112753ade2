"""``check_dataset`` and ``syntumor dataset check``: every error type, the summary values, exit codes,
and that nothing under the input path changes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from builders import make_msd, snapshot, tiny_case

from SynTumorLib import InputError, Volume, write_volume
from SynTumorLib.cli.main import main
from SynTumorLib.data.check import check_dataset

BROKEN = ["good", "missing", "unreadable", "flat", "fourd", "nan", "moved", "values", "empty", "fraction"]


@pytest.fixture
def broken(tmp_path):
    """An MSD dataset with one good case and one case per error type."""
    root = tmp_path / "broken"
    image, label = tiny_case(seed=0)
    im, lb = root / "imagesTr", root / "labelsTr"
    for cid in BROKEN:
        if cid not in ("missing", "flat", "fourd", "nan"):
            write_volume(image, im / f"{cid}.nii.gz")
        if cid not in ("unreadable", "moved", "values", "empty", "fraction"):
            write_volume(label, lb / f"{cid}.nii.gz")
    (lb / "unreadable.nii.gz").write_bytes(b"garbage, not gzip")
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((16, 16), np.int16)), str(im / "flat.nii.gz"))
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((2, 10, 16, 16), np.int16), isVector=False), str(im / "fourd.nii.gz"))
    nan = image.array.astype(np.float32)
    nan[0, 0, :3] = np.nan
    write_volume(image.with_array(nan), im / "nan.nii.gz")
    moved = label.copy()
    moved.ijk_to_ras[:3, 3] += [2.0, 0, 0]
    write_volume(moved, lb / "moved.nii.gz")
    bad = label.array.copy()
    bad[0, 0, 0], bad[0, 0, 1] = 4, 7
    write_volume(label.with_array(bad), lb / "values.nii.gz")
    write_volume(label.with_array(np.zeros(label.shape, np.uint8)), lb / "empty.nii.gz")
    write_volume(label.with_array(label.array * 0.5), lb / "fraction.nii.gz")
    meta = {"name": "broken", "labels": {"0": "background", "1": "pancreas", "2": "tumour"}, "numTraining": len(BROKEN),
            "training": [{"image": f"./imagesTr/{c}.nii.gz", "label": f"./labelsTr/{c}.nii.gz"} for c in BROKEN]}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def test_every_error_type_is_reported_with_file_and_problem(broken):
    report = check_dataset(broken)
    assert not report.ok
    by_case = {}
    for e in report.errors:
        by_case.setdefault(e["case"], []).append(e)
    assert "good" not in by_case
    expect = {
        "missing": ("imagesTr/missing.nii.gz", "file not found"),
        "unreadable": ("labelsTr/unreadable.nii.gz", "cannot be read"),
        "flat": ("imagesTr/flat.nii.gz", "got a 2-D image"),
        "fourd": ("imagesTr/fourd.nii.gz", "got a 4-D image"),
        "nan": ("imagesTr/nan.nii.gz", "3 NaN"),
        "moved": ("labelsTr/moved.nii.gz", "label grid does not match image moved.nii.gz: origin differs by 2 mm"),
        "values": ("labelsTr/values.nii.gz", "unexpected label values [4, 7]"),
        "empty": ("labelsTr/empty.nii.gz", "empty pancreas"),
        "fraction": ("labelsTr/fraction.nii.gz", "non-integer values"),
    }
    for cid, (file, problem) in expect.items():
        assert cid in by_case, f"no error for {cid}: {report.errors}"
        e = by_case[cid][0]
        assert e["file"].endswith(file) and problem in e["problem"], e
        assert not e["problem"].startswith(str(broken)), "the file name must not be repeated in the problem"
    assert report.summary["cases"] == len(BROKEN)
    md = report.to_markdown()
    assert "## Errors" in md and "empty pancreas" in md


def test_summary_values(tmp_path):
    root = tmp_path / "ok"
    from SynTumorLib.data.msd import MSDWriter

    w = MSDWriter(root)
    image = Volume.from_geometry(np.full((10, 20, 30), 40, np.int16), spacing=(1.0, 2.0, 2.5))
    image.array[0] = -1000
    lab = np.zeros(image.shape, np.uint8)
    lab[2:8, 4:16, 5:25] = 1
    lab[3:5, 5:7, 6:8] = 2  # 8 voxels × 5 mm³ = 0.04 mL
    lab[6:7, 12:15, 20:24] = 2  # 12 voxels = 0.06 mL, a second lesion
    w.add_case("a", image, image.with_array(lab))
    small = Volume.from_geometry(np.full((12, 8, 8), 40, np.int16), spacing=(0.5, 0.5, 3.0))
    small.array[0] = -1000
    lab2 = np.zeros(small.shape, np.uint8)
    lab2[1:5, 1:5, 1:5] = 1  # 64 × 0.75 mm³
    w.add_case("b", small, small.with_array(lab2))
    r = check_dataset(root)
    assert r.ok, r.errors
    s = r.summary
    assert s["cases"] == 2 and s["labelled"] == 2
    assert s["spacing_mm"] == {"min": [0.5, 0.5, 2.5], "median": [0.75, 1.25, 2.75], "max": [1.0, 2.0, 3.0]}
    assert s["size"]["max"] == [30, 20, 12]
    assert s["tumours"]["count"] == 2 and s["tumours"]["cases_with_tumour"] == 1
    assert s["tumours"]["volume_ml"] == {"min": 0.04, "median": 0.05, "max": 0.06}
    assert s["pancreas_ml"]["max"] == pytest.approx(6 * 12 * 20 * 5 / 1000)
    assert s["pancreas_ml"]["min"] == pytest.approx(64 * 0.75 / 1000)
    json.dumps(r.to_dict())  # JSON-able


def test_warnings_for_unlabelled_and_non_hu(tmp_path):
    root = tmp_path / "f"
    image, _ = tiny_case()
    write_volume(image.with_array(np.full(image.shape, 3, np.int16)), root / "images" / "odd.nii.gz")
    r = check_dataset(root)
    assert r.ok
    problems = " ".join(w["problem"] for w in r.warnings)
    assert "no label file" in problems and "does not look like CT" in problems


def test_cli_exit_codes_and_json(tmp_path, broken, capsys):
    good = make_msd(tmp_path / "good")
    out = tmp_path / "reports" / "check.json"
    assert main(["dataset", "check", str(good), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["ok"] is True
    assert "| cases | 2 (2 labelled, 2 readable) |" in capsys.readouterr().out
    assert main(["dataset", "check", str(broken)]) == 1
    assert main(["dataset", "check", str(tmp_path / "nowhere")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    assert main(["dataset", "check", str(good), "--json", str(good / "report.json")]) == 2
    assert "lies inside the input" in capsys.readouterr().err


def test_nothing_under_the_input_changes(tmp_path, broken, capsys):
    before = snapshot(broken)
    check_dataset(broken)
    main(["dataset", "check", str(broken), "--json", str(tmp_path / "r.json")])
    main(["dataset", "list", str(broken)])
    good = make_msd(tmp_path / "good")
    good_before = snapshot(good)
    main(["dataset", "export-nnunet", str(good), "--out", str(tmp_path / "raw"), "--id", "503", "--name", "X"])
    assert snapshot(broken) == before
    assert snapshot(good) == good_before
    out = capsys.readouterr().out
    assert "\ngood\t" in out and out.rstrip().endswith("Dataset503_X")
    assert (tmp_path / "raw" / "Dataset503_X" / "imagesTr" / "pancreas_000_0000.nii.gz").is_file()


def test_unusable_path_raises(tmp_path):
    with pytest.raises(InputError, match="dataset folder not found"):
        check_dataset(tmp_path / "none")
