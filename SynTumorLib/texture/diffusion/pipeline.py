"""The latent-diffusion texture recipe in one readable ``__call__`` (like diffusers' ``LDMPipeline``).

Paper §2.1 / Fig. 1a, symbol for symbol:

1. ``x_l = E(x)`` — encode the windowed CT crop ``x`` (the tumour region still shows healthy tissue);
2. ``y`` — the tumour mask resized to the latent grid (max-pooling, so a tumour smaller than one
   latent voxel is not lost);
3. ``z = (1 − y) ⊗ x_l`` — the masked latent: the context the tumour must fit into;
4. reverse diffusion from ``x_T ~ N(0, I)``: ``ε̂ = ε_θ([x_t, z, y], t, size)``, then one DDPM/DDIM
   step per time ``t`` (see :mod:`.schedulers`); outside the tumour ``x_t`` is reset to the noised real
   latent at every step (RePaint's known-region replacement);
5. keep the known latent outside the tumour, ``x_0 ← y ⊗ x_0 + (1 − y) ⊗ x_l`` (so the decoder sees
   the real context), and decode ``x̂ = D(x_0)``.

The caller pastes ``x̂`` back only inside the feathered tumour (:func:`.crops.paste_back`).

Example:
    >>> import torch
    >>> from SynTumorLib.texture.diffusion.autoencoder import TextureAutoencoder
    >>> from SynTumorLib.texture.diffusion.diffusion_model import build_unet
    >>> ae_cfg = {"kind": "vqvae", "channels": [8, 8], "latent_channels": 2, "num_embeddings": 16}
    >>> d_cfg = {"channels": [16, 16], "attention_levels": [False, False], "norm_num_groups": 8,
    ...          "num_train_timesteps": 20, "size_thresholds_mm": [10.0],
    ...          "sampling": [{"scheduler": "ddim", "steps": 3}, {"scheduler": "ddim", "steps": 3}]}
    >>> pipe = TumourTexturePipeline(TextureAutoencoder(ae_cfg), {"main": build_unet(d_cfg, 2)}, d_cfg)
    >>> x, m = torch.rand(1, 1, 16, 16, 16), torch.zeros(1, 1, 16, 16, 16)
    >>> m[..., 6:10, 6:10, 6:10] = 1
    >>> tuple(pipe(x, m, size_bin=0, generator=torch.Generator().manual_seed(0)).shape)
    (1, 1, 16, 16, 16)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...utils.errors import InputError
from .config import DOWNSAMPLING, section
from .diffusion_model import model_names, timesteps_for
from .schedulers import Sampler


def latent_mask(mask: torch.Tensor) -> torch.Tensor:
    """``y`` on the latent grid: 1 where any voxel of the 4³ block is tumour."""
    return F.max_pool3d(mask.float(), kernel_size=DOWNSAMPLING, stride=DOWNSAMPLING)


def condition(x_t: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The denoiser input ``[x_t, z, y]`` (channel concatenation, the reference's conditioning)."""
    return torch.cat([x_t, z, y], dim=1)


