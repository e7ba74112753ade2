"""DiffTumor's released segmenters as model folders: strict import, predict on the input grid, orientation.

Random weights in the released layouts stand in for the real files (never downloaded in tests).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from _difftumor_fixtures import MarkerPayload, old_numpy_spelling

from SynTumorLib.data.volume import Volume
from SynTumorLib.segmentation import difftumor_segmenters as ds
from SynTumorLib.segmentation.difftumor_folder import import_difftumor_segmenter, verify_difftumor_segmenter
from SynTumorLib.segmentation.difftumor_inference import network_input, reorient_to_ras
from SynTumorLib.segmentation.inference import predict_volume, predict_with_probability
from SynTumorLib.segmentation.model_folder import load_model
from SynTumorLib.utils.errors import InputError, ModelFolderError

torch.set_num_threads(1)


def _released_file(path, arch: str, seed: int = 0, **extra) -> dict:
    """A released-layout checkpoint with random weights (Swin with the reference's fc1/fc2 names and norm)."""
    torch.manual_seed(seed)
    net = ds.build_released_network(arch)
    with torch.no_grad():  # instance-norm-free nets at init give near-constant outputs: spread the biases
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.5)
    sd = dict(net.state_dict())
    if arch == "swinunetr":
        back = {v: k for k, v in ds.swin_key_map().items()}
        sd = {back.get(k, k): v for k, v in sd.items()}
        sd["swinViT.norm.weight"], sd["swinViT.norm.bias"] = torch.ones(384), torch.zeros(384)
    buf = io.BytesIO()
    torch.save({"epoch": 1999, "best_acc": np.float64(0.61), "state_dict": sd, **extra}, buf)
    path.write_bytes(old_numpy_spelling(buf.getvalue()))
    return sd


