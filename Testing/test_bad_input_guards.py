"""The helpers behind the hostile-input fixes, one behaviour each: the output rule, case ids, output
locks, stale temporary files, NIfTI/DICOM integrity, JSON limits, negative numbers on the command
line, and the safe loading of nnU-Net checkpoints (the code-execution hole)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_ct

from SynTumorLib.cli.main import main
from SynTumorLib.data.integrity import verify_nifti
from SynTumorLib.data.io import list_volume_files, read_volume, write_dicom_series, write_volume
from SynTumorLib.utils.errors import InputError, ModelFolderError
from SynTumorLib.utils.jsonio import read_json
from SynTumorLib.utils.outlock import OutputBusyError, lock_path, output_lock
from SynTumorLib.utils.paths import case_id_from_path, ensure_outside, is_temp_file, remove_stale_temps

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------ outputs vs inputs
def test_ensure_outside_equal_inside_contains_and_links(tmp_path):
    inp = tmp_path / "data"
    (inp / "sub").mkdir(parents=True)
    (inp / "ct.nii.gz").write_bytes(b"x")
    ensure_outside(tmp_path / "out", inp)  # a sibling
    ensure_outside(tmp_path / "data2", inp)  # a name that merely starts like the input
    for out, how in ((inp, "is the input"), (inp / "sub" / "o", "lies inside"), (tmp_path, "contains the input")):
        with pytest.raises(InputError, match=how):
            ensure_outside(out, inp)
    os.link(inp / "ct.nii.gz", tmp_path / "hard.nii.gz")
    with pytest.raises(InputError, match="is the input"):
        ensure_outside(tmp_path / "hard.nii.gz", inp / "ct.nii.gz")
    (tmp_path / "soft").symlink_to(inp)
    with pytest.raises(InputError, match="lies inside"):
        ensure_outside(tmp_path / "soft" / "x", inp)
    ensure_outside(tmp_path / "out", None, inp / "sub" / "..")  # None ignored; ".." resolved


def test_case_id_from_path_is_the_one_rule():
    assert case_id_from_path("a/b/Case_7.NII.GZ") == "Case_7"
    assert case_id_from_path("x_0000.nii.gz") == "x_0000"
    assert case_id_from_path("x_0000.nii.gz", channel=True) == "x"
    assert case_id_from_path("img.mhd") == "img" and case_id_from_path("noext") == "noext"


# ------------------------------------------------------------------------------------ locks
def test_lock_refuses_a_second_writer_and_names_the_first(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from SynTumorLib.utils.outlock import output_lock\n"
                               f"with output_lock({str(out)!r}):\n    print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputBusyError, match=rf"pid {holder.pid}"):
            with output_lock(out):
                pass
        holder.kill()  # kill -9: the operating system drops its lock
        holder.wait(30)
        with output_lock(out):
            assert lock_path(out).is_file()
        assert not lock_path(out).exists()
    finally:
        holder.kill()


def test_cli_second_run_into_one_out_fails_clearly(tmp_path, capsys):
    image, label = make_tiny_ct()
    write_volume(image, tmp_path / "ct.nii.gz")
    write_volume(label, tmp_path / "seg.nii.gz")
    out = tmp_path / "out"
    argv = ["insert", "--image", str(tmp_path / "ct.nii.gz"), "--label", str(tmp_path / "seg.nii.gz"),
            "--size-class", "small", "--seed", "1", "--out", str(out), "--no-preview"]
    with output_lock(out):  # another run holds it
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert "another run is writing this output" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(argv) == 0 and (out / "record.json").is_file()


def test_lock_leaves_nothing_when_refused_and_cleans_stale_temps(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError):
        with output_lock(out):
            raise RuntimeError("refused")
    assert not (tmp_path / "a").exists()
    out.mkdir(parents=True)
    stale = out / "imagesTr" / ".case.nii.gz.ab12cd_9.tmp.nii.gz"
    stale.parent.mkdir()
    stale.write_bytes(b"half")
    keep = out / "imagesTr" / ".hidden_but_not_ours"
    keep.write_bytes(b"x")
    beside = tmp_path / "a" / "b" / ".out.zz99yy88.tmp"
    beside.mkdir()
    with output_lock(out):
        pass
    assert not stale.exists() and not beside.exists() and keep.exists()
    assert is_temp_file(".ct.nii.gz.abcdefgh.tmp.nii.gz") and not is_temp_file("ct.nii.gz")
    assert remove_stale_temps(tmp_path / "nowhere") == 0


def test_readers_skip_temp_files(tmp_path, capsys):
    image, label = make_tiny_ct(shape=(16, 16, 16))
    write_volume(label, tmp_path / "pred" / "c1.nii.gz")
    write_volume(label, tmp_path / "ref" / "c1.nii.gz")
    (tmp_path / "pred" / ".c2.nii.gz.abcdefgh.tmp.nii.gz").write_bytes(b"killed mid-write")
    assert [p.name for p in list_volume_files(tmp_path / "pred")] == ["c1.nii.gz"]
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref"), "--out", str(tmp_path / "e")]) == 0
    assert "1 cases" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ file integrity
def test_gzip_integrity_truncation_crc_and_multimember(tmp_path):
    image, _ = make_tiny_ct(shape=(12, 16, 16))
    p = write_volume(image, tmp_path / "ct.nii.gz")
    raw = gzip.decompress(p.read_bytes())
    assert verify_nifti(p) == 0
    two = tmp_path / "two.nii.gz"  # two gzip members (what `cat a.gz b.gz` gives) are one valid stream
    two.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    assert np.array_equal(read_volume(two).array, image.array)
    flipped = bytearray(gzip.compress(raw))
    flipped[-6] ^= 0xFF  # the CRC-32 of the trailer
    bad = tmp_path / "crc.nii.gz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(InputError, match="corrupt gzip stream"):
        verify_nifti(bad)
    with pytest.raises(InputError, match="corrupt gzip stream|cannot be read"):  # ITK notices this one itself
        read_volume(bad)
    short = tmp_path / "short.nii.gz"  # a complete gzip stream holding less data than the header promises
    short.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(InputError, match="header promises"):
        read_volume(short)


def test_dicom_gap_refused_or_warned_with_allow_gaps(tmp_path):
    image, _ = make_tiny_ct(shape=(12, 16, 16))
    folder = write_dicom_series(image, tmp_path / "s")
    assert read_volume(folder).same_grid(image)
    sorted(folder.iterdir())[4].unlink()
    with pytest.raises(InputError, match=r"slice gap of 3 mm \(the series steps 1.5 mm\).*missing instance number\(s\) \[5\]"):
        read_volume(folder)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        vol = read_volume(folder, allow_gaps=True)
    assert vol.shape[0] == 11 and any("--allow-gaps" in str(x.message) and "slice gap" in str(x.message) for x in w)
    truncated = write_dicom_series(image, tmp_path / "t")  # a slice cut short: GDCM drops it silently
    f = sorted(truncated.iterdir())[6]
    f.write_bytes(f.read_bytes()[:600])
    with pytest.raises(InputError, match=rf"1 DICOM file\(s\) of the folder are not in the series .*{f.name}"):
        read_volume(truncated)


def test_cli_allow_gaps_reads_the_series_with_a_warning(tmp_path, capsys):
    image, label = make_tiny_ct()
    folder = write_dicom_series(image, tmp_path / "series")
    sorted(folder.iterdir())[7].unlink()
    write_volume(label, tmp_path / "seg.nii.gz")
    argv = ["insert", "--image", str(folder), "--label", str(tmp_path / "seg.nii.gz"), "--size-class", "small",
            "--seed", "2", "--out", str(tmp_path / "out"), "--no-preview"]
    assert main(argv) == 2 and "pass --allow-gaps" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*argv, "--allow-gaps"]) == 0
    assert (tmp_path / "out" / "image.nii.gz").is_file()
    assert "SYNTUMOR_ALLOW_DICOM_GAPS" not in os.environ  # the flag does not leak out of the call


def test_json_limits(tmp_path):
    (tmp_path / "big.json").write_text("[" + "0," * 600 + "0]")
    with pytest.raises(InputError, match="too large"):
        read_json(tmp_path / "big.json", max_bytes=1000)
    with pytest.raises(InputError, match="is a folder"):
        read_json(tmp_path)
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(InputError, match="nested too deeply|not valid JSON"):
        read_json(tmp_path / "deep.json")


# ------------------------------------------------------------------------------------ command line
def test_negative_numbers_are_values(tmp_path, capsys):
    image, label = make_tiny_ct()
    write_volume(image, tmp_path / "ct.nii.gz")
    write_volume(label, tmp_path / "seg.nii.gz")
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(label.array == 1)
    kji = np.argwhere(label.array == 1)
    left = [p for p in kji if image.kji_to_ras(p)[0] < -5]  # the README's case: a negative coordinate
    ras = image.kji_to_ras(max(left, key=lambda p: depth[tuple(p)]))
    at = ",".join(f"{v:.2f}" for v in ras)
    assert main(["insert", "--image", str(tmp_path / "ct.nii.gz"), "--label", str(tmp_path / "seg.nii.gz"), "--at", at,
                 "--size-class", "tiny", "--seed", "0", "--out", str(tmp_path / "o"), "--no-preview"]) == 0
    assert "tumour tiny" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:  # a real unknown option still is an argparse error, in one line
        main(["insert", "--no-such-option"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("syntumor insert: error:")


def test_internal_errors_are_one_line_with_exit_3(monkeypatch, capsys):
    from SynTumorLib.cli.commands import sizes

    def boom(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(sizes, "_show", boom)  # main() builds its parser afresh: the patched function runs
    assert main(["sizes", "show"]) == 3
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError: a bug)" in err and "Traceback" not in err
    with pytest.raises(ZeroDivisionError):
        main(["-v", "sizes", "show"])  # -v: the traceback, for the bug report


# ------------------------------------------------------------------------------------ nnU-Net checkpoints
def _nnunet_like_checkpoint(path: Path) -> Path:
    """What nnU-Net 2.8's trainer saves: tensors plus numpy scalars in its log, a torch.device."""
    import torch

    torch.save({"network_weights": {"w": torch.ones(2)}, "optimizer_state": {"state": {}, "param_groups": [{"lr": 0.01}]},
                "grad_scaler_state": None, "logging": {"train_losses": [np.float32(0.5)], "ema_fg_dice": [np.float64(0.1)]},
                "_best_ema": np.float32(0.2), "current_epoch": 1, "trainer_name": "nnUNetTrainer",
                "init_args": {"plans": {}, "configuration": "3d_fullres", "fold": 0, "dataset_json": {},
                              "device": torch.device("cpu")},
                "inference_allowed_mirroring_axes": (0, 1, 2)}, path)
    return path


