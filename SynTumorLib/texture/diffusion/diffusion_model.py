"""The second stage: a conditional latent denoiser (MONAI ``DiffusionModelUNet``) and its EMA copy.

Paper §2.1: the condition is the masked latent ``z = (1 − y) ⊗ x_l`` plus the tumour mask ``y``
resized to the latent grid, concatenated with the noisy latent ``x_t`` on the channel axis, so the
network sees ``[x_t, z, y]`` (2·C + 1 channels) and predicts the noise ε (C channels).

Tumour size (small vs large) is handled in one of two ways, chosen by ``size_conditioning``:
``"class"`` — one network with a learned class embedding of the size bin (``num_class_embeds``,
added to the time embedding); ``"two_models"`` — one network per size bin, as the reference does
(a short "early" schedule for small tumours, a long one for the rest); ``"none"`` — one network.

Example:
    >>> import torch
    >>> cfg = {"channels": [16, 16], "attention_levels": [False, False], "num_res_blocks": 1,
    ...        "norm_num_groups": 8, "size_conditioning": "class", "size_thresholds_mm": [12.0]}
    >>> net = build_unet(cfg, latent_channels=2)
    >>> x = torch.zeros(1, 5, 8, 8, 8)
    >>> tuple(net(x, timesteps=torch.tensor([3]), class_labels=torch.tensor([1])).shape)
    (1, 2, 8, 8, 8)
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ...utils.errors import InputError
from .config import SIZE_CONDITIONING, section

__all__ = ["SIZE_CONDITIONING", "size_bins", "size_class", "model_names", "timesteps_for", "build_unet", "EMA"]


def size_bins(cfg: dict[str, Any]) -> list[float]:
    """Equivalent-diameter thresholds (mm) between size bins; one threshold → bins 0 (small), 1 (large)."""
    return section("diffusion", cfg)["size_thresholds_mm"]


def size_class(volume_mm3: float, thresholds_mm: list[float]) -> int:
    """Bin of a tumour by its equivalent-sphere diameter ``d = (6V/π)^(1/3)``."""
    d = (6.0 * max(float(volume_mm3), 0.0) / torch.pi) ** (1.0 / 3.0)
    return int(sum(d >= t for t in thresholds_mm))


def model_names(cfg: dict[str, Any]) -> list[str]:
    """Names of the denoisers a config defines: ``["main"]`` or one per size bin (``size0``, ``size1``, …)."""
    d = section("diffusion", cfg)
    if d["size_conditioning"] == "two_models":
        return [f"size{i}" for i in range(len(d["size_thresholds_mm"]) + 1)]
    return ["main"]


def timesteps_for(cfg: dict[str, Any], name: str) -> int:
    """Training schedule length T of one denoiser (``model_timesteps`` may override it per model)."""
    d = section("diffusion", cfg)
    return int(d["model_timesteps"].get(name, d["num_train_timesteps"]))


def build_unet(cfg: dict[str, Any], latent_channels: int) -> nn.Module:
    """The denoiser ε_θ([x_t, z, y], t, size) for latents with ``latent_channels`` channels."""
    from monai.networks.nets import DiffusionModelUNet

    d = section("diffusion", cfg)  # checked (channels vs norm groups, attention levels), defaults filled in
    n_cls = len(d["size_thresholds_mm"]) + 1 if d["size_conditioning"] == "class" else None
    return DiffusionModelUNet(
        spatial_dims=3, in_channels=2 * latent_channels + 1, out_channels=latent_channels,
        num_res_blocks=d["num_res_blocks"], channels=d["channels"], attention_levels=d["attention_levels"],
        norm_num_groups=d["norm_num_groups"], num_head_channels=d["num_head_channels"],
        num_class_embeds=n_cls,
    )


class EMA:
    """Exponential moving average of weights (Polyak averaging), used for sampling.

    ``θ_ema ← d·θ_ema + (1 − d)·θ`` after each optimizer step, with the warm-up
    ``d = min(decay, (1 + n)/(10 + n))`` so that early averages are not dominated by the random init.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise InputError(f"ema_decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for e, p in zip(self.model.parameters(), model.parameters(), strict=True):
            e.mul_(d).add_(p.detach(), alpha=1.0 - d)
        for e, b in zip(self.model.buffers(), model.buffers(), strict=True):
            e.copy_(b)
