"""nnU-Net v2 raw export: layout, dataset.json, label subsets, test cases, resuming, input safety,
and nnU-Net's own integrity check on the result."""

from __future__ import annotations

import json

import numpy as np
import pytest
from builders import make_btcv, make_msd, snapshot, tiny_case

from SynTumorLib import InputError, read_volume
from SynTumorLib.data.nnunet_export import export_nnunet


def test_layout_and_dataset_json(tmp_path):
    src = make_msd(tmp_path / "src", n=3)
    folder = export_nnunet(src, tmp_path / "raw", 501, "PancreasSyn")
    assert folder == tmp_path / "raw" / "Dataset501_PancreasSyn"
    assert sorted(p.name for p in (folder / "imagesTr").iterdir()) == [
        "pancreas_000_0000.nii.gz", "pancreas_001_0000.nii.gz", "pancreas_002_0000.nii.gz"]
    assert sorted(p.name for p in (folder / "labelsTr").iterdir()) == [
        "pancreas_000.nii.gz", "pancreas_001.nii.gz", "pancreas_002.nii.gz"]
    meta = json.loads((folder / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "CT"}
    assert meta["labels"] == {"background": 0, "pancreas": 1, "tumour": 2}
    assert meta["numTraining"] == 3 and meta["file_ending"] == ".nii.gz"
    image, label = tiny_case(seed=0)
    out_img = read_volume(folder / "imagesTr" / "pancreas_000_0000.nii.gz")
    out_lab = read_volume(folder / "labelsTr" / "pancreas_000.nii.gz")
    assert out_img.same_grid(image) and out_lab.same_grid(image)
    np.testing.assert_array_equal(out_img.array, image.array)
    np.testing.assert_array_equal(out_lab.array, label.array)
    assert out_lab.array.dtype == np.uint8


def test_tumour_only_labels_and_test_cases(tmp_path):
    src = make_msd(tmp_path / "src", n=3)
    folder = export_nnunet(src, tmp_path / "raw", 7, "TumourOnly", labels={"background": 0, "tumour": 1},
                           test_cases=["pancreas_002"])
    lab = read_volume(folder / "labelsTr" / "pancreas_000.nii.gz").array
    np.testing.assert_array_equal(lab, (tiny_case(seed=0)[1].array == 2).astype(np.uint8))
    assert (folder / "imagesTs" / "pancreas_002_0000.nii.gz").is_file()
    assert (folder / "labelsTs" / "pancreas_002.nii.gz").is_file()
    assert json.loads((folder / "dataset.json").read_text())["numTraining"] == 2


def test_unlabelled_cases_go_to_imagests(tmp_path):
    folder = export_nnunet(make_btcv(tmp_path / "btcv"), tmp_path / "raw", 12, "BTCV")
    assert [p.name for p in (folder / "imagesTr").iterdir()] == ["img0001_0000.nii.gz"]
    assert [p.name for p in (folder / "imagesTs").iterdir()] == ["img0002_0000.nii.gz"]
    assert set(np.unique(read_volume(folder / "labelsTr" / "img0001.nii.gz").array)) == {0, 1}


def test_resume_skips_finished_cases(tmp_path):
    src = make_msd(tmp_path / "src", n=3)
    folder = export_nnunet(src, tmp_path / "raw", 501, "P")
    done = folder / "imagesTr" / "pancreas_000_0000.nii.gz"
    mtime = done.stat().st_mtime_ns
    (folder / "imagesTr" / "pancreas_001_0000.nii.gz").unlink()  # as if interrupted mid-case
    (folder / "dataset.json").unlink()
    calls = []
    export_nnunet(src, tmp_path / "raw", 501, "P", progress=lambda f, m: calls.append((f, m)))
    assert done.stat().st_mtime_ns == mtime
    assert (folder / "imagesTr" / "pancreas_001_0000.nii.gz").is_file() and (folder / "dataset.json").is_file()
    assert calls[-1][0] == 1.0 and len(calls) == 4


def test_input_never_modified_and_bad_arguments(tmp_path):
    src = make_msd(tmp_path / "src")
    before = snapshot(src)
    with pytest.raises(InputError, match="lies inside the input"):
        export_nnunet(src, src / "nnunet", 501, "P")
    with pytest.raises(InputError, match="dataset id must be an integer 1..999"):
        export_nnunet(src, tmp_path / "raw", 1000, "P")
    with pytest.raises(InputError, match="must use only letters"):
        export_nnunet(src, tmp_path / "raw", 501, "bad name")
    with pytest.raises(InputError, match="unknown case ids"):
        export_nnunet(src, tmp_path / "raw", 501, "P", cases=["nope"])
    with pytest.raises(InputError, match="consecutive"):
        export_nnunet(src, tmp_path / "raw", 501, "P", labels={"background": 0, "tumour": 2})
    export_nnunet(src, tmp_path / "raw", 501, "P")
    with pytest.raises(InputError, match="already used by Dataset501_P"):
        export_nnunet(src, tmp_path / "raw", 501, "Other")
    assert snapshot(src) == before


def test_nnunet_accepts_the_export(tmp_path):
    """nnU-Net's own integrity checks (the steps of verify_dataset_integrity, run in-process: its
    process pool would re-import torch in a fresh interpreter, 10-25 s on two busy cores)."""
    pytest.importorskip("nnunetv2")
    from nnunetv2.experiment_planning.verify_dataset_integrity import check_cases, verify_labels
    from nnunetv2.imageio.reader_writer_registry import determine_reader_writer_from_dataset_json
    from nnunetv2.utilities.label_handling.label_handling import LabelManager
    from nnunetv2.utilities.utils import get_filenames_of_train_images_and_targets

    folder = export_nnunet(make_msd(tmp_path / "src", n=2), tmp_path / "raw", 501, "P")
    meta = json.loads((folder / "dataset.json").read_text())
    cases = get_filenames_of_train_images_and_targets(str(folder), meta)
    assert sorted(cases) == ["pancreas_000", "pancreas_001"] and len(cases) == meta["numTraining"]
    expected = LabelManager(meta["labels"], regions_class_order=None).all_labels
    assert expected == [0, 1, 2]
    reader = determine_reader_writer_from_dataset_json(meta, cases["pancreas_000"]["images"][0])
    for case in cases.values():
        assert verify_labels(case["label"], reader, expected)
        assert check_cases(case["images"], case["label"], len(meta["channel_names"]), reader)


def _noisy_copy(src, root, ids):
    """A noisy-label dataset for ``ids``: the same images, labels all background (easy to tell apart)."""
    from SynTumorLib.data.msd import MSDWriter

    w = MSDWriter(root)
    for cid in ids:
        img = read_volume(src / "imagesTr" / f"{cid}.nii.gz")
        w.add_case(cid, img, img.with_array(np.zeros(img.shape, np.uint8)))
    return root


def test_synthetic_cases_get_the_prefix_and_sources_are_recorded(tmp_path):
    src = make_msd(tmp_path / "src", n=3)
    syn = make_msd(tmp_path / "syn", n=2)  # the same ids as the real cases, on purpose
    folder = export_nnunet(src, tmp_path / "raw", 502, "Mix", cases=["pancreas_000", "pancreas_002"], synthetic=syn)
    assert sorted(p.name for p in (folder / "labelsTr").iterdir()) == [
        "pancreas_000.nii.gz", "pancreas_002.nii.gz", "syn_pancreas_000.nii.gz", "syn_pancreas_001.nii.gz"]
    meta = json.loads((folder / "dataset.json").read_text())
    assert meta["numTraining"] == 4 and meta["syntumor"]["synthetic_root"] == str(syn.resolve())
    np.testing.assert_array_equal(read_volume(folder / "labelsTr" / "syn_pancreas_001.nii.gz").array,
                                  tiny_case(seed=1, tumour=False)[1].array)
    sources = json.loads((folder / "syntumor_sources.json").read_text())["cases"]
    assert sources["syn_pancreas_001"] == {"split": "Tr", "role": "synthetic", "dataset": str(syn.resolve()),
                                           "case": "pancreas_001", "labels_from": str(syn.resolve())}
    assert sources["pancreas_000"]["role"] == "real"
    clash = make_msd(tmp_path / "clash", n=1)  # without a prefix its pancreas_000 meets the synthetic one
    with pytest.raises(InputError, match="case ids collide"):
        export_nnunet(clash, tmp_path / "raw2", 503, "C", synthetic=syn, synthetic_prefix="")
    with pytest.raises(InputError, match="synthetic case prefix"):
        export_nnunet(src, tmp_path / "raw2", 503, "C", synthetic=syn, synthetic_prefix="a/b")
    (tmp_path / "empty" / "imagesTr").mkdir(parents=True)  # an MSD folder without cases (MSDWriter writes none)
    with pytest.raises(InputError, match="no cases"):
        export_nnunet(src, tmp_path / "raw2", 503, "C", synthetic=tmp_path / "empty")


def test_noisy_labels_replace_the_real_ones_by_case_id(tmp_path):
    src = make_msd(tmp_path / "src", n=3)
    noisy = _noisy_copy(src, tmp_path / "noisy", ["pancreas_000", "pancreas_001"])
    folder = export_nnunet(src, tmp_path / "raw", 503, "Noisy", cases=["pancreas_000", "pancreas_001"],
                           test_cases=["pancreas_002"], noisy=noisy)
    assert read_volume(folder / "labelsTr" / "pancreas_001.nii.gz").array.max() == 0
    np.testing.assert_array_equal(read_volume(folder / "imagesTr" / "pancreas_001_0000.nii.gz").array,
                                  tiny_case(seed=1)[0].array)  # the image still comes from the real dataset
    assert read_volume(folder / "labelsTs" / "pancreas_002.nii.gz").array.max() == 2  # test labels stay real
    with pytest.raises(InputError, match=r"noisy-label dataset has no case\(s\) 'pancreas_002'"):
        export_nnunet(src, tmp_path / "raw", 503, "Noisy", noisy=noisy)
    # both at once (the exporter allows it; `nnunet train` keeps one factor per run)
    both = export_nnunet(src, tmp_path / "raw2", 506, "Both", cases=["pancreas_000"], noisy=noisy,
                         synthetic=make_msd(tmp_path / "syn", n=1))
    assert read_volume(both / "labelsTr" / "pancreas_000.nii.gz").array.max() == 0
    assert read_volume(both / "labelsTr" / "syn_pancreas_000.nii.gz").array.max() == 2


def test_reexport_removes_stale_and_rewrites_changed_cases(tmp_path):
    src = make_msd(tmp_path / "src", n=3)
    syn = make_msd(tmp_path / "syn", n=1)
    folder = export_nnunet(src, tmp_path / "raw", 504, "P", synthetic=syn)
    assert len(list((folder / "labelsTr").iterdir())) == 4
    (folder / "imagesTr" / ".pancreas_000_0000.nii.gz.abc.tmp.nii.gz").write_bytes(b"")  # a crashed write
    folder = export_nnunet(src, tmp_path / "raw", 504, "P", cases=["pancreas_000"])
    assert sorted(p.name for p in (folder / "imagesTr").iterdir()) == ["pancreas_000_0000.nii.gz"]
    assert sorted(p.name for p in (folder / "labelsTr").iterdir()) == ["pancreas_000.nii.gz"]
    assert json.loads((folder / "dataset.json").read_text())["numTraining"] == 1
    # the same case from another label source is written again, not skipped as "already done"
    noisy = _noisy_copy(src, tmp_path / "noisy", ["pancreas_000"])
    export_nnunet(src, tmp_path / "raw", 504, "P", cases=["pancreas_000"], noisy=noisy)
    assert read_volume(folder / "labelsTr" / "pancreas_000.nii.gz").array.max() == 0
    export_nnunet(src, tmp_path / "raw", 504, "P", cases=["pancreas_000"], labels={"background": 0, "tumour": 1})
    np.testing.assert_array_equal(read_volume(folder / "labelsTr" / "pancreas_000.nii.gz").array,
                                  (tiny_case(seed=0)[1].array == 2).astype(np.uint8))


def test_cli_export_with_synthetic(tmp_path, capsys):
    from SynTumorLib.cli.main import main

    src, syn = make_msd(tmp_path / "src", n=2), make_msd(tmp_path / "syn", n=1)
    assert main(["dataset", "export-nnunet", str(src), "--out", str(tmp_path / "raw"), "--id", "505",
                 "--name", "S", "--synthetic", str(syn), "--cases", "pancreas_001"]) == 0
    folder = tmp_path / "raw" / "Dataset505_S"
    assert capsys.readouterr().out.strip() == str(folder)
    assert sorted(p.name for p in (folder / "labelsTr").iterdir()) == ["pancreas_001.nii.gz", "syn_pancreas_000.nii.gz"]
    assert main(["dataset", "export-nnunet", str(src), "--out", str(tmp_path / "raw"), "--id", "505",
                 "--name", "S", "--noisy", str(syn)]) == 2
    assert "noisy-label dataset has no case(s) 'pancreas_001'" in capsys.readouterr().err
