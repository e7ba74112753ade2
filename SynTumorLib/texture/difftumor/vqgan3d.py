"""DiffTumor's VQ-GAN autoencoder (the TATS design, MIT) as plain PyTorch, inference only.

Only the encode/decode path is built: encoder, ``pre_vq_conv``, the eval-only codebook,
``post_vq_conv`` and decoder. Attribute names follow the released checkpoint so that its 71
encode/decode tensors load with ``strict=True`` (the discriminators and the LPIPS network, 83 more
tensors in the file, are not needed to synthesise and are ignored by the loaders).

The arithmetic follows the reference operation by operation, because a decoded tumour goes
through a nearest-code search: a different summation order can flip a code and change a 4³ patch.
So SiLU is ``x·sigmoid(x)`` (not ``F.silu``), the padding is an explicit replicate ``F.pad`` before
an unpadded convolution, and the code distances are ``Σz² − 2zEᵀ + Σ(Eᵀ)²`` in that order.

Example:
    >>> import torch
    >>> vq = VQGAN3D(n_hiddens=4, n_codes=8, embedding_dim=2, num_groups=2).eval()
    >>> z = vq.encode_continuous(torch.zeros(1, 1, 8, 8, 8))
    >>> tuple(z.shape)
    (1, 2, 2, 2, 2)
    >>> tuple(vq.decode(z, quantize=True).shape)
    (1, 1, 8, 8, 8)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The released autoencoder (SPEC §2): two stride-2 stages (downsample 4), 16 base channels.
RELEASED_CONFIG = {"n_hiddens": 16, "n_stages": 2, "image_channels": 1, "embedding_dim": 8,
                   "n_codes": 16384, "num_groups": 32}


def silu(x: torch.Tensor) -> torch.Tensor:
    """``x·sigmoid(x)`` exactly as the reference writes it (``F.silu`` rounds differently)."""
    return x * torch.sigmoid(x)


def _same_pad(kernel: int, stride: int) -> tuple[int, ...]:
    # total padding k − s per axis, the larger half first; F.pad lists the last axis first
    p = kernel - stride
    return (p // 2 + p % 2, p // 2) * 3


class SamePadConv3d(nn.Module):
    """Replicate padding of k − s voxels per axis, then an unpadded ``Conv3d`` (key ``conv.*``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, bias: bool = True):
        super().__init__()
        self.pad = _same_pad(kernel, stride)
        self.conv = nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad, mode="replicate")
        return self.conv(x)


