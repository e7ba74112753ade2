"""DiffTumor manifests: SynTumor's modules at the released configs have DiffTumor's keys and shapes."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from SynTumorLib.texture.difftumor.manifests import (
    MANIFEST_FILE,
    check_tensors,
    load_manifests,
    manifest_dtypes,
)
from SynTumorLib.texture.difftumor.schedule import BUFFER_NAMES, schedule_buffers
from SynTumorLib.texture.difftumor.unet3d import Unet3D
from SynTumorLib.texture.difftumor.vqgan3d import VQGAN3D
from SynTumorLib.utils.errors import InputError

TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_difftumor_manifests.py"


def _shapes(module) -> dict:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def _numel(section: dict) -> int:
    return sum(math.prod(s) for s in section.values())


def test_committed_manifest_is_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("make_difftumor_manifests", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert MANIFEST_FILE.read_text(encoding="utf-8") == tool.render(tool.build())


def test_counts_and_sizes_match_the_released_files():
    m = load_manifests()
    assert (len(m["autoencoder"]), len(m["autoencoder_ignored"]), len(m["unet"]), len(m["schedule"])) == (71, 83, 300, 12)
    assert _numel(m["autoencoder"]) == 1_669_609
    assert _numel(m["unet"]) == 6_018_736
    # SPEC §1: the full VQ-GAN state dict (AE + discriminators + LPIPS) has 30,203,511 values
    assert _numel(m["autoencoder"]) + _numel(m["autoencoder_ignored"]) == 30_203_511
    # and each .pt = 2 × (Unet3D + VQ-GAN) float32 ≈ 290 MB
    assert 2 * (6_018_736 + 30_203_511) * 4 / 1e6 == pytest.approx(289.8, abs=0.1)
    assert set(m["schedule"]) == set(BUFFER_NAMES)
    ignored = m["autoencoder_ignored"]
    assert {k.split(".")[0] for k in ignored} == {"image_discriminator", "video_discriminator", "perceptual_model"}
    ints = [k for k, d in manifest_dtypes("autoencoder_ignored").items() if d == "int64"]
    assert len(ints) == 6 and all(k.endswith("num_batches_tracked") for k in ints)


def test_modules_at_the_released_config_equal_the_manifest():
    m = load_manifests()
    with torch.device("meta"):
        assert _shapes(VQGAN3D()) == m["autoencoder"]
        assert _shapes(Unet3D()) == m["unet"]
    assert {k: list(v.shape) for k, v in schedule_buffers(4).items()} == {k: [4] for k in BUFFER_NAMES}


@pytest.mark.parametrize("key, shape", [
    ("encoder.conv_first.conv.weight", [16, 1, 3, 3, 3]),
    ("encoder.conv_blocks.0.down.conv.weight", [32, 16, 4, 4, 4]),
    ("encoder.conv_blocks.1.down.conv.weight", [64, 32, 4, 4, 4]),
    ("encoder.conv_blocks.1.res.conv2.conv.weight", [64, 64, 3, 3, 3]),
    ("encoder.final_block.0.weight", [64]),
    ("pre_vq_conv.conv.weight", [8, 64, 1, 1, 1]),
    ("post_vq_conv.conv.weight", [64, 8, 1, 1, 1]),
    ("codebook.embeddings", [16384, 8]),
    ("codebook.N", [16384]),
    ("codebook.z_avg", [16384, 8]),
    ("decoder.final_block.0.bias", [64]),
    ("decoder.conv_blocks.0.up.convt.weight", [64, 64, 4, 4, 4]),
    ("decoder.conv_blocks.1.up.convt.weight", [64, 32, 4, 4, 4]),
    ("decoder.conv_blocks.1.res2.norm1.weight", [32]),
    ("decoder.conv_last.conv.weight", [1, 32, 3, 3, 3]),
])
def test_autoencoder_keys_of_the_spec_table(key, shape):
    assert load_manifests()["autoencoder"][key] == shape


@pytest.mark.parametrize("key, shape", [
    ("time_rel_pos_bias.relative_attention_bias.weight", [32, 8]),
    ("init_conv.weight", [24, 17, 1, 7, 7]),
    ("init_temporal_attn.fn.norm.gamma", [1, 24, 1, 1, 1]),
    ("init_temporal_attn.fn.fn.fn.rotary_emb.freqs", [16]),
    ("init_temporal_attn.fn.fn.fn.to_qkv.weight", [768, 24]),
    ("init_temporal_attn.fn.fn.fn.to_out.weight", [24, 256]),
    ("time_mlp.1.weight", [96, 24]),
    ("time_mlp.3.weight", [96, 96]),
    ("downs.1.0.mlp.1.weight", [96, 96]),
    ("downs.1.0.block1.proj.weight", [48, 24, 1, 3, 3]),
    ("downs.1.0.res_conv.weight", [48, 24, 1, 1, 1]),
    ("downs.2.2.fn.fn.to_qkv.weight", [768, 96, 1, 1]),
    ("downs.2.2.fn.fn.to_out.weight", [96, 256, 1, 1]),
    ("downs.0.4.weight", [24, 24, 1, 4, 4]),
    ("mid_spatial_attn.fn.fn.fn.to_qkv.weight", [768, 192]),
    ("ups.0.0.block1.proj.weight", [96, 384, 1, 3, 3]),
    ("ups.0.4.weight", [96, 96, 1, 4, 4]),
    ("final_conv.0.block1.proj.weight", [24, 48, 1, 3, 3]),
    ("final_conv.1.weight", [8, 24, 1, 1, 1]),
])
def test_unet_keys_of_the_spec_table(key, shape):
    assert load_manifests()["unet"][key] == shape


def test_no_downsample_in_the_last_level_and_no_guidance_parameters():
    unet = load_manifests()["unet"]
    assert not any(k.startswith(("downs.3.4.", "ups.3.4.")) for k in unet)
    assert "null_cond_emb" not in unet
    assert not any(k.startswith("final_conv.0.mlp") for k in unet)


def test_check_tensors_names_missing_misshapen_and_unexpected_keys():
    expected = {"a": [2], "b": [3, 3]}
    check_tensors({"a": torch.zeros(2), "b": torch.zeros(3, 3)}, expected, "f.pt", "test")
    with pytest.raises(InputError, match=r"f\.pt.*missing key\(s\): b"):
        check_tensors({"a": torch.zeros(2)}, expected, "f.pt", "test")
    with pytest.raises(InputError, match=r"'b' has shape \(3, 4\), expected \(3, 3\)"):
        check_tensors({"a": torch.zeros(2), "b": torch.zeros(3, 4)}, expected, "f.pt", "test")
    with pytest.raises(InputError, match=r"unexpected key\(s\): c"):
        check_tensors({"a": torch.zeros(2), "b": torch.zeros(3, 3), "c": torch.zeros(1)}, expected, "f.pt", "test")
    # allowed extras are optional but shape-checked
    check_tensors({"a": torch.zeros(2), "b": torch.zeros(3, 3)}, expected, "f.pt", "test", allowed_extra={"c": [1]})
    with pytest.raises(InputError, match=r"'c' has shape \(2\)"):
        check_tensors({"a": torch.zeros(2), "b": torch.zeros(3, 3), "c": torch.zeros(2)}, expected, "f.pt", "test",
                      allowed_extra={"c": [1]})