def _ct(shape=(30, 34, 38), spacing=(0.8, 0.9, 1.5), seed=0) -> Volume:
    """A smooth random 'CT' so the network's labels vary in space."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    arr = ndimage.gaussian_filter(rng.normal(0, 1, shape), 2.0)
    arr = (arr / arr.std() * 150).astype(np.float32)
    return Volume.from_geometry(arr, spacing=spacing, origin_ras=(10.0, -20.0, 30.0))


@pytest.fixture(scope="module")
def unet_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("dt")
    _released_file(d / "unet_synt_pancreas_tumors.pt", "unet")
    return import_difftumor_segmenter(d / "unet_synt_pancreas_tumors.pt", "unet", "pancreas", d / "model")


@pytest.mark.parametrize("arch,cli_name", [("unet", "unet"), ("dynunet", "nnunet"), ("swinunetr", "swinunetr")])
def test_released_layouts_import_and_load_strictly(tmp_path, arch, cli_name):
    sd = _released_file(tmp_path / "w.pt", arch, optimizer={"state": {}, "param_groups": []})
    folder = import_difftumor_segmenter(tmp_path / "w.pt", cli_name, "pancreas", tmp_path / "m")
    card = json.loads((folder / "model_card.json").read_text())
    assert card["kind"] == "segmenter" and card["config"]["recipe"] == "difftumor-released"
    pre = card["config"]["preprocessing"]
    assert pre["orientation"] == "RAS" and pre["array_axes"] == ["R", "A", "S"] and pre["spacing_mm"] == [1, 1, 1]
    assert pre["window_hu"] == [-175.0, 250.0] and pre["roi_size"] == [96, 96, 96] and pre["overlap"] == 0.75
    assert card["provenance"]["source"] == "imported" and len(card["provenance"]["imported_from"][0]["sha256"]) == 64
    assert "CC BY-NC-ND 4.0" in card["provenance"]["notice"] and "patents pending" in card["provenance"]["notice"]
    assert (folder / "model_card.md").read_text().startswith(f"# DiffTumor released segmenter: {arch} (pancreas)")
    assert card["released"]["epoch"] == 1999 and card["released"]["extra_entries"] == ["optimizer"]
    assert card["labels"] == {"0": "background", "1": "pancreas", "2": "pancreas tumour"}
    lm = load_model(folder, device="cpu")
    assert lm.preprocessing == pre and lm.config is None
    renames = ds.swin_key_map() if arch == "swinunetr" else {}
    got = lm.net.state_dict()
    for k, v in sd.items():
        if k not in ds.SWIN_DROPPED:
            assert torch.equal(got[renames.get(k, k)], v), k  # every released tensor lands where it belongs
    if arch == "swinunetr":
        assert card["architecture"]["downsample"] == "legacy-merging"
        assert all(isinstance(m.downsample, ds.LegacyPatchMerging) for m in
                   (lm.net.swinViT.layers1[0], lm.net.swinViT.layers4[0]))
    summary = verify_difftumor_segmenter(folder)
    assert summary["architecture"] == arch and summary["tensors"] == len(got)


def test_import_refuses_wrong_arch_organ_and_foreign_globals(tmp_path):
    _released_file(tmp_path / "u.pt", "unet")
    with pytest.raises(InputError, match="not swinunetr"):
        import_difftumor_segmenter(tmp_path / "u.pt", "swinunetr", "pancreas", tmp_path / "a")
    with pytest.raises(InputError, match="unknown organ"):
        import_difftumor_segmenter(tmp_path / "u.pt", "unet", "brain", tmp_path / "b")
    marker = tmp_path / "marker"
    buf = io.BytesIO()
    torch.save({"epoch": 1, "state_dict": {}, "x": MarkerPayload(str(marker))}, buf)
    (tmp_path / "evil.pt").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="write_marker|not allowed|refus"):
        import_difftumor_segmenter(tmp_path / "evil.pt", "unet", "pancreas", tmp_path / "c")
    assert not marker.exists() and not (tmp_path / "c" / "model_card.json").exists()


def test_verify_catches_tampered_weights_and_edited_recipe(tmp_path, unet_folder):
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(unet_folder, d)
    card = json.loads((d / "model_card.json").read_text())
    card["config"]["preprocessing"]["orientation"] = "LPS"
    (d / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelFolderError, match="preprocessing differs"):
        verify_difftumor_segmenter(d)
    with open(unet_folder.parent / "model" / "model.safetensors", "rb") as fh:
        data = bytearray(fh.read())
    data[-5] ^= 0xFF
    shutil.copytree(unet_folder, tmp_path / "bad")
    (tmp_path / "bad" / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFolderError, match="SHA-256"):
        verify_difftumor_segmenter(tmp_path / "bad")


def test_predict_writes_labels_on_the_exact_input_grid(unet_folder):
    direction = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]  # oblique
    img = Volume.from_geometry(_ct(shape=(20, 26, 31)).array, spacing=(0.7, 1.1, 2.5), origin_ras=(1, 2, 3),
                               direction_ras=direction)
    seg, prob = predict_with_probability(unet_folder, img, device="cpu")
    assert seg.shape == img.shape and np.array_equal(seg.ijk_to_ras, img.ijk_to_ras)
    assert prob.shape == img.shape and seg.array.dtype == np.uint8 and set(np.unique(seg.array)) <= {0, 1, 2}
    assert len(np.unique(seg.array)) > 1  # the random network does not answer one class everywhere
    assert prob.array.min() >= 0 and prob.array.max() <= 1


def _lps_copy(img: Volume) -> Volume:
    """The same voxels stored LPS-style: i and j reversed, their direction columns negated."""
    m = img.ijk_to_ras.copy()
    ni, nj = img.shape[2], img.shape[1]
    m[:3, 3] = img.ijk_to_ras[:3, :3] @ [ni - 1, nj - 1, 0] + img.ijk_to_ras[:3, 3]
    m[:3, 0], m[:3, 1] = -m[:3, 0], -m[:3, 1]
    return Volume(img.array[:, ::-1, ::-1].copy(), m)


def _permuted_flipped_copy(img: Volume) -> Volume:
    """The same voxels with the i and k axes swapped and k reversed (a 'sagittal-first' file)."""
    m = img.ijk_to_ras
    nk = img.shape[0]
    new = np.eye(4)
    # new i = old k reversed, new j = old j, new k = old i
    new[:3, 0], new[:3, 1], new[:3, 2] = -m[:3, 2], m[:3, 1], m[:3, 0]
    new[:3, 3] = m[:3, 3] + m[:3, 2] * (nk - 1)
    arr = np.transpose(img.array, (2, 1, 0))[:, :, ::-1]  # [k', j', i'] = [i, j, nk-1-k]
    return Volume(arr.copy(), new)


def test_reorientation_is_exact_and_maps_the_same_points():
    img = _ct()
    for other in (_lps_copy(img), _permuted_flipped_copy(img)):
        for kji in ((0, 0, 0), (5, 7, 11), (29, 33, 37)):  # both copies hold the same value at the same point
            pos = img.kji_to_ras(kji)
            assert other.array[tuple(np.rint(other.ras_to_kji(pos)).astype(int))] == img.array[kji]
        back = reorient_to_ras(other)
        assert np.array_equal(back.array, img.array) and np.allclose(back.ijk_to_ras, img.ijk_to_ras, atol=1e-9)


def test_network_sees_ras_axes_in_r_a_s_order():
    """Fed an LPS file whose HU rise towards R (and, more slowly, A and S), the network's array rises
    along its axis 0 (R), then 1 (A), then 2 (S) — DiffTumor's training convention (issue #24)."""
    base = Volume.from_geometry(np.zeros((20, 24, 28), np.float32), spacing=(1.0, 1.0, 1.0))
    k, j, i = np.meshgrid(*[np.arange(n) for n in base.shape], indexing="ij")
    ras = np.stack([base.kji_to_ras(p) for p in np.stack([k, j, i], -1).reshape(-1, 3)]).reshape(*base.shape, 3)
    lps = _lps_copy(base.with_array((4.0 * ras[..., 0] + 2.0 * ras[..., 1] + ras[..., 2]).astype(np.float32)))
    x, work, pad = network_input(lps, ds.PREPROCESSING)
    core = x[tuple(slice(a, n - b) for (a, b), n in zip(pad, x.shape, strict=True))]
    assert core.shape == (28, 24, 20)  # (R, A, S)
    d0, d1, d2 = (np.diff(core, axis=a).mean() for a in range(3))
    assert d0 > d1 > d2 > 0
    assert np.allclose(work.direction_ras, np.eye(3))