class TumourTexturePipeline:
    """Autoencoder + denoiser(s) + sampler: windowed crop and mask in, synthesized crop out.

    Args:
        autoencoder: a :class:`~.autoencoder.TextureAutoencoder`.
        unets: ``{"main": net}`` or one net per size bin (``{"size0": …, "size1": …}``), EMA weights.
        config: the ``diffusion`` config section (``size_conditioning``, ``size_thresholds_mm``,
            ``num_train_timesteps``, ``sampling`` — one ``{"scheduler", "steps"}`` per size bin).
        scale_factor: latent scale (1/std of training latents, Rombach et al. §4.3.2); the config's
            ``latent_clip`` bounds the predicted clean latent at every step (see :class:`.schedulers.Sampler`).
    """

    def __init__(self, autoencoder: nn.Module, unets: dict[str, nn.Module], config: dict[str, Any],
                 scale_factor: float = 1.0) -> None:
        config = section("diffusion", config)  # checked, defaults filled in
        names = model_names(config)
        if sorted(unets) != sorted(names):
            raise InputError(f"the config needs denoisers {names}, got {sorted(unets)}")
        self.autoencoder, self.unets, self.config = autoencoder.eval(), {k: v.eval() for k, v in unets.items()}, config
        self.scale_factor = float(scale_factor)
        # x̂_0 is clipped to the range of the (scaled) training latents; ±4σ when a config lacks it
        self.latent_clip = float(config["latent_clip"] or 4.0)
        self.n_bins = len(config["size_thresholds_mm"]) + 1

    def sampling_for(self, size_bin: int) -> tuple[str, int]:
        """Default (scheduler, steps) of a size bin from ``config["sampling"]``."""
        s = self.config["sampling"]
        s = s[min(size_bin, len(s) - 1)]
        return str(s["scheduler"]), int(s["steps"])

    def _denoiser(self, size_bin: int) -> tuple[str, nn.Module, torch.Tensor | None]:
        if not 0 <= size_bin < self.n_bins:
            raise InputError(f"size_bin must be in 0..{self.n_bins - 1}, got {size_bin}")
        mode = self.config["size_conditioning"]
        if mode == "two_models":
            name = f"size{size_bin}"
            return name, self.unets[name], None
        return "main", self.unets["main"], (torch.tensor([size_bin]) if mode == "class" else None)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, mask: torch.Tensor, size_bin: int, scheduler: str | None = None,
                 steps: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Synthesize a tumour in the crop ``x`` (B,1,D,H,W in [0,1]) under ``mask``; returns x̂ in [0,1]."""
        if x.ndim != 5 or x.shape[1] != 1 or any(s % DOWNSAMPLING for s in x.shape[2:]):
            raise InputError(f"crop must be (B,1,D,H,W) with sizes divisible by {DOWNSAMPLING}, got {tuple(x.shape)}")
        name, unet, cls = self._denoiser(size_bin)
        default = self.sampling_for(size_bin)
        sampler = Sampler({**self.config, "num_train_timesteps": timesteps_for(self.config, name)},
                          scheduler or default[0], steps or default[1], clip=self.latent_clip)
        device = next(unet.parameters()).device
        x, mask = x.to(device), mask.to(device)

        x_l = self.autoencoder.encode(x) * self.scale_factor  # (1) x_l = E(x)
        y = latent_mask(mask)  # (2)
        z = (1.0 - y) * x_l  # (3) z = (1 − y) ⊗ x_l
        # (4) reverse diffusion from pure noise; noise drawn on the CPU generator → same on any device
        x_t = torch.randn(x_l.shape, generator=generator, dtype=x_l.dtype).to(device)
        labels = cls.expand(x.shape[0]).to(device) if cls is not None else None
        abar = sampler.alphas_cumprod()
        for i, t in enumerate(sampler.model_timesteps):
            eps = unet(condition(x_t, z, y), timesteps=t.expand(x.shape[0]).to(device), class_labels=labels)
            x_t = sampler.step(eps.cpu(), i, x_t.cpu(), generator=generator).to(device)
            if i + 1 < len(sampler.model_timesteps):
                # (4b) outside the tumour, x_t is the real latent noised to the next level (RePaint,
                # Lugmayr et al. 2022, eq. 8): exactly what the denoiser saw in training, so the
                # tumour it generates is fitted to the true context rather than to a drifting guess
                a = abar[i + 1]
                known = a.sqrt() * x_l + (1 - a).sqrt() * torch.randn(x_l.shape, generator=generator).to(device)
                x_t = y * x_t + (1.0 - y) * known
        x_0 = y * x_t + (1.0 - y) * x_l  # (5) real context outside the tumour
        return self.autoencoder.decode(x_0 / self.scale_factor).clamp(0.0, 1.0)
