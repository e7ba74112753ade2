"""Dataset adapters: each layout on a tiny fixture built here, mapping to canonical labels,
auto-detection and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from builders import (
    make_btcv,
    make_folder_images_labels,
    make_folder_pairs,
    make_msd,
    make_nih,
    make_task07_like,
    make_totalseg_single,
    make_totalseg_subjects,
    tiny_case,
)

from SynTumorLib import InputError, write_volume
from SynTumorLib.data.datasets import Case, label_map_from_values, open_dataset
from SynTumorLib.data.nnunet_export import export_nnunet


def _ids(ds):
    return [c.case_id for c in ds.cases()]


def test_msd_written_by_msdwriter(tmp_path):
    ds = open_dataset(make_msd(tmp_path / "m"))
    assert ds.kind == "msd" and _ids(ds) == ["pancreas_000", "pancreas_001"]
    assert ds.label_map == {0: 0, 1: 1, 2: 2}
    image, label = ds.load(ds.cases()[0])
    ref_image, ref_label = tiny_case(seed=0, tumour=True)
    assert image.same_grid(ref_image) and label.same_grid(image)
    np.testing.assert_array_equal(label.array, ref_label.array)
    assert label.array.dtype == np.uint8
    np.testing.assert_array_equal(ds.load_image(ds.cases()[1]).array, tiny_case(seed=1)[0].array)


def test_msdwriter_register_case_lists_files_written_elsewhere(tmp_path):
    """What worker processes rely on: the parent lists a case whose files are already written."""
    from SynTumorLib.data.msd import MSDWriter

    w = MSDWriter(tmp_path / "w")
    image, label = tiny_case(seed=0, tumour=True)
    w.meta["syntumor"]["failed"] = {"b": "an earlier attempt failed"}
    write_volume(image, w.image_path("b"))
    write_volume(label, w.label_path("b"))
    w.register_case("b", info={"seed": 3}, record={"op": "x"})
    w.add_case("a", image, label)
    meta = json.loads((tmp_path / "w" / "dataset.json").read_text())
    assert [e["image"] for e in meta["training"]] == ["./imagesTr/a.nii.gz", "./imagesTr/b.nii.gz"]
    assert meta["numTraining"] == 2 and meta["syntumor"]["cases"] == {"b": {"seed": 3}}
    assert meta["syntumor"]["failed"] == {} and json.loads(w.record_path("b").read_text()) == {"op": "x"}
    assert w.has_case("b") and _ids(open_dataset(tmp_path / "w")) == ["a", "b"]


def test_msd_task07_json_test_list_and_junk_files(tmp_path):
    ds = open_dataset(make_task07_like(tmp_path / "Task07_Pancreas") / "dataset.json")
    assert ds.kind == "msd" and _ids(ds) == ["pancreas_004"]
    assert [c.case_id for c in ds.test_cases()] == ["pancreas_010"]
    assert ds.test_cases()[0].label is None
    _, label = ds.load(ds.cases()[0])
    assert set(np.unique(label.array)) == {0, 1, 2}


def test_msd_unknown_label_name(tmp_path):
    root = make_task07_like(tmp_path / "t")
    meta = json.loads((root / "dataset.json").read_text())
    meta["labels"] = {"0": "background", "1": "liver", "2": "cancer"}
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"dataset\.json: label 1 is 'liver'"):
        open_dataset(root)
    ds = open_dataset(root, pancreas_label=1)  # explicit values win over names
    assert ds.label_map == {0: 0, 1: 1, 2: 2}


def test_nnunet_layout_round_trip(tmp_path):
    folder = export_nnunet(make_msd(tmp_path / "m"), tmp_path / "raw", 502, "Tiny")
    ds = open_dataset(folder)
    assert ds.kind == "nnunet" and _ids(ds) == ["pancreas_000", "pancreas_001"]
    _, label = ds.load(ds.cases()[0])
    np.testing.assert_array_equal(label.array, tiny_case(seed=0)[1].array)


def test_btcv_maps_11_to_pancreas_and_other_organs_to_background(tmp_path):
    ds = open_dataset(make_btcv(tmp_path / "btcv"))
    assert ds.kind == "btcv" and _ids(ds) == ["img0001", "img0002"]
    assert ds.cases()[1].label is None
    image, label = ds.load(ds.cases()[0])
    ref = tiny_case(seed=1, tumour=False)[1].array.copy()
    ref[:2] = 0  # the kidney slices became background
    np.testing.assert_array_equal(label.array, ref)
    assert ds.load(ds.cases()[1])[1] is None
    # --tumour-label alone keeps BTCV's own pancreas value
    ds2 = open_dataset(tmp_path / "btcv", tumour_label=3)
    assert ds2.label_map == {0: 0, 11: 1, 3: 2}
    assert set(np.unique(ds2.load(ds2.cases()[0])[1].array)) == {0, 1, 2}


def test_nih_dicom_series_and_label_files(tmp_path):
    ds = open_dataset(make_nih(tmp_path / "nih"))
    assert ds.kind == "nih" and _ids(ds) == ["PANCREAS_0001"]
    case = ds.cases()[0]
    assert case.image.is_dir() and case.label.name == "label0001.nii.gz"
    image, label = ds.load(case)
    ref_image, ref_label = tiny_case(seed=2, tumour=False)
    assert image.same_grid(ref_image, atol=1e-4)
    np.testing.assert_array_equal(image.array, ref_image.array)
    np.testing.assert_array_equal(label.array, ref_label.array)


def test_nih_rejects_tumour_values(tmp_path):
    root = make_nih(tmp_path / "nih")
    _, label = tiny_case(seed=2, tumour=True)
    write_volume(label, next(root.rglob("label0001.nii.gz")))
    ds = open_dataset(root)
    with pytest.raises(InputError, match=r"label0001\.nii\.gz: unexpected label values \[2\]"):
        ds.load(ds.cases()[0])


def test_totalseg_example_layout(tmp_path):
    ds = open_dataset(make_totalseg_single(tmp_path / "ts"))
    assert ds.kind == "totalseg" and _ids(ds) == ["ts"]
    _, label = ds.load(ds.cases()[0])
    ref = tiny_case(seed=4, tumour=False)[1].array.copy()
    ref[-2:] = 0  # liver → background
    np.testing.assert_array_equal(label.array, ref)


def test_totalseg_per_subject_folders(tmp_path):
    ds = open_dataset(make_totalseg_subjects(tmp_path / "subjects"))
    assert ds.kind == "totalseg" and _ids(ds) == ["s0001", "s0002", "s0003"]
    assert [c.label.name for c in ds.cases()] == ["segmentations.nii.gz", "seg.nii.gz", "pancreas.nii.gz"]
    ref = tiny_case(seed=5, tumour=False)[1].array
    for case in ds.cases():
        np.testing.assert_array_equal(ds.load(case)[1].array, ref)


def test_folder_pairs_with_custom_label_values(tmp_path):
    root = make_folder_pairs(tmp_path / "f", pancreas=5, tumour=9)
    ds = open_dataset(root, pancreas_label=5, tumour_label=9)
    assert ds.kind == "folder" and _ids(ds) == ["a01", "a02"]
    assert [c.label.name for c in ds.cases()] == ["a01_seg.nii.gz", "a02_label.nrrd"]
    np.testing.assert_array_equal(ds.load(ds.cases()[1])[1].array, tiny_case(seed=6)[1].array)
    strict = open_dataset(root)  # default 1/2: the 5 and 9 are unexpected, and named
    with pytest.raises(InputError, match=r"a01_seg\.nii\.gz: unexpected label values \[5, 9\]"):
        strict.load(strict.cases()[0])


def test_folder_images_and_labels(tmp_path):
    ds = open_dataset(make_folder_images_labels(tmp_path / "f"), kind="folder")
    assert _ids(ds) == ["x", "y", "z"]
    assert [c.label.name if c.label else None for c in ds.cases()] == ["x.nii.gz", "y.mha", None]
    np.testing.assert_array_equal(ds.load(ds.case("y"))[1].array, tiny_case(seed=7)[1].array)


def test_geometry_mismatch_names_both_files(tmp_path):
    root = make_folder_pairs(tmp_path / "f")
    image, label = tiny_case(seed=6)
    moved = label.copy()
    moved.ijk_to_ras[:3, 3] += [0, 0, 3.0]
    write_volume(moved, root / "a01_seg.nii.gz")
    ds = open_dataset(root)
    with pytest.raises(InputError, match=r"a01_seg\.nii\.gz: label grid does not match image .*a01\.nii\.gz: origin differs by 3 mm"):
        ds.load(ds.case("a01"))


def test_non_integer_labels(tmp_path):
    root = make_folder_pairs(tmp_path / "f")
    image, _ = tiny_case(seed=6)
    write_volume(image.with_array(np.full(image.shape, 0.5, np.float32)), root / "a01_seg.nii.gz")
    ds = open_dataset(root)
    with pytest.raises(InputError, match=r"a01_seg\.nii\.gz: label map has non-integer values"):
        ds.load(ds.case("a01"))


def test_detection_errors(tmp_path):
    with pytest.raises(InputError, match="dataset folder not found"):
        open_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no supported dataset layout found"):
        open_dataset(tmp_path / "empty")
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="use --kind"):
        open_dataset(tmp_path / "empty")
    with pytest.raises(InputError, match="unknown dataset kind 'decathlon'"):
        open_dataset(make_msd(tmp_path / "m"), kind="decathlon")
    (tmp_path / "imgs" / "images").mkdir(parents=True)
    with pytest.raises(InputError, match="no cases found"):
        open_dataset(tmp_path / "imgs")
    with pytest.raises(InputError, match="no case 'nope'"):
        open_dataset(tmp_path / "m").case("nope")


def test_forced_kind_and_label_value_validation(tmp_path):
    root = make_msd(tmp_path / "m")
    ds = open_dataset(root, kind="folder")  # imagesTr/labelsTr read as a plain folder
    assert ds.kind == "folder" and _ids(ds) == ["pancreas_000", "pancreas_001"]
    with pytest.raises(InputError, match="both pancreas and tumour"):
        label_map_from_values(3, [3, 4])
    with pytest.raises(InputError, match="background"):
        label_map_from_values(0, 2)
    assert label_map_from_values([1, 4], None) == {0: 0, 1: 1, 4: 1}


def test_canonical_labels_do_not_touch_input(tmp_path):
    ds = open_dataset(make_btcv(tmp_path / "b"))
    src = np.array([[[0, 11, 3]]], np.int16)
    out = ds.canonical_labels(src, Case("x", tmp_path / "i.nii.gz", tmp_path / "l.nii.gz"))
    assert out.tolist() == [[[0, 1, 0]]] and src.tolist() == [[[0, 11, 3]]]


def test_btcv_monai_layout(tmp_path):
    image, label = tiny_case(seed=1, tumour=False)
    write_volume(image, tmp_path / "b" / "imagesTr" / "img0005.nii.gz")
    write_volume(label.with_array(label.array * 11), tmp_path / "b" / "labelsTr" / "label0005.nii.gz")
    ds = open_dataset(tmp_path / "b")
    assert ds.kind == "btcv" and _ids(ds) == ["img0005"]
    np.testing.assert_array_equal(ds.load(ds.cases()[0])[1].array, label.array)
