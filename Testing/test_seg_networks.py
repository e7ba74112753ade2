"""Networks, planning, configs and splits of the segmentation layer (tiny sizes, CPU)."""

from __future__ import annotations

import pytest
import torch

from SynTumorLib.segmentation import TrainConfig
from SynTumorLib.segmentation.networks import build_network, main_output, resolve_network_spec
from SynTumorLib.segmentation.planning import plan_dynunet
from SynTumorLib.segmentation.splits import check_splits, make_splits
from SynTumorLib.segmentation.train import compute_loss, make_loss
from SynTumorLib.utils.errors import InputError

torch.set_num_threads(1)

TINY = {
    "unet": {"channels": [4, 8, 16], "num_res_units": 1},
    "dynunet": {"filters": [4, 8, 8, 8], "deep_supervision": True, "deep_supr_num": 2},
    # 32³ leaves a 1-voxel bottleneck: batch norm over a batch of 2 instead of instance norm
    "swinunetr": {"feature_size": 12, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1], "norm_name": "batch"},
}


def _fixed_batch(size=32):
    """A bright blob (tumour, 2) inside a mid-grey slab (pancreas, 1): learnable in a few steps."""
    g = torch.Generator().manual_seed(0)
    k, j, i = torch.meshgrid(*[torch.arange(size)] * 3, indexing="ij")
    label = torch.zeros(size, size, size, dtype=torch.int64)
    label[(k - size // 2).abs() < size // 4] = 1
    label[((k - size // 2) ** 2 + (j - size // 2) ** 2 + (i - size // 2) ** 2) < (size // 6) ** 2] = 2
    image = label.float() * 0.35 + 0.05 * torch.randn(label.shape, generator=g)
    return image[None, None], label[None, None]


@pytest.mark.parametrize("name", ["unet", "dynunet", "swinunetr"])
def test_each_network_learns_on_a_fixed_batch(name):
    torch.manual_seed(0)
    spec = resolve_network_spec({"name": name, "args": TINY[name]}, (32, 32, 32), (1.5, 1.5, 1.5))
    net = build_network(spec)
    x, y = _fixed_batch()
    if name == "swinunetr":  # batch norm needs a batch of 2 at the 1-voxel bottleneck
        x, y = torch.cat([x, x.flip(2)]), torch.cat([y, y.flip(2)])
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    loss_fn, losses = make_loss(), []
    net.train()
    for _ in range(6):
        opt.zero_grad()
        out = net(x)
        loss = compute_loss(loss_fn, out, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses
    net.eval()
    with torch.no_grad():
        assert main_output(net(x)).shape == (len(x), 3, 32, 32, 32)


def test_dynunet_deep_supervision_output_is_stacked():
    spec = resolve_network_spec({"name": "dynunet", "args": TINY["dynunet"]}, (32, 32, 32), (1, 1, 1))
    net = build_network(spec).train()
    out = net(torch.zeros(1, 1, 32, 32, 32))
    assert out.shape == (1, 3, 3, 32, 32, 32)  # main head + 2 supervision heads, upsampled


def test_planning_is_anisotropy_aware():
    iso = plan_dynunet((1.0, 1.0, 1.0), (96, 96, 96))
    assert iso["strides"] == [[1, 1, 1]] + [[2, 2, 2]] * 4  # 96 → 6 voxels: a 5th pool would go below 8
    aniso = plan_dynunet((5.0, 0.8, 0.8), (32, 128, 128))
    # thick slices: no pooling and 1-wide kernels along k until the in-plane spacing has caught up
    assert aniso["kernel_size"][0] == [1, 3, 3] and aniso["strides"][1] == [1, 2, 2]
    assert aniso["strides"][2] == [1, 2, 2] and aniso["kernel_size"][3] == [3, 3, 3]
    assert len(aniso["strides"]) <= 6
    with pytest.raises(InputError, match="too small"):
        plan_dynunet((1, 1, 1), (4, 4, 4))
    with pytest.raises(InputError, match="spacing"):
        plan_dynunet((1, 0, 1), (32, 32, 32))


def test_resolved_dynunet_spec_is_planned_and_rebuildable():
    spec = resolve_network_spec({"name": "dynunet", "args": {"filters": [4, 8, 8, 8]}}, (16, 32, 32), (3.0, 1.0, 1.0))
    assert spec["args"]["strides"][1] == [1, 2, 2] and spec["args"]["kernel_size"][0] == [1, 3, 3]
    again = resolve_network_spec(spec, (16, 32, 32), (1.0, 1.0, 1.0))  # planned values are kept
    assert again == spec


@pytest.mark.parametrize(
    "spec, crop, match",
    [
        ({"name": "resnet"}, (32, 32, 32), "unknown model"),
        ({"name": "unet", "args": {"chanels": [4, 8]}}, (32, 32, 32), "unknown argument"),
        ({"name": "unet", "args": {"channels": [4, 8, 16, 32, 64]}}, (24, 24, 24), "divisible by 16"),
        ({"name": "unet", "args": {"channels": [4, 8], "strides": [2, 2]}}, (32, 32, 32), "strides"),
        ({"name": "swinunetr"}, (48, 48, 48), "divisible by 32"),
        ({"name": "swinunetr"}, (32, 64, 64), "≥ 64 voxels"),
        ({"name": "swinunetr", "args": {"feature_size": 20}}, (32, 32, 32), "multiple of 12"),
        ({"name": "dynunet", "args": {"filters": [4, 8]}}, (32, 32, 32), "filters"),
        ({"name": "unet", "extra": 1}, (32, 32, 32), "unknown key"),
    ],
)
def test_network_spec_errors(spec, crop, match):
    with pytest.raises(InputError, match=match):
        resolve_network_spec(spec, crop, (1, 1, 1))


def test_config_round_trip_and_defaults(tmp_path):
    cfg = TrainConfig.from_dict({"data": {"real": "x"}, "optimizer": "sgd"})
    assert cfg.learning_rate == 1e-2 and cfg.momentum == 0.99 and cfg.crop_size == [96, 96, 96]
    assert cfg.split["test_fraction"] == 0.2 and cfg.data["synthetic_prob"] == 0.5
    p = tmp_path / "c.json"
    p.write_text(__import__("json").dumps(cfg.to_dict()))
    assert TrainConfig.from_json(p) == cfg


@pytest.mark.parametrize(
    "d, match",
    [
        ({"data": {"real": "x"}, "learning_rate": 1}, "unknown key"),
        ({"data": {"real": "x", "helthy": "y"}}, "'data': unknown key 'helthy' \\(did you mean 'healthy'\\?\\)"),
        ({"data": {"real": "x"}, "iteration": 5}, "unknown key 'iteration' \\(did you mean 'iterations'\\?\\)"),
        ({"data": {"real": "x"}, "device": "gpu"}, "device must be auto, cpu, cuda or cuda:N"),
        ({"data": {"real": "x"}, "batch_size": 0}, "'batch_size' must be an integer ≥ 1, got 0"),
        ({"data": {"real": "x"}, "val_overlap": 1.0}, "'val_overlap' must be a number in \\[0, 1\\)"),
        ({"data": {}}, "at least one"),
        ({"data": {"real": "x", "arm": "huge"}}, "data.arm"),
        ({"data": {"real": "x", "arm": "large"}}, "no 'data.healthy'"),
        ({"data": {"noisy_labels": "n", "healthy": "h"}}, "give 'data.real'"),
        ({"data": {"real": "x"}, "crop_size": [96, 96]}, "crop_size"),
        ({"data": {"real": "x"}, "optimizer": "adam"}, "optimizer"),
        ({"data": {"real": "x"}, "amp": "fp8"}, "amp"),
        ({"data": {"real": "x"}, "iterations": 0}, "iterations"),
        ({"data": {"real": "x"}, "spacing": [1, -1, 1]}, "spacing"),
        ({"data": {"real": "x"}, "model": {"name": "vnet"}}, "unknown model"),
        ({"data": {"real": "x"}, "augment": {"rotate": 1}}, "augment"),
    ],
)
def test_config_validation_errors(d, match):
    with pytest.raises(InputError, match=match):
        TrainConfig.from_dict(d)


def test_splits_are_disjoint_reproducible_and_fold_complete():
    ids = [f"p{i:02d}" for i in range(23)]
    a, b = make_splits(ids, seed=3), make_splits(ids, seed=3)
    assert a == b and a != make_splits(ids, seed=4)
    assert not (set(a["train"]) & set(a["val"])) and not (set(a["val"]) & set(a["test"]))
    assert sorted(a["train"] + a["val"] + a["test"]) == ids and len(a["test"]) == 5
    tests = [make_splits(ids, seed=1, n_folds=5, fold=f)["test"] for f in range(5)]
    assert sorted(sum(tests, [])) == ids
    with pytest.raises(InputError, match="no cases"):
        make_splits([], seed=0)
    with pytest.raises(InputError, match="n_folds"):
        make_splits(ids, seed=0, n_folds=5)
    with pytest.raises(InputError, match="both 'train' and 'test'"):
        check_splits({"train": ["p00"], "test": ["p00"]}, ids)
    with pytest.raises(InputError, match="not in the dataset"):
        check_splits({"train": ["zz"]}, ids)


def test_shipped_presets_are_valid_with_a_dataset():
    import json
    from pathlib import Path

    import SynTumorLib.segmentation as seg

    presets = sorted((Path(seg.__file__).parent / "configs").glob("*.json"))
    assert {p.stem for p in presets} >= {"tiny-cpu", "paper-unet", "paper-dynunet", "paper-swinunetr"}
    for p in presets:
        d = json.loads(p.read_text())
        d["data"]["real"] = "somewhere"
        cfg = TrainConfig.from_dict(d, source=p.name)
        resolve_network_spec(cfg.model, cfg.crop_size, (1.0, 1.0, 1.0))
    explicit = TrainConfig.from_dict({"data": {"real": "x"}, "split": {"train": ["a"], "val": ["b"], "test": ["c"]}})
    assert explicit.split["train"] == ["a"]