@pytest.mark.parametrize("shape", [(30, 34, 38), (14, 16, 18)])
def test_lps_ras_and_flipped_inputs_give_the_same_labels_in_physical_space(unet_folder, shape):
    """(14, 16, 18) at 1.5 mm spans exactly 21 mm: the 1 mm grid's edges fall on the input's edge voxels,
    where an inside/outside test decided by rounding would differ between the copies."""
    img = _ct(shape=shape)
    lm = load_model(unet_folder, device="cpu")
    ref = predict_volume(lm, img, device="cpu")
    assert len(np.unique(ref.array)) > 1
    lps = predict_volume(lm, _lps_copy(img), device="cpu")
    assert np.array_equal(lps.array[:, ::-1, ::-1], ref.array)
    perm = predict_volume(lm, _permuted_flipped_copy(img), device="cpu")
    assert np.array_equal(np.transpose(perm.array[:, :, ::-1], (2, 1, 0)), ref.array)


def test_without_the_reorientation_the_labels_would_differ(unet_folder, monkeypatch):
    """The orientation test can fail: feeding the file's own axes (the issue #24 mistake) changes the labels."""
    import SynTumorLib.segmentation.difftumor_inference as di

    img = _ct()
    lm = load_model(unet_folder, device="cpu")
    ref = predict_volume(lm, img, device="cpu")
    monkeypatch.setattr(di, "reorient_to_ras", lambda v: v)
    lps = predict_volume(lm, _lps_copy(img), device="cpu")
    assert not np.array_equal(lps.array[:, ::-1, ::-1], ref.array)


def test_predict_files_and_evaluate_with_an_imported_model(tmp_path, unet_folder):
    from SynTumorLib.data.io import write_volume
    from SynTumorLib.metrics.evaluate import evaluate_folders
    from SynTumorLib.segmentation.inference import predict_files

    img = _ct(shape=(16, 20, 24))
    (tmp_path / "ct").mkdir()
    write_volume(img, tmp_path / "ct" / "case1.nii.gz")
    ref = img.with_array((img.array > 50).astype(np.uint8) + (img.array > 200).astype(np.uint8))
    (tmp_path / "ref").mkdir()
    write_volume(ref, tmp_path / "ref" / "case1.nii.gz")
    written = predict_files(unet_folder, tmp_path / "ct", tmp_path / "pred", device="cpu")
    assert [p.name for p in written] == ["case1.nii.gz"]
    summary = evaluate_folders(tmp_path / "pred", tmp_path / "ref", tmp_path / "eval")
    assert summary["n_cases"] == 1 and (tmp_path / "eval" / "cases.csv").is_file()


def test_the_recipes_overlap_is_the_default_and_an_explicit_one_wins(unet_folder, monkeypatch):
    import SynTumorLib.segmentation.inference as inf

    seen = []
    real = inf.sliding_window_logits

    def spy(net, x, roi, overlap=0.5, **kw):
        seen.append((tuple(x.shape), list(roi), overlap))
        return real(net, x, roi, overlap=overlap, **kw)

    monkeypatch.setattr(inf, "sliding_window_logits", spy)
    lm = load_model(unet_folder, device="cpu")
    img = _ct(shape=(12, 14, 16))
    predict_volume(lm, img, device="cpu")
    predict_volume(lm, img, device="cpu", overlap=0.25)
    assert [s[2] for s in seen] == [0.75, 0.25]
    assert seen[0][0] == (96, 96, 96) and seen[0][1] == [96, 96, 96]  # padded up to the 96³ window


def test_the_segmentation_panels_worker_task_uses_an_imported_model(tmp_path, unet_folder):
    """The Segmentation panel's ``predict`` worker task, on an LPS-stored CT, gives the labels on its grid."""
    import sys

    import slicer_harness  # noqa: F401  (SynTumorCommon on sys.path)
    from SynTumorCommon.worker import WorkerJob

    from SynTumorLib.data.io import read_volume, write_volume

    img = _ct(shape=(14, 16, 18))
    lps = _lps_copy(img)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    write_volume(lps, job_dir / "input_image.nrrd", compress=False)
    job = WorkerJob.forTask("predict", job_dir, {"model": str(unet_folder), "image": "input_image.nrrd",
                                                 "device": "cpu"}, python=sys.executable, ownsFolder=False)
    job.run(timeout_s=300)
    job.check()
    seg = read_volume(job.outputPath("prediction.nrrd"))
    assert seg.shape == lps.shape and np.allclose(seg.ijk_to_ras, lps.ijk_to_ras, atol=1e-6)
    ref = predict_volume(unet_folder, img, device="cpu")
    assert np.array_equal(seg.array[:, ::-1, ::-1], ref.array)
