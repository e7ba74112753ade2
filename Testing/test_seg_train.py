"""The config-driven trainer end to end on tiny MSD folders (CPU, 16³ crops, a few steps)."""

from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pytest
import torch
from builders import add_ball_tumour, make_seg_dataset, tiny_config

from SynTumorLib.cli.main import main
from SynTumorLib.data.msd import MSDWriter
from SynTumorLib.segmentation import augment as augment_mod
from SynTumorLib.segmentation import load_model, train
from SynTumorLib.segmentation.config import TrainConfig
from SynTumorLib.segmentation.data import CachedCase, CropSampler, extract_patch
from SynTumorLib.segmentation.train import is_better, lr_at
from SynTumorLib.utils.errors import InputError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def real_ds(tmp_path_factory):
    return make_seg_dataset(tmp_path_factory.mktemp("seg") / "real", n_cases=5)


def test_train_writes_a_complete_model_folder(real_ds, tmp_path):
    seen = []
    folder = train(tiny_config(real_ds), tmp_path / "m", progress=lambda f, m: seen.append(f))
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "model_card.json", "model_card.md", "splits.json", "log.csv",
            "log.json", "loss.png", "checkpoints"} <= names
    assert seen == [0.25, 0.5, 0.75, 1.0]
    splits = json.loads((folder / "splits.json").read_text())
    assert len(splits["test"]) == 1 and len(splits["val"]) == 1 and len(splits["train"]) == 3
    assert not set(splits["test"]) & (set(splits["train"]) | set(splits["val"]))
    rows = list(csv.DictReader((folder / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert rows[1]["val_tumour_dice"] != "" and rows[0]["val_tumour_dice"] == ""
    card = json.loads((folder / "model_card.json").read_text())
    assert card["steps"] == 4 and card["validation"]["n_cases"] == 1 and card["seed"] == 0
    assert card["selected_step"] in (2, 4) and len(card["files"]["model.safetensors"]) == 64
    lm = load_model(folder)
    assert lm.config.model["args"]["channels"] == [4, 8, 16] and lm.config.spacing == [1.5, 1.5, 1.5]


def test_epochs_sgd_poly_and_warmup(real_ds, tmp_path):
    cfg = tiny_config(real_ds, epochs=2, batch_size=1, optimizer="sgd", schedule="poly", warmup_iterations=2,
                      val_every=100, split={"seed": 0, "test_fraction": 0.2, "val_fraction": 0.0})
    folder = train(cfg, tmp_path / "m")
    card = json.loads((folder / "model_card.json").read_text())
    assert card["steps"] == 2 * 4  # 4 training cases, batch 1 → 4 steps per epoch
    assert card["selected_by"].startswith("last step")
    c = TrainConfig.from_dict(cfg)
    assert lr_at(1, c, 8) == pytest.approx(0.5e-3) and lr_at(2, c, 8) == pytest.approx(1e-3)
    assert lr_at(8, c, 8) == pytest.approx(0.0)


def test_model_selection_breaks_ties_towards_the_trained_model():
    # a short run often scores tumour Dice 0 at every validation: the first checkpoint (all background,
    # pancreas Dice 0) must not win that tie against later ones that segment the pancreas
    first = {"tumour_dice": 0.0, "pancreas_dice": 0.0}
    assert is_better(first, None)
    assert is_better({"tumour_dice": 0.0, "pancreas_dice": 0.7}, first)
    assert is_better({"tumour_dice": 0.0, "pancreas_dice": 0.7}, {"tumour_dice": 0.0, "pancreas_dice": 0.7})  # later
    assert not is_better({"tumour_dice": 0.0, "pancreas_dice": 0.9}, {"tumour_dice": 0.1, "pancreas_dice": 0.2})
    assert is_better({"tumour_dice": 0.2, "pancreas_dice": 0.1}, {"tumour_dice": 0.1, "pancreas_dice": 0.9})


def test_cli_train_segmenter_with_options(real_ds, tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(tiny_config(real_ds, iterations=50)))
    rc = main(["train", "segmenter", "--config", str(cfg), "--iterations", "2", "--seed", "3", "--out", str(tmp_path / "m")])
    assert rc == 0 and "model folder" in capsys.readouterr().out
    saved = json.loads((tmp_path / "m" / "model_card.json").read_text())["config"]
    assert saved["iterations"] == 2 and saved["seed"] == 3
    assert main(["train", "segmenter", "--out", str(tmp_path / "x")]) == 2
    assert "give --config" in capsys.readouterr().err
    assert main(["train", "segmenter", "--dataset", str(tmp_path / "missing"), "--out", str(tmp_path / "y")]) == 2


def test_crop_larger_than_image_is_padded(caplog):
    arr = np.arange(4 * 6 * 8, dtype=np.int16).reshape(4, 6, 8)
    p = extract_patch(arr, (2, 3, 4), (8, 6, 4), pad_value=-1024)
    assert p.shape == (8, 6, 4) and (p[:2] == -1024).all() and (p[-2:] == -1024).all()
    assert np.array_equal(p[2:6], arr[:, :, 2:6])
    lab = np.zeros((4, 6, 8), np.uint8)
    lab[1:3, 2:4, 3:5] = 2
    case = CachedCase.from_arrays("small", "real", arr, lab)
    with caplog.at_level(logging.WARNING):
        s = CropSampler([case], (16, 16, 16), seed=0)
    assert "smaller than the crop" in caplog.text and "padded" in caplog.text
    sample = s[0]
    assert sample["image"].shape == (1, 16, 16, 16) and sample["label"].shape == (1, 16, 16, 16)
    assert torch.equal(s[5]["image"], s[5]["image"])  # a sample is a pure function of its number


def test_pos_neg_ratio_is_about_half():
    rng = np.random.default_rng(0)
    img = rng.integers(-100, 100, (40, 40, 40)).astype(np.int16)
    lab = np.zeros((40, 40, 40), np.uint8)
    lab[5:8, 5:8, 5:8] = 2  # a tiny tumour in a corner: random crops would rarely contain it
    s = CropSampler([CachedCase.from_arrays("c", "real", img, lab)], (8, 8, 8), seed=1)
    has_tumour = np.mean([bool((s[n]["label"] == 2).any()) for n in range(200)])
    assert 0.4 < has_tumour < 0.75


def test_online_synthesis_runs_on_healthy_crops_in_hu_before_windowing(real_ds, tmp_path, monkeypatch):
    healthy = make_seg_dataset(tmp_path / "healthy", n_cases=2, tumours=False, seed=50, prefix="healthy")
    calls = []

    def fake_make_synthesizer(arm, prob, spacing_kji, size_classes, texture="statistical"):
        assert arm == "large" and prob == 0.5 and spacing_kji == [1.5, 1.5, 1.5] and size_classes == "difftumor"

        def synthesize(sample, seed):
            calls.append(float(np.asarray(sample["image"]).max()))  # HU, not [0, 1]
            img, lab = np.asarray(sample["image"]).copy(), np.asarray(sample["label"]).copy()
            lab[:, 6:10, 6:10, 6:10] = 2
            return {"image": img, "label": lab}

        return synthesize

    monkeypatch.setattr(augment_mod, "make_synthesizer", fake_make_synthesizer)
    cfg = tiny_config(real_ds, iterations=3, data={"real": str(real_ds), "healthy": str(healthy), "arm": "large",
                                                   "size_classes": "difftumor"})
    folder = train(cfg, tmp_path / "m")
    assert calls and max(calls) > 50  # saw HU values (the window maps everything to ≤ 1)
    splits = json.loads((folder / "splits.json").read_text())
    assert splits["healthy_train"] == ["healthy_000", "healthy_001"]


def test_noisy_labels_replace_the_real_labels(real_ds, tmp_path):
    noisy = MSDWriter(tmp_path / "noisy", name="noisy")
    from SynTumorLib.data.datasets import open_dataset

    ds = open_dataset(real_ds)
    for case in ds.cases():
        image, label = ds.load(case)
        noisy.add_case(case.case_id, image, label.with_array(np.where(label.array == 2, 1, label.array).astype(np.uint8)))
    from SynTumorLib.segmentation.train import _load_training_data

    cfg = TrainConfig.from_dict(tiny_config(real_ds, data={"real": str(real_ds), "noisy_labels": str(tmp_path / "noisy")}))
    train_cases, val_cases, _, _ = _load_training_data(cfg, None)
    assert all(not (c.label == 2).any() for c in train_cases + val_cases)
    bad = MSDWriter(tmp_path / "other", name="other")
    image, label = ds.load(ds.cases()[0])
    bad.add_case("unrelated", image, label)
    cfg = TrainConfig.from_dict(tiny_config(real_ds, data={"real": str(real_ds), "noisy_labels": str(tmp_path / "other")}))
    with pytest.raises(InputError, match="noisy-label dataset"):
        _load_training_data(cfg, None)


def test_bad_labels_and_amp_on_cpu(tmp_path, real_ds):
    w = MSDWriter(tmp_path / "bad", name="bad")
    from builders import make_tiny_ct

    image, label = add_ball_tumour(*make_tiny_ct(shape=(16, 16, 16)), seed=0)
    w.add_case("a", image, label.with_array(np.where(label.array == 2, 7, label.array).astype(np.uint8)))
    w.add_case("b", image, label)
    cfg = tiny_config(tmp_path / "bad", split={"seed": 0, "test_fraction": 0.0, "val_fraction": 0.0})
    with pytest.raises(InputError, match="unexpected label values \\[7\\]"):
        train(cfg, tmp_path / "m")
    with pytest.warns(RuntimeWarning, match="CUDA-only"):
        train(tiny_config(real_ds, iterations=1, amp="bf16", compile=True), tmp_path / "amp")


def test_real_online_synthesis_adds_tumours_to_healthy_crops(tmp_path):
    from SynTumorLib.data.datasets import open_dataset
    from SynTumorLib.segmentation.augment import make_synthesizer
    from SynTumorLib.segmentation.data import load_case

    ds = open_dataset(make_seg_dataset(tmp_path / "h", n_cases=1, tumours=False, shape=(40, 48, 48)))
    case = load_case(ds, ds.cases()[0], [1.5, 1.5, 1.5], (32, 32, 32), "healthy")
    assert make_synthesizer("none", 0.5, (1.5, 1.5, 1.5)) is None
    on = CropSampler([case], (32, 32, 32), seed=0, pos_fraction=1.0,
                     synthesize=make_synthesizer("small", 1.0, (1.5, 1.5, 1.5)))
    off = CropSampler([case], (32, 32, 32), seed=0, pos_fraction=1.0)
    a, b = on[0], off[0]
    tumour = a["label"] == 2
    assert tumour.any() and not (b["label"] == 2).any()
    assert not torch.equal(a["image"][tumour], b["image"][tumour])  # the image got the tumour too
    assert torch.equal(a["image"][a["label"] == 0], b["image"][a["label"] == 0])  # background untouched


@pytest.mark.parametrize("argv", [["train", "segmenter", "--help"], ["predict", "--help"]])
def test_cli_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0 and "--out" in capsys.readouterr().out


def test_augmenter_is_seeded_and_rotates_exactly():
    from SynTumorLib.segmentation.augment import _affine, make_augmenter

    params = {"rotate_prob": 1.0, "rotate_deg": 15, "flip_prob": 0.5, "translate_prob": 1.0, "translate_vox": 3,
              "intensity_prob": 1.0, "scale_intensity": 0.1, "shift_intensity": 0.1}
    rng = np.random.default_rng(0)
    s = {"image": rng.random((1, 12, 14, 16), dtype=np.float32),
         "label": rng.integers(0, 3, (1, 12, 14, 16)).astype(np.float32)}
    aug = make_augmenter(params)
    a, b, c = aug(s, 5), aug(s, 5), aug(s, 6)
    assert all(np.array_equal(a[k], b[k]) for k in a) and not np.array_equal(a["image"], c["image"])
    assert a["image"].shape == s["image"].shape and set(np.unique(a["label"])) <= {0.0, 1.0, 2.0}
    off = make_augmenter({**params, "rotate_prob": 0, "translate_prob": 0, "flip_prob": 0, "intensity_prob": 0})(s, 1)
    assert np.array_equal(off["image"], s["image"]) and np.array_equal(off["label"], s["label"])
    cube = rng.random((1, 9, 9, 9), dtype=np.float32)
    for axis in range(3):  # 90° about each array axis equals np.rot90 in the other two
        out, _ = _affine(cube, cube, np.eye(3)[axis] * np.pi / 2, np.zeros(3))
        planes = [p for p in (1, 2, 3) if p != axis + 1]
        assert min(np.abs(out - np.rot90(cube, k, axes=planes)).max() for k in (1, 3)) < 1e-5
    shifted, _ = _affine(cube, cube, np.zeros(3), np.array([2.0, 0.0, 0.0]))
    assert np.abs(shifted[0, :-2] - cube[0, 2:]).max() < 1e-5


def test_cpu_threads_rule(real_ds, monkeypatch):
    """One thread policy: small steps on one thread, large ones keep torch's, split among DDP ranks;
    SYNTUMOR_CPU_THREADS wins and a bad value is an error (as in every command)."""
    from SynTumorLib.runtime.threads import cpu_threads, step_threads

    monkeypatch.delenv("SYNTUMOR_CPU_THREADS", raising=False)
    small, big = 2 * 16**3, 2 * 96**3
    assert step_threads(small, 1, 8) == 1 and step_threads(big, 1, 8) == 8 and step_threads(big, 2, 8) == 4
    assert cpu_threads(step_threads(small, 1, 8)) == 1
    monkeypatch.setenv("SYNTUMOR_CPU_THREADS", "3")
    assert cpu_threads(step_threads(small, 1, 8)) == 3
    for bad in ("many", "0", "-2"):
        monkeypatch.setenv("SYNTUMOR_CPU_THREADS", bad)
        with pytest.raises(InputError, match="SYNTUMOR_CPU_THREADS must be a positive integer"):
            train(tiny_config(real_ds, iterations=1), "unused")
