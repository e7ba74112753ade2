"""Building blocks of DiffTumor's ``Unet3D`` denoiser (the video-diffusion-pytorch design, MIT).

Tensors are (B, C, F, H, W); F is the "frame" axis (the axial slices of the latent), H and W are
in-plane. The blocks keep the reference's attribute names, so their state-dict keys equal the
released ones, and its arithmetic (op order, float32 index maths), so outputs agree to float noise.

Rotary embeddings and the T5 relative-position bias are re-derived here from their definitions
(rotary-embedding-torch 0.1.5 semantics, T5's log buckets); no third-party rotary package needed.

Example:
    >>> import torch
    >>> relative_position_buckets(3).tolist()
    [[0, 17, 18], [1, 0, 17], [2, 1, 0]]
    >>> rot = RotaryEmbedding(4)
    >>> tuple(rot.rotate_queries_or_keys(torch.ones(2, 5, 4)).shape)
    (2, 5, 4)
"""

from __future__ import annotations

import math

import torch
from torch import nn


def relative_position_buckets(n: int, num_buckets: int = 32, max_distance: int = 32,
                              device: torch.device | None = None) -> torch.Tensor:
    """T5 buckets of ``j − i`` for an n×n attention (row i = query, column j = key).

    Half the buckets per sign (keys after the query get the upper half); distances below ``num_buckets/4``
    are exact, larger ones log-spaced up to ``max_distance``. The logarithm is taken in float32
    and truncated by ``.long()``, as in the reference, so the table is bit-identical.
    """
    pos = torch.arange(n, dtype=torch.long, device=device)
    n_rel = pos[:, None] - pos[None, :]  # = −(j − i)
    half = num_buckets // 2
    ret = (n_rel < 0).long() * half
    n_abs = n_rel.abs()
    max_exact = half // 2
    large = max_exact + (torch.log(n_abs.float() / max_exact) / math.log(max_distance / max_exact)
                         * (half - max_exact)).long()
    large = torch.minimum(large, torch.full_like(large, half - 1))
    return ret + torch.where(n_abs < max_exact, n_abs, large)


class RelativePositionBias(nn.Module):
    """Learned per-head bias over T5 buckets: ``relative_attention_bias.weight`` (32, heads)."""

    def __init__(self, heads: int = 8, num_buckets: int = 32, max_distance: int = 32):
        super().__init__()
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.relative_attention_bias = nn.Embedding(num_buckets, heads)

    def forward(self, n: int, device: torch.device) -> torch.Tensor:
        buckets = relative_position_buckets(n, self.num_buckets, self.max_distance, device)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)  # (heads, i, j)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Pairs (x₀, x₁) → (−x₁, x₀) along the last axis (interleaved pairs, not halves)."""
    x = x.unflatten(-1, (-1, 2))
    return torch.stack((-x[..., 1], x[..., 0]), dim=-1).flatten(-2)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding over the sequence axis −2, on all ``dim`` features.

    ``freqs_i = 1 / 10000^(2i/dim)`` (buffer ``freqs``, dim/2 values); the angles ``pos ⊗ freqs``
    are repeated pairwise ([f0, f0, f1, f1, …]) and ``x' = x·cos + rotate_half(x)·sin``.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("freqs", 1.0 / (10000 ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim)))

    def angles(self, n: int, device: torch.device) -> torch.Tensor:
        pos = torch.arange(n, device=device).to(self.freqs.dtype)
        return (pos[:, None] * self.freqs[None, :]).repeat_interleave(2, dim=-1)

    def rotate_queries_or_keys(self, t: torch.Tensor) -> torch.Tensor:
        theta = self.angles(t.shape[-2], t.device).to(t)
        # contiguous: elementwise ops keep the (permuted) layout of ``t``, while the reference's
        # rotary ends in a concatenation and so hands a contiguous tensor to q·kᵀ; with the other
        # layout the matmul takes another kernel path and ε moved by ~2e-6 at an 8³ latent.
        return (t * theta.cos() + rotate_half(t) * theta.sin()).contiguous()


class Residual(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.fn(x, **kwargs) + x


class LayerNorm(nn.Module):
    """Channel LayerNorm: ``(x − μ_c)/√(var_c + eps)·γ``, biased variance, no β (``gamma`` (1,C,1,1,1))."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(1, dim, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = torch.var(x, dim=1, unbiased=False, keepdim=True)
        mean = torch.mean(x, dim=1, keepdim=True)
        return (x - mean) / (var + self.eps).sqrt() * self.gamma


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.fn = fn
        self.norm = LayerNorm(dim)

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.fn(self.norm(x), **kwargs)


class SinusoidalPosEmb(nn.Module):
    """``[sin(t·e), cos(t·e)]`` with ``e_k = exp(−ln(1e4)/(dim/2 − 1) · k)``."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        e = torch.exp(torch.arange(half, device=t.device) * -(math.log(10000) / (half - 1)))
        e = t[:, None] * e[None, :]
        return torch.cat((e.sin(), e.cos()), dim=-1)


class Block(nn.Module):
    """``SiLU(GN₈(conv₁ₓ₃ₓ₃ x)·(scale + 1) + shift)``; the FiLM is optional."""

    def __init__(self, dim: int, dim_out: int, groups: int = 8):
        super().__init__()
        self.proj = nn.Conv3d(dim, dim_out, (1, 3, 3), padding=(0, 1, 1))
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, scale_shift=None) -> torch.Tensor:
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return self.act(x)