def test_nnunet_checkpoints_load_safely_and_crafted_ones_never_run(tmp_path):
    import torch

    from SynTumorLib.segmentation.nnunet.safe_loading import check_nnunet_checkpoint, install_safe_torch_load

    good = _nnunet_like_checkpoint(tmp_path / "checkpoint_final.pth")
    check_nnunet_checkpoint(good)
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"network_weights": {}, "x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ModelFolderError) as e:
        check_nnunet_checkpoint(tmp_path / "evil.pth")
    msg = str(e.value)
    assert "refused" in msg and "io.open" in msg and "weights_only" not in msg and "\n" not in msg
    assert not marker.exists()
    (tmp_path / "trunc.pth").write_bytes(good.read_bytes()[:300])
    with pytest.raises(ModelFolderError, match="corrupt or truncated"):
        check_nnunet_checkpoint(tmp_path / "trunc.pth")
    # in the nnU-Net child every torch.load is the safe one, whatever nnU-Net asks for
    code = ("import torch, sys\nfrom SynTumorLib.segmentation.nnunet.safe_loading import install_safe_torch_load\n"
            "install_safe_torch_load()\nprint(sorted(torch.load(sys.argv[1], weights_only=False))[0])\n"
            "try:\n    torch.load(sys.argv[2], map_location='cpu', weights_only=False)\nexcept Exception as e:\n"
            "    print(type(e).__name__)\n")
    r = subprocess.run([sys.executable, "-c", code, str(good), str(tmp_path / "evil.pth")], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
    assert r.stdout.split() == ["_best_ema", "ModelFolderError"], r.stderr
    assert not marker.exists()
    assert callable(install_safe_torch_load)


def test_segmenter_checkpoint_error_is_one_line(tmp_path):
    import torch

    from SynTumorLib.runtime.checkpoint import load_checkpoint

    class Payload:
        def __reduce__(self):
            return (time.sleep, (0,))

    torch.save({"format": "x", "p": Payload()}, tmp_path / "last.pt")
    with pytest.raises(ModelFolderError) as e:
        load_checkpoint(tmp_path / "last.pt", "segmenter")
    assert "refused" in str(e.value) and "weights_only" not in str(e.value) and "\n" not in str(e.value)


def test_nnunet_case_pickles_load_restricted(tmp_path):
    """nnU-Net's preprocessed-case properties (numpy arrays, scalars, tuples) load; anything else is refused."""
    import pickle

    from SynTumorLib.segmentation.nnunet.safe_loading import safe_load_pickle

    props = {"sitk_stuff": {"spacing": (1.5, 1.5, 1.5), "origin": (0.0, 0.0, 0.0)}, "spacing": [1.5, 1.5, 1.5],
             "shape_before_cropping": (32, 40, 40), "bbox_used_for_cropping": [[0, 32], [0, 40], [0, 40]],
             "class_locations": {1: np.array([[0, 1, 2, 3]], np.int64), 2: np.zeros((0, 4), np.int64)},
             "mean": np.float32(0.5)}
    with open(tmp_path / "case.pkl", "wb") as f:
        pickle.dump(props, f)
    got = safe_load_pickle(tmp_path / "case.pkl")
    assert np.array_equal(got["class_locations"][1], props["class_locations"][1]) and got["mean"] == props["mean"]
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"x": Payload()}, f)
    with pytest.raises(ModelFolderError, match="refused: it references io.open"):
        safe_load_pickle(tmp_path / "evil.pkl")
    assert not marker.exists()
