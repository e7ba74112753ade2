"""One DiffTumor tumour texture on a 96³ crop: condition, sample, decode (SPEC §4, end to end).

Input contract (SPEC R5): ``crop_01`` is a (B, 1, X, Y, Z) CT crop at 1 mm on a RAS grid with axes
(R, A, S), windowed [−175, 250] HU → [0, 1]; ``mask`` the tumour (0/1) on the same grid. Internally
the crop is permuted to (S, R, A) — DiffTumor's "frames" are axial slices — and back at the end.

Steps: ``v = 2·crop − 1``; the tumour is blanked (``v·(1 − m)``, i.e. 0 = 37.5 HU); the VQ-GAN
encodes it to a continuous latent, normalised by the codebook's global min/max; the ±1 mask comes to
the latent grid (nearest, as DiffTumor, or max-pool); the early (DDPM, T = 4) or non-early
(DDIM 50 of 200) denoiser samples a latent, which is de-normalised, snapped to the nearest codes and
decoded. Pancreas: the whole decoded crop is the output (``(x + 1)/2``, no clamp). Liver/kidney: a
Gaussian-blurred mask (σ ~ U(0, 4) voxels in-plane and through-plane) blends it into the crop, clamped
to [0, 1].

Which VQ-GAN: DiffTumor encodes with the autoencoder checkpoint, decodes non-early samples with it
too, but decodes early samples with the copy embedded in the early ``.pt``. Pass ``vqgan_early``
only when that copy differs (the loaders report the difference); otherwise one model serves all,
which is what keeps memory low.

Example:
    >>> import torch
    >>> from SynTumorLib.texture.difftumor.vqgan3d import VQGAN3D
    >>> from SynTumorLib.texture.difftumor.unet3d import Unet3D
    >>> vq = VQGAN3D(n_hiddens=4, n_codes=16, num_groups=2).eval()
    >>> vq.codebook.embeddings.normal_()  # doctest: +ELLIPSIS
    tensor(...)
    >>> net = Unet3D(dim=8, dim_mults=(1, 2), attn_heads=2, attn_dim_head=4).eval()
    >>> syn = DiffTumorSynthesizer(vq, net, net)
    >>> m = torch.zeros(1, 1, 16, 16, 16); m[..., 6:10, 6:10, 6:10] = 1
    >>> out = syn.synthesize(torch.full((1, 1, 16, 16, 16), 0.5), m, "early", seed=1)
    >>> tuple(out["volume"].shape), out["record"]["steps"]
    ((1, 1, 16, 16, 16), 4)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ...models.catalogue import ORGANS
from .sampling import (
    MASK_MODES,
    Noise,
    ddim_sample,
    ddpm_sample,
    denormalise_latent,
    latent_mask,
    normalise_latent,
)
from .schedule import DDIM_STEPS, EARLY_T, NOEARLY_T, schedule_buffers
from .unet3d import Unet3D
from .vqgan3d import VQGAN3D

RECIPES = ("early", "noearly")
TO_FRAMES = (0, 1, 4, 2, 3)    # (B, C, R, A, S) → (B, C, S, R, A)
FROM_FRAMES = (0, 1, 3, 4, 2)  # and back


def _blur_blend_sigma(noise: Noise) -> float:
    # DiffTumor draws σ ~ U(0, 4) from numpy's global RNG; the replayable mode draws it from the generator
    if noise.generator is None:
        return float(np.random.uniform(0, 4))
    return float(torch.rand((), generator=noise.generator, dtype=torch.float64)) * 4.0


class DiffTumorSynthesizer:
    """DiffTumor's texture synthesis with one autoencoder and the early/non-early denoisers.

    Args:
        vqgan: the autoencoder (``.ckpt`` weights); encodes, and decodes non-early samples.
        unet_early: the T = 4 denoiser (``ema`` of ``<organ>_early.pt``).
        unet_noearly: the T = 200 denoiser (``ema`` of ``<organ>_noearly.pt``).
        buffers_early, buffers_noearly: the schedule buffers from the ``.pt`` files (recomputed when
            not given: they are a pure function of T).
        vqgan_early: the early ``.pt``'s own VQ-GAN copy, when it differs from ``vqgan``.
    """

    def __init__(self, vqgan: VQGAN3D, unet_early: Unet3D | None, unet_noearly: Unet3D | None,
                 buffers_early: dict[str, torch.Tensor] | None = None,
                 buffers_noearly: dict[str, torch.Tensor] | None = None, vqgan_early: VQGAN3D | None = None):
        self.vqgan = vqgan.eval()
        self.vqgan_early = (vqgan_early or vqgan).eval()
        self.unets = {"early": unet_early.eval() if unet_early is not None else None,
                      "noearly": unet_noearly.eval() if unet_noearly is not None else None}
        self.buffers = {"early": buffers_early or schedule_buffers(EARLY_T),
                        "noearly": buffers_noearly or schedule_buffers(NOEARLY_T)}

    @property
    def device(self) -> torch.device:
        return next(self.vqgan.parameters()).device

    @torch.no_grad()
    def condition(self, crop_01: torch.Tensor, mask: torch.Tensor, mask_mode: str = "nearest") -> torch.Tensor:
        """The 9-channel condition (normalised masked-CT latent + ±1 latent mask), frames first."""
        volume = crop_01 * 2.0 - 1.0
        masked = (volume * (1 - mask)).permute(TO_FRAMES)
        mask_pm1 = (mask * 2.0 - 1.0).permute(TO_FRAMES)
        e_min, e_max = self.vqgan.embedding_range()
        feat = normalise_latent(self.vqgan.encode_continuous(masked), e_min, e_max)
        return torch.cat((feat, latent_mask(mask_pm1, tuple(feat.shape[-3:]), mask_mode)), dim=1)

    @torch.no_grad()
    def synthesize(self, crop_01: torch.Tensor, mask: torch.Tensor, recipe: str,
                   generator: torch.Generator | None = None, *, seed: int | None = None, rng: str = "generator",
                   organ: str = "pancreas", mask_mode: str = "nearest", ddim_steps: int = DDIM_STEPS,
                   progress: Callable[[float, str], None] | None = None) -> dict:
        """Synthesise the tumour texture of ``mask`` in ``crop_01`` with the ``recipe`` model.

        Args:
            crop_01, mask: (B, 1, X, Y, Z) on the 1 mm RAS (R, A, S) grid; X, Y, Z multiples of 32
                (96 for the released models). Non-early needs B = 1, as DiffTumor does.
            recipe: ``"early"`` (DDPM, T = 4) or ``"noearly"`` (DDIM ``ddim_steps`` of T = 200).
            generator, seed: the replayable noise (a CPU ``torch.Generator``, or a seed for a fresh one).
            rng: ``"generator"`` (default, needs ``generator`` or ``seed``) or ``"reference"``
                (DiffTumor's stream: the device's global RNG, numpy's for the blend σ).
            organ: ``"pancreas"`` (the decoded crop replaces the input) or ``"liver"``/``"kidney"`` (blend).
            mask_mode: latent mask, ``"nearest"`` (DiffTumor) or ``"maxpool"``.

        Returns:
            ``{"volume": (B, 1, X, Y, Z) tensor (≈ [0, 1]), "latent": the sampled latent (frames first),
            "record": the parameters actually used}``.
        """
        if recipe not in RECIPES:
            raise ValueError(f"unknown DiffTumor recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
        if organ not in ORGANS:
            raise ValueError(f"unknown organ {organ!r}; choose one of {', '.join(ORGANS)}")
        if mask_mode not in MASK_MODES:
            raise ValueError(f"unknown latent mask mode {mask_mode!r}; choose one of {', '.join(MASK_MODES)}")
        if crop_01.dim() != 5 or crop_01.shape[1] != 1 or tuple(mask.shape) != tuple(crop_01.shape):
            raise ValueError(f"crop and mask must both be (B, 1, X, Y, Z), got {tuple(crop_01.shape)} and "
                             f"{tuple(mask.shape)}")
        net = self.unets[recipe]
        if net is None:
            raise ValueError(f"no {recipe} denoiser was given to this synthesizer")
        noise = self._noise(generator, seed, rng)
        dev = self.device
        crop_01, mask = crop_01.to(dev, torch.float32), mask.to(dev, torch.float32)
        cond = self.condition(crop_01, mask, mask_mode)
        if recipe == "early":
            x = ddpm_sample(net, cond, {k: v.to(dev) for k, v in self.buffers["early"].items()}, noise,
                            progress=progress)
            decoder, steps = self.vqgan_early, int(self.buffers["early"]["betas"].shape[0])
        else:
            if cond.shape[0] != 1:
                raise ValueError(f"the non-early recipe samples one crop at a time (batch 1), got {cond.shape[0]}")
            x = ddim_sample(net, cond, self.buffers["noearly"]["alphas_cumprod"], noise, ddim_steps, progress=progress)
            decoder, steps = self.vqgan, ddim_steps
        e_min, e_max = decoder.embedding_range()
        sample = decoder.decode(denormalise_latent(x, e_min, e_max), quantize=True)
        record = {"recipe": recipe, "organ": organ, "mask_mode": mask_mode, "rng": noise.mode, "seed": seed,
                  "steps": steps, "model_timesteps": int(self.buffers[recipe]["betas"].shape[0])}
        if organ == "pancreas":
            final = (sample + 1.0) / 2.0
        else:
            sigma = _blur_blend_sigma(noise)
            record["blend_sigma"] = sigma
            final = self._blend(crop_01.permute(TO_FRAMES) * 2.0 - 1.0, mask.permute(TO_FRAMES), sample, sigma)
        return {"volume": final.permute(FROM_FRAMES), "latent": x, "record": record}

    @staticmethod
    def _noise(generator: torch.Generator | None, seed: int | None, rng: str) -> Noise:
        if rng == "reference":
            return Noise.reference()
        if rng != "generator":
            raise ValueError(f"unknown rng mode {rng!r}; choose 'generator' or 'reference'")
        if generator is not None:
            return Noise(generator)
        if seed is None:
            raise ValueError("the replayable rng mode needs a generator or a seed")
        return Noise.seeded(seed)

    @staticmethod
    def _blend(volume: torch.Tensor, mask01: torch.Tensor, sample: torch.Tensor, sigma: float) -> torch.Tensor:
        # liver/kidney: blurred-mask blend, everything clamped to [0, 1] (the pancreas path has none of this)
        from scipy.ndimage import gaussian_filter

        blur = gaussian_filter(mask01.clamp(0, 1).cpu().numpy() * 1.0, sigma=[0, 0, sigma, sigma, sigma])
        w = torch.from_numpy(blur).to(volume.device)
        v = torch.clamp((volume + 1.0) / 2.0, 0.0, 1.0)
        s = torch.clamp((sample + 1.0) / 2.0, 0.0, 1.0)
        return torch.clamp((1 - w) * v + w * s, 0.0, 1.0)
