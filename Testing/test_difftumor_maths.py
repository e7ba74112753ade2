"""Maths units of the DiffTumor re-implementation: schedules, DDIM steps, buckets, rotary, convs, codes, masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from SynTumorLib.texture.difftumor.sampling import latent_mask
from SynTumorLib.texture.difftumor.schedule import (
    BUFFER_NAMES,
    ddim_coefficients,
    ddim_timesteps,
    schedule_buffers,
)
from SynTumorLib.texture.difftumor.unet3d import Unet3D
from SynTumorLib.texture.difftumor.unet_blocks import (
    LayerNorm,
    RotaryEmbedding,
    SinusoidalPosEmb,
    relative_position_buckets,
)
from SynTumorLib.texture.difftumor.vqgan3d import VQGAN3D, Codebook, SamePadConv3d, SamePadConvTranspose3d

torch.set_num_threads(1)


def _abar64(T: int) -> np.ndarray:
    """ᾱ_0..ᾱ_{T-1} in float64, straight from the cosine definition (SPEC §4)."""
    f = [math.cos(((t / T) + 0.008) / 1.008 * math.pi / 2) ** 2 for t in range(T + 1)]
    betas = np.clip([1 - f[t + 1] / f[t] for t in range(T)], 0, 0.9999)
    return np.cumprod(1 - betas), betas


def test_cosine_table_T4_matches_the_spec():
    b = schedule_buffers(4)
    assert b["betas"].tolist() == pytest.approx([0.152988, 0.416958, 0.707859, 0.9999], abs=5e-7)
    assert b["alphas_cumprod"].tolist() == pytest.approx([0.847012, 0.493844, 0.144272, 1.44272e-5], abs=5e-7)
    assert float(b["alphas_cumprod"][3]) == pytest.approx(1.44272e-5, rel=1e-5)
    assert all(v.dtype == torch.float32 and v.shape == (4,) for v in b.values())


def test_cosine_table_T200_matches_the_spec():
    ac = schedule_buffers(200)["alphas_cumprod"].double()
    assert float(ac[0]) == pytest.approx(0.99974503, abs=1e-7)
    assert float(ac[197]) == pytest.approx(2.4286e-4, rel=1e-4)
    assert float(ac[199]) == pytest.approx(6.07e-9, rel=2e-3)


@pytest.mark.parametrize("T", [4, 200])
def test_all_12_buffers_equal_a_float64_rederivation(T):
    ac, betas = _abar64(T)
    prev = np.concatenate([[1.0], ac[:-1]])
    post = betas * (1 - prev) / (1 - ac)
    want = {"betas": betas, "alphas_cumprod": ac, "alphas_cumprod_prev": prev, "sqrt_alphas_cumprod": np.sqrt(ac),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1 - ac), "log_one_minus_alphas_cumprod": np.log(1 - ac),
            "sqrt_recip_alphas_cumprod": np.sqrt(1 / ac), "sqrt_recipm1_alphas_cumprod": np.sqrt(1 / ac - 1),
            "posterior_variance": post, "posterior_log_variance_clipped": np.log(np.maximum(post, 1e-20)),
            "posterior_mean_coef1": betas * np.sqrt(prev) / (1 - ac),
            "posterior_mean_coef2": (1 - prev) * np.sqrt(1 - betas) / (1 - ac)}
    got = schedule_buffers(T)
    assert tuple(got) == BUFFER_NAMES
    for k, v in want.items():
        np.testing.assert_allclose(got[k].double().numpy(), v, rtol=2e-6, atol=1e-9, err_msg=k)
    # the t = 0 posterior variance is 0: its log is clipped at 1e-20
    assert float(got["posterior_log_variance_clipped"][0]) == pytest.approx(math.log(1e-20), rel=1e-6)


def test_ddim_timesteps_and_final_alpha():
    tau = ddim_timesteps(50, 200)
    assert tau.tolist() == list(range(1, 198, 4))
    ac = schedule_buffers(200)["alphas_cumprod"]
    c = ddim_coefficients(ac, tau)
    assert torch.equal(c["a_t"], ac[tau])
    assert float(c["a_prev"][0]) == float(ac[0]) != 1.0  # the last step goes to ᾱ[0], not to 1
    assert torch.equal(c["a_prev"][1:], ac[tau[:-1]])
    # correctly rounded, as numpy (the reference) takes it
    assert torch.equal(c["sqrt_one_minus_a_t"], torch.from_numpy(np.sqrt((1 - ac[tau]).numpy())))
    assert ddim_timesteps(4, 4).tolist() == [0, 1, 2, 3]  # T // S = 1: no +1 shift
    with pytest.raises(ValueError):
        ddim_timesteps(300, 200)


def _bucket64(i: int, j: int) -> int:
    """T5 bucket of key j for query i (16 buckets per sign, exact below 8, log up to 32), in float64."""
    n = i - j
    ret = 16 if n < 0 else 0
    n = abs(n)
    if n < 8:
        return ret + n
    return ret + min(15, 8 + int(math.log(n / 8) / math.log(4) * 8))


def test_relative_position_buckets_n24_equal_a_float64_rederivation():
    got = relative_position_buckets(24)
    want = torch.tensor([[_bucket64(i, j) for j in range(24)] for i in range(24)])
    assert torch.equal(got, want)
    assert got.diagonal().eq(0).all() and int(got.max()) <= 31


def test_rotary_equals_an_explicit_complex_rotation():
    torch.manual_seed(0)
    rot = RotaryEmbedding(32)
    assert torch.allclose(rot.freqs, 10000.0 ** (-torch.arange(0, 32, 2).double() / 32).float())
    x = torch.randn(3, 2, 7, 32)  # (..., n, d): rotation along n
    got = rot.rotate_queries_or_keys(x)
    pos = torch.arange(7).double()[:, None]
    theta = pos * rot.freqs.double()[None, :]  # (n, 16): one angle per feature pair
    z = torch.complex(x[..., 0::2].double(), x[..., 1::2].double()) * torch.exp(1j * theta)
    want = torch.stack((z.real, z.imag), dim=-1).flatten(-2)
    assert torch.allclose(got.double(), want, atol=1e-5)
    assert torch.equal(got[..., 0, :], x[..., 0, :])  # position 0 is not rotated


def test_sinusoidal_embedding_and_channel_layernorm():
    e = SinusoidalPosEmb(24)(torch.tensor([0, 3]))
    k = torch.arange(12, dtype=torch.float64)
    want = 3 * torch.exp(-math.log(1e4) / 11 * k)
    assert torch.allclose(e[1].double(), torch.cat([want.sin(), want.cos()]), atol=1e-5)
    ln = LayerNorm(4)
    x = torch.randn(2, 4, 3, 2, 2)
    mu, var = x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True)
    assert torch.allclose(ln(x), (x - mu) / torch.sqrt(var + 1e-5), atol=1e-6)


@pytest.mark.parametrize("k, s", [(3, 1), (4, 2), (1, 1)])
def test_same_pad_conv_equals_conv3d_with_replicate_padding(k, s):
    torch.manual_seed(1)
    ours = SamePadConv3d(2, 3, k, stride=s)
    ref = torch.nn.Conv3d(2, 3, k, stride=s, padding=(k - s + 1) // 2 if k > 1 else 0, padding_mode="replicate")
    ref.load_state_dict(ours.conv.state_dict())
    x = torch.randn(1, 2, 8, 6, 10)
    assert ours(x).shape == (1, 3, 8 // s, 6 // s, 10 // s)
    assert torch.allclose(ours(x), ref(x), atol=1e-6)


def test_same_pad_transposed_conv_doubles_exactly():
    up = SamePadConvTranspose3d(3, 2, 4, 2)
    assert up(torch.randn(1, 3, 5, 6, 7)).shape == (1, 2, 10, 12, 14)
    assert up.pad == (1, 1, 1, 1, 1, 1)


def test_codebook_argmin_equals_brute_force_cdist_and_chunking_changes_nothing():
    torch.manual_seed(2)
    cb = Codebook(300, 8)
    cb.embeddings.normal_()
    z = torch.randn(2, 8, 5, 4, 3)
    idx = cb.nearest(z)
    flat = z.movedim(1, -1).reshape(-1, 8)
    want = torch.cdist(flat.double(), cb.embeddings.double()).argmin(1).view(2, 5, 4, 3)
    assert torch.equal(idx, want)
    assert torch.equal(cb.nearest(z, chunk=7), idx)
    assert torch.equal(cb.lookup(idx), F.embedding(idx, cb.embeddings).movedim(-1, 1))
    # ties go to the first index, as torch.argmin does
    cb.embeddings[5] = cb.embeddings[2]
    assert int(cb.nearest(cb.embeddings[2].view(1, 8, 1, 1, 1)).item()) == 2


def test_nearest_latent_mask_samples_voxel_4i_and_maxpool_keeps_thin_tumours():
    m = -torch.ones(1, 1, 16, 16, 16)
    m[..., 5:7, 5:7, 5:7] = 1  # a 2-voxel tumour between the sampled voxels 4 and 8
    near, pool = latent_mask(m, (4, 4, 4), "nearest"), latent_mask(m, (4, 4, 4), "maxpool")
    assert torch.equal(near, m[..., ::4, ::4, ::4])
    assert near.max() == -1  # gone from the condition
    assert pool[0, 0, 1, 1, 1] == 1 and int((pool == 1).sum()) == 1
    with pytest.raises(ValueError, match="multiple"):
        latent_mask(m, (5, 4, 4), "maxpool")
    with pytest.raises(ValueError, match="unknown latent mask mode"):
        latent_mask(m, (4, 4, 4), "bilinear")


def test_vqgan_shapes_and_unet_divisibility():
    vq = VQGAN3D(n_hiddens=4, n_codes=10, num_groups=2).eval()
    x = torch.rand(1, 1, 8, 12, 16) * 2 - 1
    z = vq.encode_continuous(x)
    assert z.shape == (1, 8, 2, 3, 4)
    assert vq.decode(z).shape == x.shape and vq.quantize(z).shape == (1, 2, 3, 4)
    net = Unet3D(dim=8, dim_mults=(1, 2, 4), channels=3, out_dim=2, attn_heads=2, attn_dim_head=4).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 2, 3, 8, 4), torch.tensor([0]), torch.zeros(1, 1, 3, 8, 4)).shape == (1, 2, 3, 8, 4)
        with pytest.raises(ValueError, match="divisible by 4"):
            net(torch.zeros(1, 2, 3, 6, 4), torch.tensor([0]), torch.zeros(1, 1, 3, 6, 4))
