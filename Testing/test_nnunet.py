"""The real nnU-Net v2 path: config validation, splits, refused arguments, and an end-to-end run
(export → plan/preprocess → train 1 epoch × 3 iterations on the CPU → predict → evaluate)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from builders import add_ball_tumour, make_tiny_ct, write_msd

from SynTumorLib.data.io import read_volume
from SynTumorLib.segmentation.nnunet import NNUNetConfig
from SynTumorLib.segmentation.nnunet.api import _make_splits, predict_nnunet, train_nnunet
from SynTumorLib.utils.errors import InputError


def write_cohort(root, n: int, prefix: str = "case", seed0: int = 0):
    """Tiny CTs with a pancreas (1) and a hypo-attenuating (−20 HU, like PDAC) ball tumour (2) of ~5 mm."""
    def case(s: int):
        image, label = make_tiny_ct(shape=(32, 40, 40), spacing=(1.5, 1.5, 1.5), seed=seed0 + s)
        return (f"{prefix}_{s:03d}", *add_ball_tumour(image, label, seed0 + s, radius_vox=5.0 / 1.5, hu=-20.0,
                                                       noise_hu=0.0))

    return write_msd(root, (case(s) for s in range(n)))


def test_config_validation():
    c = NNUNetConfig.from_dict({"fold": "all", "epochs": 2})
    assert c.fold == "all" and NNUNetConfig.from_dict(c.to_dict()) == c
    assert NNUNetConfig.from_dict({"fold": "3"}).fold == 3
    with pytest.raises(InputError, match="unknown key"):
        NNUNetConfig.from_dict({"epoch": 1})
    with pytest.raises(InputError, match="device"):
        NNUNetConfig(device="tpu")
    with pytest.raises(InputError, match="iterations_per_epoch"):
        NNUNetConfig(iterations_per_epoch=0)
    with pytest.raises(InputError, match="fold"):
        NNUNetConfig(fold=7)


def test_splits_keep_synthetic_out_of_validation():
    cfg = NNUNetConfig()
    real = [f"r{i}" for i in range(7)]
    splits = _make_splits(real, ["syn_a", "syn_b"], None, cfg)
    assert len(splits) == 5
    vals = [v for s in splits for v in s["val"]]
    assert sorted(vals) == real  # each real case validated exactly once
    for s in splits:
        assert {"syn_a", "syn_b"} <= set(s["train"]) and not set(s["val"]) & set(s["train"])
    explicit = _make_splits(real, ["syn_a"], ["r1"], cfg)
    assert explicit == [{"train": [r for r in real if r != "r1"] + ["syn_a"], "val": ["r1"]}]
    with pytest.raises(InputError, match="not among"):
        _make_splits(real, [], ["zz"], cfg)
    with pytest.raises(InputError, match="fold 'all'"):
        _make_splits(["r0"], [], None, cfg)
    assert _make_splits(["r0"], [], None, cfg.replace(fold="all")) is None
    with pytest.raises(InputError, match="no validation split"):
        _make_splits(real, [], ["r1"], cfg.replace(fold="all"))


def test_train_exports_through_export_nnunet(tmp_path):
    """train_nnunet writes its raw dataset with the one exporter (data.nnunet_export); the export's own
    behaviours are tested in test_nnunet_export.py. Here: the arguments it refuses before any export."""
    real = write_cohort(tmp_path / "real", 2)
    with pytest.raises(InputError, match="not both"):
        train_nnunet(real, tmp_path / "w", {"epochs": 1}, synthetic=real, noisy=real)
    with pytest.raises(InputError, match="unknown case ids"):
        train_nnunet(real, tmp_path / "w", {"epochs": 1}, train_cases=["nope"], val_cases=["case_000"])
    assert not (tmp_path / "w" / "nnUNet_raw" / "Dataset501_SynTumor" / "dataset.json").exists()


def test_predict_refuses_untrained_work(tmp_path):
    with pytest.raises(InputError, match="not a SynTumor nnU-Net work folder"):
        predict_nnunet(tmp_path, tmp_path, tmp_path / "out")


def test_cli_bad_input_exits_2(tmp_path, capsys):
    from SynTumorLib.cli.main import main

    assert main(["nnunet", "predict", "--work", str(tmp_path), "--images", str(tmp_path / "imgs"), "--out",
                 str(tmp_path / "o")]) == 2
    assert "not a SynTumor nnU-Net work folder" in capsys.readouterr().err
    data = write_cohort(tmp_path / "d", 2)
    assert main(["nnunet", "train", "--dataset", str(data), "--work", str(tmp_path / "w"), "--fold", "9"]) == 2
    assert "fold must be 0..4 or 'all'" in capsys.readouterr().err
    assert main(["nnunet", "train", "--dataset", str(data), "--work", str(tmp_path / "w"), "--fold", "all",
                 "--val-cases", "case_000"]) == 2
    assert "no validation split" in capsys.readouterr().err


@pytest.mark.slow
def test_nnunet_end_to_end_tiny(tmp_path):
    from SynTumorLib.metrics.evaluate import evaluate_folders

    data = write_cohort(tmp_path / "data", 6)
    ids = sorted(p.name.removesuffix(".nii.gz") for p in (data / "labelsTr").iterdir())
    train, val, test = ids[:4], ids[4:5], ids[5:]
    cfg = NNUNetConfig(dataset_id=501, name="Tiny", epochs=1, iterations_per_epoch=3, val_iterations_per_epoch=1,
                       device="cpu", da_processes=0, preprocess_processes=1, tta=False, seed=3)
    env_before = {k: v for k, v in os.environ.items() if k.startswith("nnUNet")}
    seen = []
    mf = train_nnunet(data, tmp_path / "work", cfg, train_cases=train, val_cases=val,
                      progress=lambda f, m: seen.append(f))
    assert (mf / "fold_0" / "checkpoint_final.pth").is_file()
    assert {k: v for k, v in os.environ.items() if k.startswith("nnUNet")} == env_before  # caller untouched
    splits = json.loads((tmp_path / "work" / "nnUNet_preprocessed" / "Dataset501_Tiny" / "splits_final.json").read_text())
    assert splits == [{"train": train, "val": val}]
    assert seen[-1] == 1.0
    # a re-run with the same settings is a no-op; with other settings it is refused
    assert train_nnunet(data, tmp_path / "work", cfg, train_cases=train, val_cases=val) == mf
    assert train_nnunet(data, tmp_path / "work", cfg.replace(device="auto", da_processes=1), train_cases=train,
                        val_cases=val) == mf  # runtime settings may change between calls
    with pytest.raises(InputError, match="other settings"):
        train_nnunet(data, tmp_path / "work", cfg.replace(epochs=2), train_cases=train, val_cases=val)

    out = predict_nnunet(tmp_path / "work", data, tmp_path / "pred", case_ids=test)
    assert [p.name for p in out] == [f"{test[0]}.nii.gz"]
    pred = read_volume(out[0])
    ref = read_volume(data / "labelsTr" / f"{test[0]}.nii.gz")
    assert pred.same_grid(ref) and set(np.unique(pred.array)) <= {0, 1, 2}
    assert not [p for p in (tmp_path / "pred").iterdir() if p.name.startswith(".nnunet-predict")]
    summary = evaluate_folders(tmp_path / "pred", data, tmp_path / "eval")
    assert summary["n_cases"] == 1 and (tmp_path / "eval" / "cases.csv").is_file()
