"""DiffTumor recipes: DDPM (T = 4, x̂₀ clamped) and DDIM (50 of 200, ends at ᾱ₀), noise modes, synthesis."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from SynTumorLib.texture.difftumor.sampling import (
    Noise,
    ddim_sample,
    ddpm_sample,
    denormalise_latent,
    normalise_latent,
)
from SynTumorLib.texture.difftumor.schedule import ddim_timesteps, schedule_buffers
from SynTumorLib.texture.difftumor.synthesizer import DiffTumorSynthesizer
from SynTumorLib.texture.difftumor.unet3d import Unet3D
from SynTumorLib.texture.difftumor.vqgan3d import VQGAN3D

torch.set_num_threads(1)


class LinearNet:
    """ε̂ = a·x + b·cond[:, :1]; records the time steps it was called with."""

    def __init__(self, a: float, b: float = 0.0):
        self.a, self.b, self.calls = a, b, []

    def __call__(self, x, t, cond):
        self.calls.append(int(t[0]))
        return self.a * x + self.b * cond[:, :1]


class CountingNoise(Noise):
    def __init__(self, seed):
        super().__init__(torch.Generator().manual_seed(seed))
        self.draws = []

    def randn(self, shape, device):
        out = super().randn(shape, device)
        self.draws.append(out.double())
        return out


def test_ddpm_follows_the_posterior_recurrence_with_a_clamped_x0():
    buf, cond = schedule_buffers(4), torch.randn(1, 9, 2, 3, 4, generator=torch.Generator().manual_seed(0))
    net, noise = LinearNet(-3.0, 0.5), CountingNoise(1)
    x = ddpm_sample(net, cond, buf, noise)
    assert net.calls == [3, 2, 1, 0]
    assert len(noise.draws) == 1 + 4  # x_T, then one per step; the t = 0 draw is made and unused
    b = {k: v.double() for k, v in buf.items()}
    xt, c = noise.draws[0], cond.double()[:, :1]
    for i, t in enumerate((3, 2, 1, 0)):
        eps = -3.0 * xt + 0.5 * c
        x0 = (b["sqrt_recip_alphas_cumprod"][t] * xt - b["sqrt_recipm1_alphas_cumprod"][t] * eps).clamp(-1, 1)
        xt = b["posterior_mean_coef1"][t] * x0 + b["posterior_mean_coef2"][t] * xt
        if t > 0:
            xt = xt + torch.exp(0.5 * b["posterior_log_variance_clipped"][t]) * noise.draws[i + 1]
    assert x.shape == (1, 8, 2, 3, 4)
    assert torch.allclose(x.double(), xt, atol=1e-5)


def test_ddpm_clamp_matters():
    # √(1/ᾱ_t) reaches 263 at t = 3: unclamped, x̂₀ would be far outside [−1, 1]. At t = 0 the posterior
    # mean is x̂₀ itself (c1 = 1, c2 = 0), so the clamped chain ends inside [−1, 1], on its edges here.
    buf = schedule_buffers(4)
    assert float(buf["posterior_mean_coef1"][0]) == pytest.approx(1.0) and float(buf["posterior_mean_coef2"][0]) == 0
    x = ddpm_sample(LinearNet(-50.0), torch.zeros(1, 9, 2, 2, 2), buf, Noise.seeded(3))
    assert float(x.abs().max()) <= 1.0 and bool((x.abs() == 1).any())


def test_ddim_is_deterministic_ends_at_alpha0_and_returns_x_not_x0():
    ac = schedule_buffers(200)["alphas_cumprod"]
    cond = torch.zeros(1, 9, 2, 2, 2)
    net, noise = LinearNet(0.3), CountingNoise(4)
    x = ddim_sample(net, cond, ac, noise, steps=50)
    tau = ddim_timesteps(50, 200)
    assert net.calls == list(reversed(tau.tolist()))
    assert len(noise.draws) == 1 + 50  # σ = 0 draws are made (DiffTumor's stream) and multiplied by 0
    a = ac.double()
    xt = noise.draws[0]
    for k in reversed(range(50)):
        eps = 0.3 * xt
        a_t, a_prev = a[tau[k]], (a[tau[k - 1]] if k > 0 else a[0])
        x0 = (xt - torch.sqrt(1 - a_t) * eps) / torch.sqrt(a_t)  # no clamp
        xt = torch.sqrt(a_prev) * x0 + torch.sqrt(1 - a_prev) * eps
    assert torch.allclose(x.double(), xt, rtol=1e-4, atol=1e-5)
    # ending at ᾱ₀ rather than 1 keeps a √(1 − ᾱ₀) share of ε in the output
    x2 = ddim_sample(LinearNet(0.3), cond, ac, Noise.seeded(4), steps=50)
    assert torch.equal(x, x2)


def test_seeded_generator_reproduces_the_global_cpu_stream():
    buf, cond = schedule_buffers(4), torch.randn(1, 9, 2, 2, 2)
    net = LinearNet(-0.7)
    torch.manual_seed(11)
    ref = ddpm_sample(net, cond, buf, Noise.reference())
    assert torch.equal(ref, ddpm_sample(net, cond, buf, Noise.seeded(11)))
    assert not torch.equal(ref, ddpm_sample(net, cond, buf, Noise.seeded(12)))
    with pytest.raises(ValueError, match="CPU"):
        Noise(types.SimpleNamespace(device=torch.device("cuda")))


def test_latent_normalisation_round_trip():
    z = torch.randn(2, 8, 3, 3, 3)
    lo, hi = torch.tensor(-2.5), torch.tensor(3.0)
    n = normalise_latent(z, lo, hi)
    assert torch.allclose(normalise_latent(torch.stack([lo, hi]), lo, hi), torch.tensor([-1.0, 1.0]))
    assert torch.allclose(denormalise_latent(n, lo, hi), z, atol=1e-6)


def _tiny_synth(seed: int = 0) -> DiffTumorSynthesizer:
    torch.manual_seed(seed)
    vq = VQGAN3D(n_hiddens=4, n_codes=32, num_groups=2).eval()
    vq.codebook.embeddings.normal_()
    early = Unet3D(dim=8, dim_mults=(1, 2), attn_heads=2, attn_dim_head=4).eval()
    noearly = Unet3D(dim=8, dim_mults=(1, 2), attn_heads=2, attn_dim_head=4).eval()
    return DiffTumorSynthesizer(vq, early, noearly)


def _crop(n: int = 16):
    g = torch.Generator().manual_seed(5)
    crop = torch.rand(1, 1, n, n, n, generator=g)
    mask = torch.zeros_like(crop)
    mask[..., 5:11, 4:10, 6:12] = 1
    return crop, mask


@pytest.mark.parametrize("recipe, steps", [("early", 4), ("noearly", 50)])
def test_synthesis_replays_bit_identically_from_its_seed(recipe, steps):
    syn, (crop, mask) = _tiny_synth(), _crop()
    a = syn.synthesize(crop, mask, recipe, seed=21, ddim_steps=steps)
    b = syn.synthesize(crop, mask, recipe, generator=torch.Generator().manual_seed(21), ddim_steps=steps)
    c = syn.synthesize(crop, mask, recipe, seed=22, ddim_steps=steps)
    assert a["volume"].shape == crop.shape and a["latent"].shape == (1, 8, 4, 4, 4)
    assert torch.equal(a["volume"], b["volume"]) and not torch.equal(a["volume"], c["volume"])
    assert a["record"] == {"recipe": recipe, "organ": "pancreas", "mask_mode": "nearest", "rng": "generator",
                           "seed": 21, "steps": steps, "model_timesteps": 4 if recipe == "early" else 200}
    assert crop.equal(_crop()[0])  # the input is not modified


def test_pancreas_output_is_the_decoded_crop_and_follows_the_axis_permutation():
    syn, (crop, mask) = _tiny_synth(), _crop()
    out = syn.synthesize(crop, mask, "early", seed=3)
    with torch.no_grad():
        frames = syn.vqgan.decode(denormalise_latent(out["latent"], *syn.vqgan.embedding_range()))
    # DiffTumor's frames are (S, R, A): the output is the decoded volume permuted back to (R, A, S)
    assert torch.equal(out["volume"], ((frames + 1) / 2).permute(0, 1, 3, 4, 2))


def test_liver_blend_keeps_the_crop_far_from_the_tumour_and_records_sigma():
    syn, (crop, mask) = _tiny_synth(), _crop(32)
    out = syn.synthesize(crop, mask, "early", seed=4, organ="liver")
    sigma = out["record"]["blend_sigma"]
    assert 0 <= sigma < 4 and out["volume"].min() >= 0 and out["volume"].max() <= 1
    far = torch.zeros_like(mask, dtype=torch.bool)
    far[..., 24:, 24:, 24:] = True  # ≥ 12 voxels from the tumour: the blur weight is ~0 there
    assert torch.allclose(out["volume"][far], crop[far], atol=1e-4)
    assert out["record"] == syn.synthesize(crop, mask, "early", seed=4, organ="liver")["record"]


def test_reference_rng_mode_uses_the_global_streams():
    syn, (crop, mask) = _tiny_synth(), _crop()
    torch.manual_seed(8)
    np.random.seed(8)
    a = syn.synthesize(crop, mask, "early", rng="reference", organ="kidney")
    torch.manual_seed(8)
    np.random.seed(8)
    b = syn.synthesize(crop, mask, "early", rng="reference", organ="kidney")
    assert torch.equal(a["volume"], b["volume"]) and a["record"]["rng"] == "reference"
    # on the CPU the seeded generator makes the same draws as torch.manual_seed (the blend σ aside)
    torch.manual_seed(8)
    c = syn.synthesize(crop, mask, "early", rng="reference")
    assert torch.equal(c["volume"], syn.synthesize(crop, mask, "early", seed=8)["volume"])


def test_maxpool_mask_mode_changes_the_condition_for_a_thin_tumour():
    syn = _tiny_synth()
    crop = torch.rand(1, 1, 16, 16, 16)
    mask = torch.zeros_like(crop)
    mask[..., 5:7, 5:7, 5:7] = 1  # between the voxels nearest-neighbour samples
    near, pool = syn.condition(crop, mask, "nearest"), syn.condition(crop, mask, "maxpool")
    assert near[:, 8].max() == -1 and pool[:, 8].max() == 1
    assert torch.equal(near[:, :8], pool[:, :8])


def test_synthesis_refuses_bad_requests():
    syn, (crop, mask) = _tiny_synth(), _crop()
    with pytest.raises(ValueError, match="recipe"):
        syn.synthesize(crop, mask, "medium", seed=1)
    with pytest.raises(ValueError, match="generator or a seed"):
        syn.synthesize(crop, mask, "early")
    with pytest.raises(ValueError, match="batch 1"):
        syn.synthesize(crop.repeat(2, 1, 1, 1, 1), mask.repeat(2, 1, 1, 1, 1), "noearly", seed=1)
    with pytest.raises(ValueError, match="organ"):
        syn.synthesize(crop, mask, "early", seed=1, organ="lung")
    with pytest.raises(ValueError, match=r"\(B, 1, X, Y, Z\)"):
        syn.synthesize(crop, mask[..., :8], "early", seed=1)
    with pytest.raises(ValueError, match="no noearly denoiser"):
        DiffTumorSynthesizer(syn.vqgan, syn.unets["early"], None).synthesize(crop, mask, "noearly", seed=1)
    # the early recipe samples batches
    out = syn.synthesize(crop.repeat(2, 1, 1, 1, 1), mask.repeat(2, 1, 1, 1, 1), "early", seed=1)
    assert out["volume"].shape[0] == 2
