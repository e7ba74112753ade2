"""synthesize_dataset: MSD layout, one replayable record per case, resume, parallel = serial, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from SynTumorLib import InputError, Volume, read_volume
from SynTumorLib.cli.main import main
from SynTumorLib.data.datasets import open_dataset
from SynTumorLib.data.msd import MSDWriter
from SynTumorLib.insertion import replay
from SynTumorLib.insertion.dataset import synthesize_dataset
from SynTumorLib.utils.jsonio import read_json


def _healthy(root, n=2, tiny_organ_case=False):
    w = MSDWriter(root, name="healthy")
    k, j, i = np.indices((24, 32, 32))
    for c in range(n):
        organ = ((j - 16) ** 2 + (i - 15 - c) ** 2 < 80) & (abs(k - 12) < 9)
        img = Volume.from_geometry(np.where(organ, 100, -80).astype(np.int16), spacing=(1.0, 1.0, 1.2))
        w.add_case(f"h_{c:03d}", img, img.with_array(organ.astype(np.uint8)))
    if tiny_organ_case:
        organ = np.zeros((24, 32, 32), bool)
        organ[10:12, 10:12, 10:12] = True
        img = Volume.from_geometry(np.where(organ, 100, -80).astype(np.int16))
        w.add_case("h_tiny", img, img.with_array(organ.astype(np.uint8)))
    return root


def test_dataset_layout_records_and_resume(tmp_path):
    src = _healthy(tmp_path / "healthy", tiny_organ_case=True)
    out = tmp_path / "syn"
    res = synthesize_dataset(src, out, classes="small", per_case=2, seed=3)
    assert res["written"] == 4 and res["failed"] == 2  # the 2-voxel organ cannot hold a small tumour
    meta = read_json(out / "dataset.json")
    assert meta["numTraining"] == 4 and "h_tiny_syn00" in meta["syntumor"]["failed"]
    assert meta["syntumor"]["synthesis"]["seed"] == 3
    ds = open_dataset(out)
    assert [c.case_id for c in ds.cases()] == ["h_000_syn00", "h_000_syn01", "h_001_syn00", "h_001_syn01"]
    src_ds = open_dataset(src)
    for case in ds.cases():
        rec = read_json(out / "records" / f"{case.case_id}.json")
        assert rec["op"] == "insert_tumours" and rec["tumours"][0]["class"] == "small"
        img, lab = ds.load(case)
        assert set(np.unique(lab.array)) == {0, 1, 2}
        simg, slab = src_ds.load(src_ds.case(rec["source_case"]))
        rimg, rlab = replay(simg, slab, rec)
        assert np.array_equal(rimg.array, img.array) and np.array_equal(rlab.array, lab.array)
    a = read_volume(out / "imagesTr" / "h_000_syn00.nii.gz").array
    b = read_volume(out / "imagesTr" / "h_000_syn01.nii.gz").array
    assert not np.array_equal(a, b), "variants of one case must differ"
    # resume: nothing redone, the failed cases are tried again
    mtime = (out / "imagesTr" / "h_000_syn00.nii.gz").stat().st_mtime_ns
    res2 = synthesize_dataset(src, out, classes="small", per_case=2, seed=3)
    assert res2["written"] == 0 and res2["skipped"] == 4 and res2["failed"] == 2
    assert (out / "imagesTr" / "h_000_syn00.nii.gz").stat().st_mtime_ns == mtime


def test_parallel_equals_serial_and_bad_arguments(tmp_path):
    src = _healthy(tmp_path / "healthy")
    synthesize_dataset(src, tmp_path / "serial", classes="tiny", per_case=1, seed=9, workers=1)
    res = synthesize_dataset(src, tmp_path / "par", classes="tiny", per_case=1, seed=9, workers=2)
    assert res["written"] == 2
    for cid in ("h_000_syn00", "h_001_syn00"):
        a = read_volume(tmp_path / "serial" / "imagesTr" / f"{cid}.nii.gz").array
        b = read_volume(tmp_path / "par" / "imagesTr" / f"{cid}.nii.gz").array
        assert np.array_equal(a, b)
    with pytest.raises(InputError, match="per_case"):
        synthesize_dataset(src, tmp_path / "x", per_case=0)
    with pytest.raises(InputError, match="unknown size class"):
        synthesize_dataset(src, tmp_path / "x", classes="colossal")
    with pytest.raises(InputError, match="the output is the input"):
        synthesize_dataset(src, src)


def test_cli_synthesize_and_insert(tmp_path, capsys):
    src = _healthy(tmp_path / "healthy", n=1)
    assert main(["synthesize-dataset", "--healthy", str(src), "--classes", "mixed", "--per-case", "1",
                 "--out", str(tmp_path / "syn"), "--seed", "2"]) == 0
    assert "1 cases written" in capsys.readouterr().out
    img = src / "imagesTr" / "h_000.nii.gz"
    lab = src / "labelsTr" / "h_000.nii.gz"
    out = tmp_path / "ins"
    assert main(["insert", "--image", str(img), "--label", str(lab), "--size-class", "small", "--count", "1",
                 "--seed", "7", "--out", str(out)]) == 0
    for f in ("image.nii.gz", "label.nii.gz", "record.json", "preview.png"):
        assert (out / f).exists()
    assert main(["insert", "--image", str(img), "--label", str(lab), "--replay", str(out / "record.json"),
                 "--out", str(tmp_path / "again"), "--no-preview"]) == 0
    assert np.array_equal(read_volume(out / "image.nii.gz").array, read_volume(tmp_path / "again" / "image.nii.gz").array)
    capsys.readouterr()
    assert main(["insert", "--image", str(img), "--label", str(lab), "--at", "900,0,0", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("syntumor insert: error:") and "outside the image" in err and len(err.strip().splitlines()) == 1
