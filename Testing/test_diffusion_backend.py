"""The diffusion texture backend: model folder → TextureModel, paste-back, records and replay."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from builders import ellipsoid

from SynTumorLib.utils.errors import InputError, ModelFolderError

torch.set_num_threads(1)

CFG = {
    "crop": {"size": 16, "spacing_mm": 2.0, "feather_mm": 3.0},
    "autoencoder": {"kind": "kl", "channels": [8, 8], "num_res_layers": 1, "latent_channels": 2},
    "diffusion": {"channels": [8, 16], "attention_levels": [False, False], "num_res_blocks": 1, "norm_num_groups": 8,
                  "num_train_timesteps": 20, "schedule": "cosine", "size_conditioning": "class",
                  "size_thresholds_mm": [12.0],
                  "sampling": [{"scheduler": "ddpm", "steps": 2}, {"scheduler": "ddim", "steps": 3}]},
    "scale_factor": 1.5, "latent_channels": 2,
}


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A texture model folder with random (untrained) weights: the backend's plumbing does not need training."""
    from SynTumorLib.runtime.model_folder import prefixed, write_model_folder
    from SynTumorLib.texture.diffusion.autoencoder import TextureAutoencoder
    from SynTumorLib.texture.diffusion.diffusion_model import build_unet
    from SynTumorLib.texture.diffusion.train_diffusion import KIND

    torch.manual_seed(0)
    tensors = {**prefixed("autoencoder", TextureAutoencoder(CFG["autoencoder"])),
               **prefixed("unet.main", build_unet(CFG["diffusion"], 2))}
    arch = {"autoencoder": CFG["autoencoder"], "diffusion": CFG["diffusion"], "latent_channels": 2}
    return write_model_folder(tmp_path_factory.mktemp("tex") / "model", KIND, architecture=arch, config=CFG,
                              tensors=tensors, steps=0)


def _case(shape=(24, 28, 28), seed=0):
    rng = np.random.default_rng(seed)
    img = rng.normal(60, 15, shape).astype(np.int16)
    tumour = ellipsoid(shape, (12, 14, 13), (3.0, 4.0, 3.5))
    organ = ellipsoid(shape, (12, 14, 13), (8.0, 9.0, 9.0)) & ~tumour
    return img, tumour, organ


def test_synthesize_changes_only_the_feathered_tumour(model_folder):
    from scipy import ndimage

    from SynTumorLib.texture import get_texture

    tex = get_texture(model_folder)  # the registry dispatches a folder to this backend
    assert tex.name == "diffusion"
    img, tumour, organ = _case()
    copies = [a.copy() for a in (img, tumour, organ)]
    sp = (1.5, 1.0, 1.0)
    out, params = tex.synthesize(img, tumour, organ, sp, seed=7)
    assert out.dtype == np.float32 and out.shape == img.shape
    for a, b in zip((img, tumour, organ), copies, strict=False):
        assert np.array_equal(a, b)  # inputs untouched
    dist = ndimage.distance_transform_edt(~tumour, sampling=sp)
    outside = dist > params["margin_mm"]
    assert np.array_equal(out[outside], img[outside].astype(np.float32))  # bit-identical outside
    assert np.any(out[tumour] != img[tumour])
    assert out.min() >= -175 - 1e-3 or np.array_equal(out[out < -175], img[out < -175].astype(np.float32))
    # the record names the model and its hash, the sampler and the number of steps
    assert params["model_sha256"] == tex.sha256 and len(tex.sha256) == 64
    assert params["sampling"][0] == {"scheduler": "ddpm", "steps": 2}
    assert tex.describe()["config"]["folder"] == str(model_folder.resolve())


def test_replay_is_bit_identical_from_a_fresh_instance(model_folder):
    from SynTumorLib.texture import get_texture

    img, tumour, organ = _case(seed=1)
    tex = get_texture(model_folder, steps=2)
    out, params = tex.synthesize(img, tumour, organ, (1.0, 1.0, 1.0), seed=3)
    again = get_texture(tex.describe()).apply(img, tumour, organ, (1.0, 1.0, 1.0), params)
    assert np.array_equal(out, again)
    other, _ = tex.synthesize(img, tumour, organ, (1.0, 1.0, 1.0), seed=4)
    assert not np.array_equal(out, other)


def test_scheduler_and_step_overrides_are_recorded(model_folder):
    from SynTumorLib.texture.diffusion import from_folder

    tex = from_folder(model_folder, scheduler="ddim", steps=4, feather_mm=0.0)
    p = tex.sample(0)
    assert p["sampling"] == [{"scheduler": "ddim", "steps": 4}] * 2 and p["margin_mm"] == 0.0
    img, tumour, organ = _case(seed=2)
    out = tex.apply(img, tumour, organ, (1.0, 1.0, 1.0), p)
    assert np.array_equal(out[~tumour], img[~tumour].astype(np.float32))  # no feather → only label voxels
    with pytest.raises(InputError, match="scheduler"):
        from_folder(model_folder, scheduler="euler")


def test_clear_errors(model_folder, tmp_path):
    from SynTumorLib.texture.diffusion import from_folder

    with pytest.raises(InputError, match="statistical"):
        from_folder(None)
    with pytest.raises(InputError, match="not found"):
        from_folder(tmp_path / "missing")
    tex = from_folder(model_folder)
    img, tumour, organ = _case()
    p = tex.sample(0)
    with pytest.raises(ModelFolderError, match="another model"):
        tex.apply(img, tumour, organ, (1.0, 1.0, 1.0), {**p, "model_sha256": "0" * 64})
    big = np.ones(img.shape, bool)
    with pytest.raises(InputError, match="exceeds"):
        tex.apply(img, big, ~big, (2.0, 2.0, 2.0), p)
    with pytest.raises(InputError, match="shapes differ"):
        tex.apply(img, tumour[:-1], organ, (1.0, 1.0, 1.0), p)
    # damaged weights are refused
    (tmp_path / "ae").mkdir()
    for name in ("model.safetensors", "model_card.json"):
        (tmp_path / "ae" / name).write_bytes((model_folder / name).read_bytes())
    (tmp_path / "ae" / "model.safetensors").write_bytes(b"\0" * 10)
    with pytest.raises(ModelFolderError, match="SHA-256"):
        from_folder(tmp_path / "ae")


def test_tiny_tumour_smaller_than_a_crop_voxel(model_folder):
    from SynTumorLib.texture.diffusion import from_folder

    img, _, organ = _case()
    tumour = np.zeros(img.shape, bool)
    tumour[12, 14, 13] = True  # one 1 mm voxel, the crop voxel is 2 mm
    out, _ = from_folder(model_folder).synthesize(img, tumour, organ, (1.0, 1.0, 1.0), seed=0)
    assert out[12, 14, 13] != img[12, 14, 13]
