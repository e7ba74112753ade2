"""The first stage: a 3-D VQ-GAN (MONAI ``VQVAE`` + ``PatchDiscriminator``) or an ``AutoencoderKL``.

Paper §2.1: the encoder ``E`` compresses a windowed CT crop ``x ∈ [0, 1]`` into latent features
``x_l`` (4× smaller per axis); the decoder ``D`` maps a latent back to an image. The VQ variant
quantizes ``x_l`` to a learned codebook (Esser et al. 2021, the reference's design); the KL variant
(Rombach et al. 2022) regularises a Gaussian latent with a small KL term instead.

Example:
    >>> import torch
    >>> cfg = {"kind": "vqvae", "channels": [8, 8], "num_res_layers": 1, "latent_channels": 2,
    ...        "num_embeddings": 16}
    >>> ae = TextureAutoencoder(cfg).eval()
    >>> x = torch.rand(1, 1, 16, 16, 16)
    >>> tuple(ae.encode(x).shape), tuple(ae.decode(ae.encode(x)).shape)
    ((1, 2, 4, 4, 4), (1, 1, 16, 16, 16))
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ...utils.errors import InputError
from .config import AUTOENCODER_KINDS as KINDS
from .config import DOWNSAMPLING, section

__all__ = ["KINDS", "DOWNSAMPLING", "TextureAutoencoder", "build_discriminator", "build_perceptual_loss"]


class TextureAutoencoder(nn.Module):
    """``encode`` (x → latent, deterministic), ``decode`` (latent → x) and ``forward`` (training).

    Args:
        cfg: the ``autoencoder`` section of a config: ``kind`` (``vqvae``|``kl``), ``channels``
            (two levels), ``num_res_layers``, ``latent_channels``, ``num_embeddings`` (VQ codebook size),
            ``commitment_cost``; for ``kl`` also ``norm_num_groups``.
    """

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        cfg = section("autoencoder", cfg)  # checked, defaults filled in
        self.kind = cfg["kind"]
        ch = cfg["channels"]
        lat = cfg["latent_channels"]
        nres = cfg["num_res_layers"]
        if self.kind == "vqvae":
            from monai.networks.nets import VQVAE

            self.net = VQVAE(
                spatial_dims=3, in_channels=1, out_channels=1, channels=ch, num_res_layers=nres,
                num_res_channels=ch,
                # (stride, kernel, dilation, padding): each stage halves the size → 4× in total
                downsample_parameters=((2, 4, 1, 1), (2, 4, 1, 1)),
                upsample_parameters=((2, 4, 1, 1, 0), (2, 4, 1, 1, 0)),
                num_embeddings=cfg["num_embeddings"], embedding_dim=lat,
                commitment_cost=cfg["commitment_cost"], decay=cfg["ema_decay"],
                ddp_sync=True,
            )
        else:
            from monai.networks.nets import AutoencoderKL

            # AutoencoderKL downsamples len(channels) − 1 times: three levels give 4×
            self.net = AutoencoderKL(
                spatial_dims=3, in_channels=1, out_channels=1, num_res_blocks=nres,
                channels=(ch[0], ch[1], ch[1]), attention_levels=(False, False, False), latent_channels=lat,
                norm_num_groups=cfg["norm_num_groups"] or min(8, ch[0]),
                with_encoder_nonlocal_attn=False, with_decoder_nonlocal_attn=False,
            )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B,1,D,H,W) in [0,1] → latent ``x_l`` (B,C,D/4,H/4,W/4); quantized for VQ, μ for KL."""
        if self.kind == "vqvae":
            return self.net.encode_stage_2_inputs(x)
        z_mu, _ = self.net.encode(x)
        return z_mu

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """latent → image (B,1,D,H,W), roughly in [0,1]; VQ re-quantizes first (snaps to codes)."""
        return self.net.decode_stage_2_outputs(z)

    @torch.no_grad()
    def restart_codes(self, x: torch.Tensor, generator: torch.Generator, all_codes: bool = False,
                      dead_fraction: float = 0.01) -> int:
        """Re-seed unused VQ codes with encoder outputs of the batch ``x``; returns how many (0 for KL).

        Why: MONAI's EMA codebook starts from N(0, 1) vectors while the encoder's outputs live on
        another scale, so after a few steps only a handful of codes are ever chosen and the
        reconstruction stalls (measured on the tiny phantom model: L1 stuck at 0.20, tumour HU off by
        110 HU after 400 steps). Initialising the codebook from data (``all_codes``) and restarting
        codes whose EMA usage fell below ``dead_fraction`` × the mean usage (Dhariwal et al. 2020,
        Jukebox; Zeghidour et al. 2021, SoundStream) keeps all codes in use (L1 0.08, tumour error
        ≈ 20 HU at the same budget). Deterministic given ``generator``; under DDP the caller
        broadcasts the codebook from rank 0 (:meth:`SynTumorLib.runtime.session.TrainingRuntime.broadcast_tensors`).
        """
        if self.kind != "vqvae":
            return 0
        q = self.net.quantizer.quantizer
        z_e = self.net.encode(x).permute(0, 2, 3, 4, 1).reshape(-1, q.embedding_dim).float().cpu()
        usage = q.ema_cluster_size.float().cpu()
        dead = torch.ones_like(usage, dtype=torch.bool) if all_codes else usage < dead_fraction * usage.mean()
        n = int(dead.sum())
        if n == 0:
            return 0
        pick = z_e[torch.randint(len(z_e), (n,), generator=generator)]
        pick = pick + 1e-3 * pick.std() * torch.randn(pick.shape, generator=generator)  # break ties between copies
        dev = q.embedding.weight.device
        dead = dead.to(dev)
        q.embedding.weight.data[dead] = pick.to(dev, q.embedding.weight.dtype)
        q.ema_w.data[dead] = pick.to(dev, q.ema_w.dtype)
        # a restarted code counts as used once, so it is not restarted again on the next check
        q.ema_cluster_size.data[dead] = 1.0 if all_codes else float(usage.mean())
        return n

    def codebook_buffers(self) -> list[torch.Tensor]:
        """The tensors a codebook restart changes (what DDP must broadcast); empty for KL."""
        if self.kind != "vqvae":
            return []
        q = self.net.quantizer.quantizer
        return [q.embedding.weight.data, q.ema_w.data, q.ema_cluster_size.data]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass: (reconstruction, regulariser) — the VQ commitment loss or the KL divergence."""
        if self.kind == "vqvae":
            recon, q_loss = self.net(x)
            return recon, q_loss
        recon, mu, sigma = self.net(x)
        # KL(N(μ, σ²) ‖ N(0, 1)) per voxel, summed over channels/space, averaged over the batch
        kl = 0.5 * (mu.pow(2) + sigma.pow(2) - torch.log(sigma.pow(2) + 1e-12) - 1)
        return recon, kl.sum(dim=list(range(1, kl.ndim))).mean()


def build_discriminator(cfg: dict[str, Any]) -> nn.Module:
    """A 3-D PatchGAN discriminator (Isola et al.; MONAI ``PatchDiscriminator``)."""
    from monai.networks.nets import PatchDiscriminator

    cfg = section("discriminator", cfg)
    return PatchDiscriminator(spatial_dims=3, channels=cfg["channels"], in_channels=1,
                              num_layers_d=cfg["num_layers_d"], norm="INSTANCE")


def build_perceptual_loss(weights_path: str | None) -> nn.Module | None:
    """A perceptual loss only when the user supplies backbone weights (nothing is ever downloaded).

    The file must hold a torchvision ResNet-50 state dict (e.g. RadImageNet weights); MONAI's
    ``PerceptualLoss`` applies it slice-wise ("fake 3-D") on the three orthogonal planes.
    """
    if not weights_path:
        return None
    from pathlib import Path

    if not Path(weights_path).is_file():
        raise InputError(f"perceptual_weights: file not found: {weights_path}")
    from monai.losses import PerceptualLoss

    return PerceptualLoss(spatial_dims=3, network_type="resnet50", is_fake_3d=True, fake_3d_ratio=0.25,
                          pretrained=True, pretrained_path=str(weights_path))