class SamePadConvTranspose3d(nn.Module):
    """Replicate pad, then ``ConvTranspose3d(padding=k − 1)``: exactly ×stride (key ``convt.*``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 4, stride: int = 2):
        super().__init__()
        self.pad = _same_pad(kernel, stride)
        self.convt = nn.ConvTranspose3d(c_in, c_out, kernel, stride=stride, padding=kernel - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convt(F.pad(x, self.pad, mode="replicate"))


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(groups, channels, eps=1e-6, affine=True)


class ResBlock(nn.Module):
    """``x + conv2(silu(norm2(conv1(silu(norm1(x))))))``; in == out, no dropout at inference."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm1 = _norm(channels, groups)
        self.conv1 = SamePadConv3d(channels, channels, 3)
        self.norm2 = _norm(channels, groups)
        self.conv2 = SamePadConv3d(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(silu(self.norm1(x)))
        h = self.conv2(silu(self.norm2(h)))
        return x + h


class _SiLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return silu(x)


class _Stage(nn.Module):
    """A container whose children carry the reference names (``down``/``res`` or ``up``/``res1``/``res2``)."""


class Encoder(nn.Module):
    """``conv_first → [down(k4, s2) → res] × stages → GroupNorm → SiLU`` (``final_block.0`` is the norm)."""

    def __init__(self, n_hiddens: int, n_stages: int, image_channels: int, groups: int):
        super().__init__()
        self.conv_first = SamePadConv3d(image_channels, n_hiddens, 3)
        self.conv_blocks = nn.ModuleList()
        for i in range(n_stages):
            stage = _Stage()
            stage.down = SamePadConv3d(n_hiddens * 2**i, n_hiddens * 2 ** (i + 1), 4, stride=2)
            stage.res = ResBlock(n_hiddens * 2 ** (i + 1), groups)
            self.conv_blocks.append(stage)
        self.out_channels = n_hiddens * 2**n_stages
        self.final_block = nn.Sequential(_norm(self.out_channels, groups), _SiLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_first(x)
        for stage in self.conv_blocks:
            h = stage.res(stage.down(h))
        return self.final_block(h)


class Decoder(nn.Module):
    """``GroupNorm → SiLU`` first, then ``[up(×2) → res1 → res2] × stages → conv_last``."""

    def __init__(self, n_hiddens: int, n_stages: int, image_channels: int, groups: int):
        super().__init__()
        c_in = n_hiddens * 2**n_stages
        self.final_block = nn.Sequential(_norm(c_in, groups), _SiLU())
        self.conv_blocks = nn.ModuleList()
        for i in range(n_stages):
            c_out = n_hiddens * 2 ** (n_stages - i)
            stage = _Stage()
            stage.up = SamePadConvTranspose3d(c_in, c_out, 4, 2)
            stage.res1 = ResBlock(c_out, groups)
            stage.res2 = ResBlock(c_out, groups)
            self.conv_blocks.append(stage)
            c_in = c_out
        self.conv_last = SamePadConv3d(c_in, image_channels, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.final_block(z)
        for stage in self.conv_blocks:
            h = stage.res2(stage.res1(stage.up(h)))
        return self.conv_last(h)


class Codebook(nn.Module):
    """The eval-only codebook: buffers ``embeddings`` (K, D), ``N`` (K) and ``z_avg`` (K, D).

    ``N`` and ``z_avg`` only serve the training EMA; they are kept so that the state dict matches.
    There is no training mode: nothing here ever updates the codes.
    """

    def __init__(self, n_codes: int, embedding_dim: int):
        super().__init__()
        self.register_buffer("embeddings", torch.zeros(n_codes, embedding_dim))
        self.register_buffer("N", torch.zeros(n_codes))
        self.register_buffer("z_avg", torch.zeros(n_codes, embedding_dim))

    def distances(self, flat: torch.Tensor) -> torch.Tensor:
        """(N, D) → (N, K) squared distances, summed in the reference's order."""
        e = self.embeddings
        return (flat**2).sum(dim=1, keepdim=True) - 2 * flat @ e.t() + (e.t() ** 2).sum(dim=0, keepdim=True)

    def nearest(self, z: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """(B, D, d, h, w) → code indices (B, d, h, w); ties go to the first index (``argmin``).

        The distance matrix is built ``chunk`` rows at a time (a 24³ latent against 16,384 codes
        would otherwise take 0.9 GB); each row is computed exactly as in one block.
        """
        b, _, *spatial = z.shape
        flat = z.movedim(1, -1).reshape(-1, z.shape[1])
        out = torch.empty(flat.shape[0], dtype=torch.long, device=z.device)
        for s in range(0, flat.shape[0], chunk):
            out[s:s + chunk] = torch.argmin(self.distances(flat[s:s + chunk]), dim=1)
        return out.view(b, *spatial)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """Code indices (B, d, h, w) → embeddings (B, D, d, h, w)."""
        return F.embedding(idx, self.embeddings).movedim(-1, 1).contiguous()


class VQGAN3D(nn.Module):
    """Encoder, ``pre_vq_conv``, codebook, ``post_vq_conv`` and decoder of DiffTumor's autoencoder.

    Defaults are the released configuration (:data:`RELEASED_CONFIG`). Always used in ``eval()``.
    """

    def __init__(self, n_hiddens: int = 16, n_stages: int = 2, image_channels: int = 1,
                 embedding_dim: int = 8, n_codes: int = 16384, num_groups: int = 32):
        super().__init__()
        self.encoder = Encoder(n_hiddens, n_stages, image_channels, num_groups)
        c = self.encoder.out_channels
        self.decoder = Decoder(n_hiddens, n_stages, image_channels, num_groups)
        self.pre_vq_conv = SamePadConv3d(c, embedding_dim, 1)
        self.post_vq_conv = SamePadConv3d(embedding_dim, c, 1)
        self.codebook = Codebook(n_codes, embedding_dim)
        self.downsample = 2**n_stages

    def encode_continuous(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, D, H, W) in [−1, 1] → the continuous latent z_e (B, 8, D/4, H/4, W/4)."""
        return self.pre_vq_conv(self.encoder(x))

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Latent → nearest code indices (B, d, h, w)."""
        return self.codebook.nearest(z)

    def decode_codes(self, idx: torch.Tensor) -> torch.Tensor:
        """Code indices → image (B, 1, D, H, W), about [−1, 1]."""
        return self.decoder(self.post_vq_conv(self.codebook.lookup(idx)))

    def decode(self, z: torch.Tensor, quantize: bool = True) -> torch.Tensor:
        """Latent → image. ``quantize=True`` (DiffTumor's decode) snaps every voxel to its nearest
        code first; ``False`` decodes the continuous latent directly (for diagnostics)."""
        if quantize:
            return self.decode_codes(self.quantize(z))
        return self.decoder(self.post_vq_conv(z))

    def embedding_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The global min and max of the codebook: DiffTumor's latent normalisation constants."""
        e = self.codebook.embeddings
        return e.min(), e.max()
