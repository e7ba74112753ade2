"""DiffTumor's conditional ``Unet3D`` ε-denoiser (video-diffusion-pytorch design, MIT), plain PyTorch.

The released networks (SPEC §3) are ``Unet3D(dim=24, dim_mults=(1, 2, 4, 8), channels=17,
out_dim=8)``: the condition (8 latent channels of the masked CT + 1 mask channel) is concatenated
to the 8-channel noisy latent, so the input has 17 channels. There is no text/class conditioning,
so classifier-free guidance is a no-op and is not built.

Layout: ``init_conv`` (1×7×7) → temporal attention (residual taken *before* it) → 4 levels of
``[Res, Res, linear spatial attention, temporal attention]`` with in-plane /2 between them →
``mid`` (Res, full spatial attention, temporal attention, Res) → 4 up levels (skip concatenated) →
``cat(x, r)`` → ``final_conv``. Only H and W are resampled (÷8 overall); F (the slice axis) is free.

Example:
    >>> import torch
    >>> net = Unet3D(dim=8, dim_mults=(1, 2), channels=3, out_dim=2, attn_heads=2, attn_dim_head=4).eval()
    >>> x = torch.zeros(1, 2, 3, 8, 8)
    >>> tuple(net(x, torch.tensor([1]), torch.zeros(1, 1, 3, 8, 8)).shape)
    (1, 2, 3, 8, 8)
"""

from __future__ import annotations

import torch
from torch import nn

from .unet_blocks import (
    Attention,
    PreNorm,
    RelativePositionBias,
    Residual,
    ResnetBlock,
    RotaryEmbedding,
    SinusoidalPosEmb,
    SpatialAttention,
    SpatialLinearAttention,
    TemporalAttention,
    downsample,
    upsample,
)

# The released denoisers (SPEC §3); every other argument is the reference default.
RELEASED_CONFIG = {"dim": 24, "dim_mults": [1, 2, 4, 8], "channels": 17, "out_dim": 8}


class Unet3D(nn.Module):
    """The denoiser ``ε̂ = net(x_t, t, cond)``; ``x_t`` (B, 8, F, H, W), ``cond`` (B, 9, F, H, W).

    Args:
        dim: base width (24 released); levels have ``dim·dim_mults`` channels.
        channels: input channels after concatenating the condition (17 released).
        out_dim: output channels (8: ε for every latent channel).
        attn_heads, attn_dim_head: heads × width of every attention (8 × 32 released).
        init_kernel_size: in-plane kernel of ``init_conv`` (7).
        resnet_groups: GroupNorm groups in the ResNet blocks (8).
    """

    def __init__(self, dim: int = 24, dim_mults=(1, 2, 4, 8), channels: int = 17, out_dim: int = 8,
                 attn_heads: int = 8, attn_dim_head: int = 32, init_kernel_size: int = 7,
                 resnet_groups: int = 8):
        super().__init__()
        if init_kernel_size % 2 != 1:
            raise ValueError(f"init_kernel_size must be odd, got {init_kernel_size}")
        self.channels = channels
        rotary = RotaryEmbedding(min(32, attn_dim_head))  # one module, shared by every temporal attention

        def temporal(c: int) -> nn.Module:
            return Residual(PreNorm(c, TemporalAttention(Attention(c, attn_heads, attn_dim_head, rotary))))

        self.time_rel_pos_bias = RelativePositionBias(heads=attn_heads, max_distance=32)
        pad = init_kernel_size // 2
        self.init_conv = nn.Conv3d(channels, dim, (1, init_kernel_size, init_kernel_size), padding=(0, pad, pad))
        self.init_temporal_attn = temporal(dim)

        dims = [dim, *(dim * m for m in dim_mults)]
        in_out = list(zip(dims[:-1], dims[1:], strict=True))
        time_dim = dim * 4
        self.time_mlp = nn.Sequential(SinusoidalPosEmb(dim), nn.Linear(dim, time_dim), nn.GELU(),
                                      nn.Linear(time_dim, time_dim))

        def res(a: int, b: int) -> ResnetBlock:
            return ResnetBlock(a, b, time_emb_dim=time_dim, groups=resnet_groups)

        def spatial_linear(c: int) -> nn.Module:
            return Residual(PreNorm(c, SpatialLinearAttention(c, heads=attn_heads)))

        n_levels = len(in_out)
        self.downs = nn.ModuleList()
        for i, (a, b) in enumerate(in_out):
            last = i == n_levels - 1
            self.downs.append(nn.ModuleList([res(a, b), res(b, b), spatial_linear(b), temporal(b),
                                             nn.Identity() if last else downsample(b)]))
        mid = dims[-1]
        self.mid_block1 = res(mid, mid)
        self.mid_spatial_attn = Residual(PreNorm(mid, SpatialAttention(Attention(mid, heads=attn_heads))))
        self.mid_temporal_attn = temporal(mid)
        self.mid_block2 = res(mid, mid)
        self.ups = nn.ModuleList()
        for i, (a, b) in enumerate(reversed(in_out)):
            last = i == n_levels - 1
            self.ups.append(nn.ModuleList([res(b * 2, a), res(a, a), spatial_linear(a), temporal(a),
                                           nn.Identity() if last else upsample(a)]))
        self.final_conv = nn.Sequential(ResnetBlock(dim * 2, dim, groups=resnet_groups), nn.Conv3d(dim, out_dim, 1))
        self.spatial_factor = 2 ** (n_levels - 1)

    def forward(self, x: torch.Tensor, time: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """ε̂ for noisy latents ``x`` at integer steps ``time`` (B,) given ``cond``."""
        x = torch.cat([x, cond], dim=1)
        if x.shape[-1] % self.spatial_factor or x.shape[-2] % self.spatial_factor:
            raise ValueError(f"Unet3D: H and W must be divisible by {self.spatial_factor}, got {tuple(x.shape[-2:])}")
        bias = self.time_rel_pos_bias(x.shape[2], device=x.device)
        x = self.init_conv(x)
        r = x.clone()
        x = self.init_temporal_attn(x, pos_bias=bias)
        t = self.time_mlp(time)
        skips = []
        for block1, block2, spatial_attn, temporal_attn, down in self.downs:
            x = temporal_attn(spatial_attn(block2(block1(x, t), t)), pos_bias=bias)
            skips.append(x)
            x = down(x)
        x = self.mid_block1(x, t)
        x = self.mid_spatial_attn(x)
        x = self.mid_temporal_attn(x, pos_bias=bias)
        x = self.mid_block2(x, t)
        for block1, block2, spatial_attn, temporal_attn, up in self.ups:
            x = torch.cat((x, skips.pop()), dim=1)
            x = up(temporal_attn(spatial_attn(block2(block1(x, t), t)), pos_bias=bias))
        return self.final_conv(torch.cat((x, r), dim=1))


__all__ = ["RELEASED_CONFIG", "Unet3D"]
