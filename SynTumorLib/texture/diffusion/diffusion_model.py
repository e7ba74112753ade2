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

SIZE_CONDITIONING = ("class", "two_models", "none")


def size_bins(cfg: dict[str, Any]) -> list[float]:
    """Equivalent-diameter thresholds (mm) between size bins; one threshold → bins 0 (small), 1 (large)."""
    th = [float(t) for t in cfg.get("size_thresholds_mm", [20.0])]
    if th != sorted(th) or any(t <= 0 for t in th):
        raise InputError(f"size_thresholds_mm must be increasing positive numbers, got {th}")
    return th


def size_class(volume_mm3: float, thresholds_mm: list[float]) -> int:
    """Bin of a tumour by its equivalent-sphere diameter ``d = (6V/π)^(1/3)``."""
    d = (6.0 * max(float(volume_mm3), 0.0) / torch.pi) ** (1.0 / 3.0)
    return int(sum(d >= t for t in thresholds_mm))


def model_names(cfg: dict[str, Any]) -> list[str]:
    """Names of the denoisers a config defines: ``["main"]`` or one per size bin (``size0``, ``size1``, …)."""
    mode = cfg.get("size_conditioning", "class")
    if mode not in SIZE_CONDITIONING:
        raise InputError(f"size_conditioning must be one of {SIZE_CONDITIONING}, got {mode!r}")
    if mode == "two_models":
        return [f"size{i}" for i in range(len(size_bins(cfg)) + 1)]
    return ["main"]


def timesteps_for(cfg: dict[str, Any], name: str) -> int:
    """Training schedule length T of one denoiser (``model_timesteps`` may override it per model)."""
    per = cfg.get("model_timesteps", {}) or {}
    return int(per.get(name, cfg.get("num_train_timesteps", 200)))


def build_unet(cfg: dict[str, Any], latent_channels: int) -> nn.Module:
    """The denoiser ε_θ([x_t, z, y], t, size) for latents with ``latent_channels`` channels."""
    from monai.networks.nets import DiffusionModelUNet

    ch = [int(c) for c in cfg.get("channels", [32, 64])]
    att = [bool(a) for a in cfg.get("attention_levels", [False] * len(ch))]
    if len(att) != len(ch):
        raise InputError(f"attention_levels needs {len(ch)} entries, got {len(att)}")
    groups = int(cfg.get("norm_num_groups", 8))
    if any(c % groups for c in ch):
        raise InputError(f"diffusion channels {ch} must be multiples of norm_num_groups={groups}")
    n_cls = len(size_bins(cfg)) + 1 if cfg.get("size_conditioning", "class") == "class" else None
    return DiffusionModelUNet(
        spatial_dims=3, in_channels=2 * latent_channels + 1, out_channels=latent_channels,
        num_res_blocks=int(cfg.get("num_res_blocks", 1)), channels=ch, attention_levels=att,
        norm_num_groups=groups, num_head_channels=int(cfg.get("num_head_channels", 8)),
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
        for e, p in zip(self.model.parameters(), model.parameters(), strict=False):
            e.mul_(d).add_(p.detach(), alpha=1.0 - d)
        for e, b in zip(self.model.buffers(), model.buffers(), strict=False):
            e.copy_(b)
