"""DiffTumor's released segmenters: safe loading, key maps into MONAI 1.6.1, the legacy Swin merge order."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
import torch
from _difftumor_fixtures import MarkerPayload, old_numpy_spelling
from monai.networks.nets.swin_unetr import PatchMerging, PatchMergingV2

from SynTumorLib.segmentation import difftumor_segmenters as ds
from SynTumorLib.utils.errors import InputError

torch.set_num_threads(1)


def _released_layout(arch: str) -> dict[str, torch.Tensor]:
    """A state dict in the released file's layout, built from the facts (SEGMENTERS §2, §6); Swin-UNETR
    with the reference's ``mlp.fc1/fc2`` names and its unused ``swinViT.norm``. Every tensor holds its
    own random constant (a one-element storage, expanded), so a file of 62 M parameters stays tiny and
    any mix-up of keys in the mapping shows."""
    g = torch.Generator().manual_seed(0)
    sd = {}
    for k, (shape, dtype) in ds.expected_tensors(arch).items():
        if dtype.is_floating_point:
            sd[k] = torch.randn(1, generator=g).to(dtype).expand(shape)
        else:
            sd[k] = torch.randint(0, 343, shape, generator=g).to(dtype)
    if arch == "swinunetr":
        back = {v: k for k, v in ds.swin_key_map().items()}
        sd = {back.get(k, k): v for k, v in sd.items()}
        sd["swinViT.norm.weight"], sd["swinViT.norm.bias"] = torch.randn(384), torch.randn(384)
    return sd


def _file(sd: dict, **extra) -> bytes:
    buf = io.BytesIO()
    torch.save({"epoch": 1999, "best_acc": np.float64(0.5873), "state_dict": sd, **extra}, buf)
    return old_numpy_spelling(buf.getvalue())  # as written under NumPy 1.x (DiffTumor's environment)


@pytest.mark.parametrize("arch", ["unet", "dynunet", "swinunetr"])
def test_released_layouts_load_strictly_into_monai_161(arch):
    sd = _released_layout(arch)
    assert len(sd) == ds.RELEASED_TENSOR_COUNTS[arch]
    raw = _file(sd)
    assert b"cnumpy.core.multiarray\nscalar" in raw  # the old spelling is what the loader must allowlist
    mapped, info = ds.load_difftumor_segmenter(raw)
    net = ds.build_released_network(arch)
    net.load_state_dict(mapped, strict=True)
    assert info["architecture"] == arch and info["epoch"] == 1999 and info["best_acc"] == pytest.approx(0.5873)
    assert "numpy.core.multiarray.scalar" in info["globals"]
    json.dumps(info)  # the facts are JSON-able (a model card will carry them)
    renames = ds.swin_key_map() if arch == "swinunetr" else {}
    for k, v in sd.items():
        if k not in ds.SWIN_DROPPED:
            assert torch.equal(mapped[renames.get(k, k)], v), k
    if arch == "swinunetr":
        assert info["renamed"] == 32 and info["dropped"] == list(ds.SWIN_DROPPED) and len(mapped) == 159
        assert info["downsample"] == "legacy-merging"
        assert "swinViT.layers3.0.blocks.1.mlp.linear2.weight" in mapped
    else:
        assert info["renamed"] == 0 and set(mapped) == set(sd)


def test_unet_forward_with_the_loaded_weights():
    torch.manual_seed(3)
    sd = ds.build_released_network("unet").state_dict()  # random (initialisation) weights
    mapped, _ = ds.load_difftumor_segmenter(_file(sd), arch="unet")
    net = ds.build_released_network("unet").eval()
    net.load_state_dict(mapped, strict=True)
    ref = ds.build_released_network("unet").eval()
    ref.load_state_dict(sd, strict=True)
    x = torch.rand(1, 1, 32, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(x), ref(x)) and net(x).shape == (1, 3, 32, 32, 32)


def test_prefixes_bare_state_dicts_and_extra_entries():
    sd = _released_layout("unet")
    for prefix in ("module.", "backbone."):
        mapped, info = ds.load_difftumor_segmenter(_file({prefix + k: v for k, v in sd.items()},
                                                         optimizer={"state": {}, "param_groups": []}))
        assert info["prefix_removed"] == prefix and info["extra_entries"] == ["optimizer"]
        assert set(mapped) == set(sd)
    buf = io.BytesIO()
    torch.save(sd, buf)
    _, info = ds.load_difftumor_segmenter(buf.getvalue())
    assert info["architecture"] == "unet" and info["epoch"] is None


def test_dynunet_needs_non_affine_instance_norm():
    # MONAI's default DynUNet norm is affine instance norm: 72 more keys, so the released file would not load
    from monai.networks.nets import DynUNet

    args = {k: v for k, v in ds.RELEASED_ARCHITECTURES["dynunet"].items() if k != "norm_name"}
    default = DynUNet(**args).state_dict()
    assert len(default) - len(_released_layout("dynunet")) == 72


def test_wrong_architecture_unknown_layout_and_bad_shapes():
    raw = _file(_released_layout("unet"))
    with pytest.raises(InputError, match="a unet network, not swinunetr"):
        ds.load_difftumor_segmenter(raw, arch="swinunetr")
    with pytest.raises(InputError, match="cannot tell the backbone"):
        ds.load_difftumor_segmenter(_file({"foo.weight": torch.zeros(2)}))
    sd = _released_layout("unet")
    sd["model.0.conv.unit0.conv.weight"] = torch.zeros(16, 2, 3, 3, 3)
    with pytest.raises(InputError, match=r"misshapen: 'model.0.conv.unit0.conv.weight' \(16, 2, 3, 3, 3\)"):
        ds.load_difftumor_segmenter(_file(sd))
    del sd["model.0.conv.unit0.conv.weight"]
    sd["model.0.conv.unit0.conv.weight"] = torch.zeros(16, 1, 3, 3, 3)
    sd.pop("model.2.0.conv.bias")
    with pytest.raises(InputError, match="1 missing: model.2.0.conv.bias"):
        ds.load_difftumor_segmenter(_file(sd))
    with pytest.raises(InputError, match="unknown DiffTumor segmenter"):
        ds.build_released_network("unetr")


def test_segmenter_file_with_another_global_is_refused(tmp_path):
    marker = tmp_path / "marker.txt"
    raw = _file(_released_layout("unet"), scheduler=MarkerPayload(str(marker)))
    with pytest.raises(InputError, match="write_marker"):
        ds.load_difftumor_segmenter(raw)
    assert not marker.exists()


def test_numpy_scalar_standins_decode_numbers_only():
    dt = ds._NumpyDtype("f8", False, True)
    dt.__setstate__((3, ">", None, None, None, -1, -1, 0))
    assert ds._numpy_scalar(dt, struct.pack(">d", 0.25)) == 0.25
    assert ds._numpy_scalar(ds._NumpyDtype("i8"), struct.pack("<q", -3)) == -3
    with pytest.raises(ValueError, match="unsupported numpy scalar"):
        ds._numpy_scalar(ds._NumpyDtype("O"), b"x")


def test_legacy_patch_merging_keeps_the_released_concatenation_order():
    # golden: the reference joins the 2×2×2 sub-grids at (d, h, w) offsets in this order (SEGMENTERS §6)
    golden = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, 0), (0, 0, 1), (1, 1, 1)]
    x = torch.zeros(1, 2, 2, 2, 1)
    for d in range(2):
        for h in range(2):
            for w in range(2):
                x[0, d, h, w, 0] = 100 * d + 10 * h + w
    m = ds.LegacyPatchMerging(1)
    m.norm, m.reduction = torch.nn.Identity(), torch.nn.Identity()
    assert m(x).flatten().tolist() == [100 * d + 10 * h + w for d, h, w in golden]
    # MONAI ≥ 1.5 "merging" and "mergingv2" take eight distinct sub-grids: same shapes, other maths
    for cls in (PatchMerging, PatchMergingV2):
        other = cls(1)
        other.norm, other.reduction = torch.nn.Identity(), torch.nn.Identity()
        assert other(x).flatten().tolist() != m(x).flatten().tolist()
    assert sorted(ds.LegacyPatchMerging(4).state_dict()) == ["norm.bias", "norm.weight", "reduction.weight"]


def test_swin_unetr_is_built_with_the_legacy_merging():
    net = ds.build_released_network("swinunetr")
    merges = [m for m in net.modules() if isinstance(m, PatchMergingV2)]
    assert len(merges) == 4 and all(type(m) is ds.LegacyPatchMerging for m in merges)


def test_preprocessing_facts():
    p = ds.PREPROCESSING
    assert p["orientation"] == "RAS" and p["array_axes"] == ["R", "A", "S"] and p["spacing_mm"] == [1.0, 1.0, 1.0]
    assert (p["window_hu"], p["roi_size"], p["overlap"], p["blend_mode"]) == ([-175.0, 250.0], [96, 96, 96], 0.75, "gaussian")
    assert ds.LABELS == ("background", "organ", "tumour")
    json.dumps(p)
