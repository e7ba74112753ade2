"""Whole-CT inference: output exactly on the input's grid (anisotropic, oblique), in the right place,
pancreas restriction, folder batch through the CLI, CUDA-without-GPU fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from builders import make_model_folder

from SynTumorLib.cli.main import main
from SynTumorLib.data.io import read_volume, write_volume
from SynTumorLib.metrics.overlap import dice
from SynTumorLib.runtime.devices import resolve_device
from SynTumorLib.segmentation import TrainConfig, load_model, predict_volume, predict_with_probability
from SynTumorLib.segmentation.model_folder import LoadedModel
from SynTumorLib.utils.errors import InputError

torch.set_num_threads(1)
PANCREAS_01 = (70 + 175) / 425  # 70 HU on the [-175, 250] window: between soft tissue (40) and pancreas (100)


class ThresholdNet(torch.nn.Module):
    """Class `cls` where the windowed CT is above the pancreas threshold: a model whose right answer is known."""

    def __init__(self, cls: int = 1):
        super().__init__()
        self.cls = cls

    def forward(self, x):
        fg = 40.0 * (x - PANCREAS_01)
        logits = [torch.zeros_like(x), torch.full_like(x, -1e3), torch.full_like(x, -1e3)]
        logits[self.cls] = fg
        return torch.cat(logits, 1)


def _threshold_model(cls=1, spacing=(1.5, 1.5, 1.5)):
    cfg = TrainConfig.from_dict({"model": {"name": "unet", "args": {"channels": [4, 8, 16]}}, "data": {"real": "x"},
                                 "spacing": list(spacing), "crop_size": [16, 16, 16]})
    return LoadedModel(net=ThresholdNet(cls).eval(), config=cfg, card={}, folder=None, device=torch.device("cpu"))


def test_output_lies_on_the_anisotropic_oblique_input_grid_and_in_the_right_place(tiny_ct_aniso_oblique):
    image, label = tiny_ct_aniso_oblique
    before = image.array.copy()
    seg = predict_volume(_threshold_model(), image, device="cpu", overlap=0.25)
    assert seg.shape == image.shape and np.array_equal(seg.ijk_to_ras, image.ijk_to_ras)
    assert seg.array.dtype == np.uint8 and set(np.unique(seg.array)) <= {0, 1}
    assert np.array_equal(image.array, before)  # the input is not modified
    # resampled to 1.5 mm iso and back: the pancreas found must overlap the true one
    assert dice(seg.array == 1, label.array == 1) > 0.75


def test_same_spacing_needs_no_resampling_and_progress_is_reported(tiny_ct):
    image, label = tiny_ct
    seen = []
    seg = predict_volume(_threshold_model(), image, device="cpu", progress=lambda f, m: seen.append(f))
    assert seg.same_grid(image) and dice(seg.array == 1, label.array == 1) > 0.8
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_tumours_are_restricted_to_the_given_pancreas(tiny_ct):
    image, label = tiny_ct
    free = predict_volume(_threshold_model(cls=2), image, device="cpu")
    assert (free.array == 2).sum() > 100
    half = label.array.copy()
    half[:, :, : half.shape[2] // 2] = 0  # keep only one half of the pancreas
    seg = predict_volume(_threshold_model(cls=2), image, pancreas=label.with_array(half), device="cpu")
    dist_ok = np.zeros_like(half, bool)
    dist_ok[:, :, half.shape[2] // 2 - 4 :] = True  # 5 mm margin = 3.3 voxels at 1.5 mm
    assert (seg.array == 2).sum() > 0 and not ((seg.array == 2) & ~dist_ok).any()
    small = predict_volume(_threshold_model(cls=2), image, pancreas=label.with_array(half), device="cpu",
                           pancreas_margin_mm=0.0)
    assert not ((small.array == 2) & (half == 0)).any()


def test_largest_component_and_bad_inputs(tiny_ct):
    image, _ = tiny_ct
    arr = image.array.copy()
    arr[2:5, 2:5, 2:5] = 200  # an isolated bright speck far from the pancreas
    seg = predict_volume(_threshold_model(), image.with_array(arr), device="cpu", largest_pancreas_component=True)
    assert seg.array[3, 3, 3] == 0 and (seg.array == 1).sum() > 100
    with pytest.raises(InputError, match="overlap"):
        predict_volume(_threshold_model(), image, device="cpu", overlap=1.0)
    with pytest.raises(InputError, match="NaN"):
        predict_volume(_threshold_model(), image.with_array(np.full(image.shape, np.nan, np.float32)), device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the no-GPU refusal")
def test_cuda_without_a_gpu_is_a_clear_error(tiny_ct, tmp_path):
    """One device rule everywhere: asking for a GPU that is not there stops at once (no silent CPU run)."""
    with pytest.raises(InputError, match="device 'cuda' was requested but torch sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(InputError, match="device 'cuda:1' was requested"):
        resolve_device("cuda:1")
    folder = make_model_folder(tmp_path / "m")
    with pytest.raises(InputError, match="no CUDA GPU"):
        load_model(folder, device="cuda")
    lm = load_model(folder, device="auto")
    assert next(lm.net.parameters()).device.type == "cpu"
    with pytest.raises(InputError, match="no CUDA GPU"):
        predict_volume(lm, tiny_ct[0], device="cuda")
    with pytest.raises(InputError, match="auto, cpu, cuda or cuda:N, got 'gpu'"):
        predict_volume(lm, tiny_ct[0], device="gpu")


def test_cli_predict_file_and_folder(tiny_ct, tiny_ct_aniso_oblique, tmp_path, capsys):
    folder = make_model_folder(tmp_path / "m")
    cts = tmp_path / "cts"
    write_volume(tiny_ct[0], cts / "a.nii.gz")
    write_volume(tiny_ct_aniso_oblique[0], cts / "b.nrrd")
    assert main(["predict", "--model", str(folder), "--image", str(cts / "a.nii.gz"), "--out", str(tmp_path / "a_seg.nii.gz"),
                 "--device", "cpu"]) == 0
    assert read_volume(tmp_path / "a_seg.nii.gz").same_grid(tiny_ct[0])
    assert main(["predict", "--model", str(folder), "--image", str(cts), "--out", str(tmp_path / "segs"),
                 "--overlap", "0.25", "--device", "cpu"]) == 0
    b = read_volume(tmp_path / "segs" / "b.nii.gz")
    assert b.same_grid(tiny_ct_aniso_oblique[0]) and set(np.unique(b.array)) <= {0, 1, 2}
    assert main(["predict", "--model", str(tmp_path / "nope"), "--image", str(cts), "--out", str(tmp_path / "x")]) == 2
    assert "model folder not found" in capsys.readouterr().err


def test_tumour_probability_map_lies_on_the_input_grid(tiny_ct, tiny_ct_aniso_oblique):
    """The probability map: the tumour softmax, on the input grid (resampled 1.5 mm → anisotropic,
    oblique input), consistent with the labels, zero where post-processing removed tumour."""
    image, label = tiny_ct_aniso_oblique
    seg, prob = predict_with_probability(_threshold_model(cls=2), image, device="cpu", overlap=0.25)
    assert prob.shape == image.shape and np.array_equal(prob.ijk_to_ras, image.ijk_to_ras) and seg.same_grid(image)
    assert prob.array.dtype == np.float32 and 0.0 <= prob.array.min() and prob.array.max() <= 1.0
    tumour = seg.array == 2
    assert tumour.sum() > 50 and np.median(prob.array[tumour]) > 0.9 and np.median(prob.array[~tumour]) < 0.1
    assert dice(prob.array > 0.5, tumour) > 0.9  # linear vs nearest interpolation differ only at edges
    image2, label2 = tiny_ct
    half = label2.array.copy()
    half[:, :, : half.shape[2] // 2] = 0
    seg2, prob2 = predict_with_probability(_threshold_model(cls=2), image2, pancreas=label2.with_array(half),
                                           device="cpu", pancreas_margin_mm=0.0)
    assert prob2.same_grid(image2) and not (prob2.array[half == 0] > 0).any() and (prob2.array > 0.5).any()
    assert predict_volume(_threshold_model(), image2, device="cpu").same_grid(image2)  # default: labels only


def test_cli_predict_writes_the_probability_map(tiny_ct, tiny_ct_aniso_oblique, tmp_path):
    folder = make_model_folder(tmp_path / "m")
    cts = tmp_path / "cts"
    write_volume(tiny_ct[0], cts / "a.nii.gz")
    write_volume(tiny_ct_aniso_oblique[0], cts / "b.nrrd")
    assert main(["predict", "--model", str(folder), "--image", str(cts / "b.nrrd"), "--out", str(tmp_path / "b.nii.gz"),
                 "--probability-out", str(tmp_path / "b_prob.nii.gz"), "--device", "cpu"]) == 0
    p = read_volume(tmp_path / "b_prob.nii.gz")
    assert p.same_grid(tiny_ct_aniso_oblique[0]) and p.array.dtype == np.float32 and p.array.max() <= 1.0
    assert main(["predict", "--model", str(folder), "--image", str(cts), "--out", str(tmp_path / "segs"),
                 "--probability-out", str(tmp_path / "probs"), "--device", "cpu"]) == 0
    assert read_volume(tmp_path / "probs" / "a.nii.gz").same_grid(tiny_ct[0])
    assert read_volume(tmp_path / "probs" / "b.nii.gz").same_grid(tiny_ct_aniso_oblique[0])
