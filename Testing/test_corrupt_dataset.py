"""corrupt_dataset and ``syntumor corrupt``: layout, links, records, resume, input untouched, check."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from builders import ellipsoid, file_digests, write_msd

from SynTumorLib import Volume, read_volume, write_volume
from SynTumorLib.cli.main import main
from SynTumorLib.corruption import corrupt_dataset, replay_corruption
from SynTumorLib.data.msd import MSDWriter
from SynTumorLib.utils.errors import InputError
from SynTumorLib.utils.jsonio import read_json


def make_case(seed: int, tumour: bool, shape=(24, 28, 28), spacing=(1.2, 1.2, 2.0)):
    """An ellipsoid pancreas (1) with, optionally, an ellipsoid tumour (2) near its centre."""
    rng = np.random.default_rng(seed)
    c = np.asarray(shape) / 2
    lab = np.zeros(shape, np.uint8)
    lab[ellipsoid(shape, c, (7, 10, 11), inclusive=True)] = 1
    if tumour:
        lab[ellipsoid(shape, c + rng.integers(-2, 3, 3), (3, 4.5, 4.5), inclusive=True)] = 2
    img = np.where(lab > 0, 100, 40).astype(np.int16) + rng.integers(-10, 10, shape).astype(np.int16)
    image = Volume.from_geometry(img, spacing, origin_ras=(-10.0, 5.0, 3.0))
    return image, image.with_array(lab)


@pytest.fixture
def src(tmp_path) -> Path:
    return write_msd(tmp_path / "src", ((f"case_{i:03d}", *make_case(i, tumour))
                                        for i, tumour in enumerate((True, True, False))))


tree_digest = file_digests


def test_corrupt_dataset_layout_records_and_summary(src, tmp_path):
    before = tree_digest(src)
    out = tmp_path / "noisy"
    s = corrupt_dataset(src, out, level="moderate", seed=5)
    assert tree_digest(src) == before  # the input is only read
    assert (s["cases"], s["corrupted"], s["unchanged"]) == (3, 2, 1)
    assert 0.0 < s["dice"]["mean"] < 1.0 and s["hd95_mm"]["mean"] > 0 and s["dice"]["n"] == 2
    assert any("case_002" in w and "no voxels" in w for w in s["warnings"])
    assert (out / "summary.json").exists() and "| Dice |" in (out / "summary.md").read_text()
    meta = read_json(out / "dataset.json")
    assert meta["numTraining"] == 3 and meta["syntumor"]["corruption"]["level"] == "moderate"
    for i in range(3):
        cid = f"case_{i:03d}"
        img_in, img_out = src / "imagesTr" / f"{cid}.nii.gz", out / "imagesTr" / f"{cid}.nii.gz"
        assert img_in.read_bytes() == img_out.read_bytes()
        assert os.stat(img_in).st_ino == os.stat(img_out).st_ino  # hard link, no copy
        clean = read_volume(src / "labelsTr" / f"{cid}.nii.gz")
        noisy = read_volume(out / "labelsTr" / f"{cid}.nii.gz")
        assert noisy.same_grid(clean) and noisy.array.dtype == np.uint8
        rec = read_json(out / "records" / f"{cid}.json")
        assert rec["case_id"] == cid and rec["level"] == "moderate"
        assert np.array_equal(replay_corruption(clean, rec).array, noisy.array)
        assert np.array_equal(noisy.array, clean.array) == (i == 2)


def test_output_passes_dataset_check(src, tmp_path):
    from SynTumorLib.data.check import check_dataset

    out = tmp_path / "noisy"
    corrupt_dataset(src, out, sigma_mm=1.0, seed=0)
    report = check_dataset(out)
    assert report.ok, report.errors
    assert report.summary["cases"] == 3


def test_resume_and_settings_guard(src, tmp_path):
    out = tmp_path / "noisy"
    first = corrupt_dataset(src, out, sigma_mm=1.5, seed=2)
    label = out / "labelsTr" / "case_000.nii.gz"
    stamp = label.stat().st_mtime_ns
    # an interrupted run: drop one finished case from the listing and its files
    meta = read_json(out / "dataset.json")
    meta["training"] = [e for e in meta["training"] if "case_001" not in e["image"]]
    from SynTumorLib.utils.atomic import write_json_atomic

    write_json_atomic(out / "dataset.json", meta)
    (out / "labelsTr" / "case_001.nii.gz").unlink()
    again = corrupt_dataset(src, out, sigma_mm=1.5, seed=2)
    assert label.stat().st_mtime_ns == stamp  # finished cases are not redone
    assert again["dice"] == pytest.approx(first["dice"]) and (out / "labelsTr" / "case_001.nii.gz").exists()
    with pytest.raises(InputError, match="other settings"):
        corrupt_dataset(src, out, sigma_mm=2.5, seed=2)


def test_bad_inputs(src, tmp_path):
    with pytest.raises(InputError, match="lies inside the input"):
        corrupt_dataset(src, src / "out", level="low")
    with pytest.raises(InputError, match="unknown noise level"):
        corrupt_dataset(src, tmp_path / "o1", level="huge")
    with pytest.raises(InputError, match="not found"):
        corrupt_dataset(tmp_path / "nothing", tmp_path / "o2", level="low")
    # a label whose grid differs from its image
    bad = tmp_path / "bad"
    w = MSDWriter(bad)
    image, label = make_case(0, True)
    w.add_case("c0", image, label)
    shifted = Volume.from_geometry(label.array, label.spacing, origin_ras=(0.0, 0.0, 50.0))
    write_volume(shifted, w.label_path("c0"))
    with pytest.raises(InputError, match="does not match image"):
        corrupt_dataset(bad, tmp_path / "o3", level="low")
    # a label map with non-integer values
    write_volume(label.with_array(label.array.astype(np.float32) * 0.7), w.label_path("c0"))
    with pytest.raises(InputError, match="non-integer"):
        corrupt_dataset(bad, tmp_path / "o4", level="low")


def test_cli(src, tmp_path, capsys):
    out = tmp_path / "cli_out"
    assert main(["corrupt", "--dataset", str(src), "--level", "low", "--seed", "3", "--out", str(out),
                 "--mode", "pairs", "--keep-inside-organ"]) == 0
    text = capsys.readouterr()
    assert "3 cases" in text.out and "Dice" in text.out and "no voxels" in text.err
    assert read_json(out / "dataset.json")["syntumor"]["corruption"]["mode"] == "pairs"
    assert main(["dataset", "check", str(out)]) == 0  # `syntumor dataset check` accepts the output
    capsys.readouterr()
    assert main(["corrupt", "--dataset", str(src), "--sigma-mm", "-1", "--out", str(tmp_path / "x")]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["corrupt", "--dataset", str(src), "--out", str(tmp_path / "y")]) == 2
    assert "exactly one of --level" in capsys.readouterr().err
    assert main(["corrupt", "--list-levels"]) == 0
    assert "extreme" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["corrupt", "--help"])
