"""Latent-diffusion texture: models, samplers, pipeline, crops and model folders on tiny inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from SynTumorLib.utils.errors import InputError, ModelFolderError

torch.set_num_threads(1)

AE_CFG = {"kind": "vqvae", "channels": [8, 8], "num_res_layers": 1, "latent_channels": 2, "num_embeddings": 16}
D_CFG = {"channels": [8, 16], "attention_levels": [False, False], "num_res_blocks": 1, "norm_num_groups": 8,
         "num_train_timesteps": 40, "schedule": "cosine", "size_conditioning": "class", "size_thresholds_mm": [10.0],
         "sampling": [{"scheduler": "ddim", "steps": 3}, {"scheduler": "ddpm", "steps": 4}]}


@pytest.mark.parametrize("kind", ["vqvae", "kl"])
def test_autoencoder_shapes_and_losses(kind):
    from SynTumorLib.texture.diffusion.autoencoder import TextureAutoencoder, build_discriminator

    torch.manual_seed(0)
    ae = TextureAutoencoder({**AE_CFG, "kind": kind})
    x = torch.rand(2, 1, 16, 16, 16)
    recon, reg = ae(x)
    assert recon.shape == x.shape and reg.ndim == 0 and float(reg.detach()) >= 0
    ae.eval()
    z = ae.encode(x)
    assert z.shape == (2, 2, 4, 4, 4)  # 4× downsampling, latent_channels 2
    assert ae.decode(z).shape == x.shape
    logits = build_discriminator({"channels": 4, "num_layers_d": 2})(x)[-1]
    assert logits.shape[0] == 2 and logits.shape[1] == 1


def test_autoencoder_rejects_bad_config():
    from SynTumorLib.texture.diffusion.autoencoder import TextureAutoencoder, build_perceptual_loss

    with pytest.raises(InputError, match="kind"):
        TextureAutoencoder({**AE_CFG, "kind": "gan"})
    with pytest.raises(InputError, match="autoencoder.channels must be a list of 2 positive integers"):
        TextureAutoencoder({**AE_CFG, "channels": [8, 8, 8]})
    assert build_perceptual_loss(None) is None  # no weights → no perceptual loss, nothing downloaded
    with pytest.raises(InputError, match="not found"):
        build_perceptual_loss("/nonexistent/weights.pth")


def test_codebook_restart_initialises_from_data_and_revives_dead_codes():
    """All codes start at encoder outputs; later only unused codes move; deterministic; KL: no-op."""
    from SynTumorLib.texture.diffusion.autoencoder import TextureAutoencoder

    torch.manual_seed(0)
    ae = TextureAutoencoder({**AE_CFG, "num_embeddings": 32})
    q = ae.net.quantizer.quantizer
    x = torch.rand(2, 1, 16, 16, 16)
    assert ae.restart_codes(x, torch.Generator().manual_seed(1), all_codes=True) == 32
    z_e = ae.net.encode(x).permute(0, 2, 3, 4, 1).reshape(-1, 2).detach()
    # every code is (within the 1e-3 tie-breaking jitter) one of the batch's encoder outputs
    d = torch.cdist(q.embedding.weight.data, z_e).min(dim=1).values
    assert float(d.max()) < 1e-2 * float(z_e.std()) + 1e-6
    assert torch.equal(q.ema_w, q.embedding.weight.data)
    # mark half the codes as used: only the other half is restarted, the used ones stay put
    q.ema_cluster_size.data[:] = 0.0
    q.ema_cluster_size.data[:16] = 10.0
    before = q.embedding.weight.data.clone()
    assert ae.restart_codes(x, torch.Generator().manual_seed(2)) == 16
    assert torch.equal(q.embedding.weight.data[:16], before[:16])
    assert not torch.equal(q.embedding.weight.data[16:], before[16:])
    assert ae.restart_codes(x, torch.Generator().manual_seed(2)) == 0  # revived codes count as used
    # same generator seed → same codebook (resume reproduces the restarts)
    other = TextureAutoencoder({**AE_CFG, "num_embeddings": 32})
    other.load_state_dict(ae.state_dict())
    ae.restart_codes(x, torch.Generator().manual_seed(3), all_codes=True)
    other.restart_codes(x, torch.Generator().manual_seed(3), all_codes=True)
    assert torch.equal(ae.codebook_buffers()[0], other.codebook_buffers()[0])
    kl = TextureAutoencoder({**AE_CFG, "kind": "kl"})
    assert kl.restart_codes(x, torch.Generator()) == 0 and kl.codebook_buffers() == []


def test_unet_conditioning_and_size_bins():
    from SynTumorLib.texture.diffusion.diffusion_model import EMA, build_unet, model_names, size_class

    net = build_unet(D_CFG, latent_channels=2)
    x = torch.randn(2, 5, 4, 4, 4)  # [x_t (2), z (2), y (1)]
    out = net(x, timesteps=torch.tensor([0, 39]), class_labels=torch.tensor([0, 1]))
    assert out.shape == (2, 2, 4, 4, 4)
    assert model_names(D_CFG) == ["main"]
    assert model_names({**D_CFG, "size_conditioning": "two_models"}) == ["size0", "size1"]
    assert size_class(4 / 3 * np.pi * 4**3, [10.0]) == 0 and size_class(4 / 3 * np.pi * 6**3, [10.0]) == 1
    with pytest.raises(InputError):
        model_names({**D_CFG, "size_conditioning": "maybe"})
    ema = EMA(net, 0.5)
    before = [p.clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    ema.update(net)
    moved = [float((a - b).abs().max()) for a, b in zip(ema.model.parameters(), before, strict=False)]
    assert all(0 < m <= 1.0 for m in moved)


@pytest.mark.parametrize("kind,steps", [("ddim", 1), ("ddim", 7), ("ddpm", 4), ("ddim", 40)])
def test_sampler_recovers_x0_with_oracle_noise(kind, steps):
    """With the true ε (an oracle denoiser) every respaced DDIM/DDPM chain must land on x_0."""
    from SynTumorLib.texture.diffusion.schedulers import Sampler, train_scheduler

    cfg = {"num_train_timesteps": 40, "schedule": "cosine"}
    abar = train_scheduler(cfg).alphas_cumprod
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, 2, 4, 4, 4, generator=g)
    s = Sampler(cfg, kind, steps)
    assert s.model_timesteps[0] == 39 and len(s.model_timesteps) == steps
    assert steps == 1 or s.model_timesteps[-1] == 0
    x = torch.randn(x0.shape, generator=g)
    for i, t in enumerate(s.model_timesteps):
        a = abar[t]
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        x = s.step(eps, i, x, generator=g)
    assert torch.allclose(x, x0, atol=1e-3)
    with pytest.raises(InputError):
        Sampler(cfg, "ddim", 41)
    with pytest.raises(InputError):
        Sampler(cfg, "euler", 4)


def _pipeline(seed=0, mode="class"):
    from SynTumorLib.texture.diffusion.autoencoder import TextureAutoencoder
    from SynTumorLib.texture.diffusion.diffusion_model import build_unet, model_names
    from SynTumorLib.texture.diffusion.pipeline import TumourTexturePipeline

    torch.manual_seed(seed)
    cfg = {**D_CFG, "size_conditioning": mode, "model_timesteps": {"size0": 4}}
    unets = {n: build_unet(cfg, 2) for n in model_names(cfg)}
    # KL autoencoder: an untrained VQ decoder snaps every latent to the same few codes, hiding differences
    ae = TextureAutoencoder({**AE_CFG, "kind": "kl"})
    return TumourTexturePipeline(ae, unets, cfg, scale_factor=2.0), cfg


@pytest.mark.parametrize("mode", ["class", "two_models"])
def test_pipeline_shapes_range_and_determinism(mode):
    pipe, _ = _pipeline(mode=mode)
    x = torch.rand(1, 1, 16, 16, 16)
    m = torch.zeros_like(x)
    m[..., 5:11, 5:11, 5:11] = 1
    x_in = x.clone()
    outs = [pipe(x, m, size_bin=b, generator=torch.Generator().manual_seed(3)) for b in (0, 0, 1)]
    assert outs[0].shape == x.shape and float(outs[0].min()) >= 0 and float(outs[0].max()) <= 1
    assert torch.equal(outs[0], outs[1])  # same seed → same sample
    assert not torch.equal(outs[0], outs[2])  # another size bin → another denoiser / class
    assert torch.equal(x, x_in)
    with pytest.raises(InputError, match="divisible"):
        pipe(torch.rand(1, 1, 15, 16, 16), m[..., :15, :, :], 0)
    with pytest.raises(InputError, match="size_bin"):
        pipe(x, m, size_bin=2)


def test_crop_grid_and_paste_back_only_inside_feathered_region():
    from SynTumorLib.texture.diffusion.crops import CropGrid, feather_weights, paste_back

    rng = np.random.default_rng(0)
    img = rng.normal(40, 10, (20, 24, 24)).astype(np.int16)
    mask = np.zeros(img.shape, bool)
    mask[8:12, 9:15, 10:14] = True
    sp = (2.0, 1.0, 1.0)
    g = CropGrid.around(mask, sp, size=16, spacing_mm=1.5)
    crop_mask = g.sample(mask, order=0) > 0.5
    assert crop_mask.shape == (16, 16, 16) and crop_mask.any()
    # a voxel at the crop centre maps back to the grid centre
    assert np.allclose(g.to_crop(np.asarray(g.centre_kji)[:, None])[:, 0], 7.5)
    syn = np.full((16, 16, 16), -100.0, np.float32)
    img_in = img.copy()
    out, n = paste_back(img, mask, syn, g, feather_mm=2.0)
    assert out.dtype == np.float32 and np.array_equal(img, img_in)
    box, w = feather_weights(mask, sp, 2.0)
    weight = np.zeros(img.shape, np.float32)
    weight[box] = w
    assert n == int((weight > 0).sum())
    unchanged = weight == 0
    assert np.array_equal(out[unchanged], img[unchanged].astype(np.float32))
    assert np.all(out[mask & (weight == 1)] == -100.0)
    # nothing farther than feather/2 from the tumour changes
    from scipy import ndimage

    dist = ndimage.distance_transform_edt(~mask, sampling=sp)
    assert not np.any((out != img) & (dist > 1.0))
    with pytest.raises(InputError, match="empty"):
        CropGrid.around(np.zeros((4, 4, 4), bool), sp, 8, 1.0)


def test_autoencoder_model_folder_round_trip(tmp_path):
    """The autoencoder through the common model-folder format (its damage cases: test_model_folder.py)."""
    from SynTumorLib.runtime.model_folder import prefixed, write_model_folder
    from SynTumorLib.texture.diffusion import load_autoencoder
    from SynTumorLib.texture.diffusion.autoencoder import TextureAutoencoder
    from SynTumorLib.texture.diffusion.config import validate_config

    torch.manual_seed(0)
    ae = TextureAutoencoder(AE_CFG).eval()
    cfg = validate_config({"autoencoder": AE_CFG})
    folder = write_model_folder(tmp_path / "m", "texture-autoencoder", architecture={"autoencoder": AE_CFG},
                                config=cfg, tensors=prefixed("autoencoder", ae), steps=0)
    ae2, cfg2, sha = load_autoencoder(folder)
    x = torch.rand(1, 1, 16, 16, 16)
    with torch.no_grad():
        assert torch.equal(ae.decode(ae.encode(x)), ae2.decode(ae2.encode(x)))
    assert cfg2 == cfg and len(sha) == 64
    with pytest.raises(ModelFolderError, match="holds a 'texture-autoencoder' model, expected 'texture-denoiser'"):
        from SynTumorLib.texture.diffusion import load_pipeline

        load_pipeline(folder)
    wrong = write_model_folder(tmp_path / "w", "texture-autoencoder", architecture={"autoencoder": {**AE_CFG, "channels": [8, 16]}},
                               config=cfg, tensors=prefixed("autoencoder", ae))
    with pytest.raises(ModelFolderError, match="do not match the architecture"):
        load_autoencoder(wrong)


def test_configs_load_and_validate(tmp_path):
    from SynTumorLib.texture.diffusion.configs import TWO_MODELS, load_config

    tiny, default = load_config("tiny"), load_config("default")
    assert tiny["crop"]["size"] == 32 and default["crop"]["size"] == 96 and default["crop"]["spacing_mm"] == 1.0
    assert default["autoencoder"]["latent_channels"] == 8 and default["autoencoder"]["num_embeddings"] == 16384
    two = load_config("tiny", TWO_MODELS)
    assert two["diffusion"]["size_conditioning"] == "two_models" and two["crop"] == tiny["crop"]
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"base": "default", "crop": {"size": 64}}))
    c = load_config(p)
    assert c["crop"]["size"] == 64 and c["crop"]["spacing_mm"] == 1.0
    p.write_text(json.dumps({"crop": {"size": 30}}))
    with pytest.raises(InputError, match=r"c\.json: texture config: crop\.size must be a multiple of 4"):
        load_config(p)
    p.write_text(json.dumps({"diffusion": {"sampling": [{"scheduler": "euler", "steps": 2}]}}))
    with pytest.raises(InputError, match=r"sampling\[0\]\.scheduler must be one of ddpm, ddim"):
        load_config(p)
    with pytest.raises(InputError, match="unknown key 'difusion' \\(did you mean 'diffusion'\\?\\)"):
        load_config({"difusion": {}})
    with pytest.raises(InputError, match="loss_outside_weight must be a number in \\[0, 1\\]"):
        load_config("tiny", {"diffusion_training": {"loss_outside_weight": 2}})
    p.write_text("[1, 2]")
    with pytest.raises(InputError, match="JSON object"):
        load_config(p)
    with pytest.raises(InputError, match="not one of"):
        load_config("huge")