class ResnetBlock(nn.Module):
    """Two Blocks, FiLM from the time embedding in the first, and a 1×1×1 shortcut when a ≠ b."""

    def __init__(self, dim: int, dim_out: int, time_emb_dim: int | None = None, groups: int = 8):
        super().__init__()
        self.mlp = (nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out * 2))
                    if time_emb_dim is not None else None)
        self.block1 = Block(dim, dim_out, groups)
        self.block2 = Block(dim_out, dim_out, groups)
        self.res_conv = nn.Conv3d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor | None = None) -> torch.Tensor:
        scale_shift = None
        if self.mlp is not None:
            scale_shift = self.mlp(time_emb)[:, :, None, None, None].chunk(2, dim=1)
        h = self.block2(self.block1(x, scale_shift))
        return h + self.res_conv(x)


class SpatialLinearAttention(nn.Module):
    """Per-frame linear attention: q softmax over features, k softmax over positions, ``out = (k vᵀ)ᵀ q``."""

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32):
        super().__init__()
        self.scale = dim_head**-0.5
        self.heads = heads
        hidden = dim_head * heads
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        q, k, v = (t.reshape(b * f, self.heads, -1, h * w) for t in self.to_qkv(x).chunk(3, dim=1))
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        context = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", context, q).reshape(b * f, -1, h, w)
        out = self.to_out(out)
        return out.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)


class Attention(nn.Module):
    """Multi-head softmax attention over axis −2 of (…, n, C); optional rotary and additive bias."""

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32, rotary_emb: RotaryEmbedding | None = None):
        super().__init__()
        self.scale = dim_head**-0.5
        self.heads = heads
        hidden = dim_head * heads
        self.rotary_emb = rotary_emb
        self.to_qkv = nn.Linear(dim, hidden * 3, bias=False)
        self.to_out = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor, pos_bias: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = (t.unflatten(-1, (self.heads, -1)).transpose(-2, -3) for t in self.to_qkv(x).chunk(3, dim=-1))
        q = q * self.scale
        if self.rotary_emb is not None:
            q = self.rotary_emb.rotate_queries_or_keys(q)
            k = self.rotary_emb.rotate_queries_or_keys(k)
        sim = torch.einsum("...hid,...hjd->...hij", q, k)
        if pos_bias is not None:
            sim = sim + pos_bias
        sim = sim - sim.amax(dim=-1, keepdim=True)
        attn = sim.softmax(dim=-1)
        out = torch.einsum("...hij,...hjd->...hid", attn, v)
        return self.to_out(out.transpose(-2, -3).flatten(-2))


class TemporalAttention(nn.Module):
    """Attention along F for every (h, w): (B, C, F, H, W) ↔ (B, H·W, F, C). Child ``fn`` = Attention."""

    def __init__(self, fn: Attention):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, pos_bias: torch.Tensor | None = None) -> torch.Tensor:
        b, c, f, h, w = x.shape
        y = self.fn(x.permute(0, 3, 4, 2, 1).reshape(b, h * w, f, c), pos_bias=pos_bias)
        return y.reshape(b, h, w, f, c).permute(0, 4, 3, 1, 2)


class SpatialAttention(nn.Module):
    """Full attention over the H·W positions of every frame: (B, C, F, H, W) ↔ (B, F, H·W, C)."""

    def __init__(self, fn: Attention):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, h, w = x.shape
        y = self.fn(x.permute(0, 2, 3, 4, 1).reshape(b, f, h * w, c))
        return y.reshape(b, f, h, w, c).permute(0, 4, 1, 2, 3)


def upsample(dim: int) -> nn.ConvTranspose3d:
    """In-plane ×2: ``ConvTranspose3d(k (1,4,4), s (1,2,2), p (0,1,1))``; F is never resampled."""
    return nn.ConvTranspose3d(dim, dim, (1, 4, 4), (1, 2, 2), (0, 1, 1))


def downsample(dim: int) -> nn.Conv3d:
    """In-plane /2: ``Conv3d(k (1,4,4), s (1,2,2), p (0,1,1))``."""
    return nn.Conv3d(dim, dim, (1, 4, 4), (1, 2, 2), (0, 1, 1))


__all__ = ["Attention", "Block", "LayerNorm", "PreNorm", "RelativePositionBias", "Residual", "ResnetBlock",
           "RotaryEmbedding", "SinusoidalPosEmb", "SpatialAttention", "SpatialLinearAttention",
           "TemporalAttention", "downsample", "relative_position_buckets", "rotate_half", "upsample"]
