"""Noise schedulers: thin wrappers over MONAI's ``DDPMScheduler`` / ``DDIMScheduler``; configs are data.

Training always uses the DDPM forward process (Ho et al. 2020, eq. 4):
``x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε`` with a cosine schedule (Nichol & Dhariwal 2021, eq. 17)
and the network predicts ε. Sampling uses DDPM or DDIM with any number of steps ``n ≤ T``.

Why respacing: MONAI's samplers assume the step before ``t`` is ``t − 1`` (DDPM) or
``t − T // n`` (DDIM), which does not match the ``linspace`` time steps they choose when
``n < T`` (e.g. 4 DDPM steps of a 200-step model would jump 199 → 133 but use ᾱ_198). We therefore
follow Nichol & Dhariwal §4 ("respacing"): pick the sub-sequence ``S = (s_0 < … < s_{n-1})`` and
build a MONAI scheduler with ``n`` steps whose ``ᾱ'_i = ᾱ_{s_i}`` and ``β'_i = 1 − ᾱ_{s_i}/ᾱ_{s_{i-1}}``.
The MONAI step then runs unchanged (and exactly) on index ``i`` while the network is called with the
original time ``s_i``.

Example:
    >>> import torch
    >>> cfg = {"num_train_timesteps": 200, "schedule": "cosine"}
    >>> s = Sampler(cfg, "ddim", 4)
    >>> s.model_timesteps.tolist()
    [199, 133, 66, 0]
    >>> x = torch.zeros(1, 2, 4, 4, 4)
    >>> x = s.step(torch.zeros_like(x), 0, x)
    >>> tuple(x.shape)
    (1, 2, 4, 4, 4)
"""

from __future__ import annotations

from typing import Any

import torch

from ...utils.errors import InputError
from .config import SCHEDULERS, section

__all__ = ["SCHEDULERS", "train_scheduler", "Sampler"]


def _train_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    d = section("diffusion", cfg)
    # clip_sample=False: latents are scaled to unit variance, not to [-1, 1].
    return {"num_train_timesteps": d["num_train_timesteps"], "schedule": d["schedule"], "clip_sample": False,
            "prediction_type": "epsilon"}


def train_scheduler(cfg: dict[str, Any]):
    """The DDPM scheduler used for training (``add_noise``, ``alphas_cumprod``)."""
    from monai.networks.schedulers import DDPMScheduler

    return DDPMScheduler(**_train_kwargs(cfg))


class Sampler:
    """A reverse-process sampler with ``n`` respaced steps.

    Args:
        cfg: the diffusion config (``num_train_timesteps``, ``schedule``).
        kind: ``"ddpm"`` (stochastic, eq. 7 of Ho et al.) or ``"ddim"`` (η = 0, eq. 12 of Song et al.).
        steps: number of reverse steps, 1 ≤ steps ≤ T.
        clip: clip the predicted ``x̂_0`` to ``[−clip, clip]`` at each step (Ho et al. §3.3). Needed with
            a cosine schedule: ``ᾱ_{T−1} ≈ 6·10⁻⁸``, so ``x̂_0 = (x_t − sqrt(1 − ᾱ_t)·ε̂)/sqrt(ᾱ_t)``
            amplifies any error of ε̂ ~4000× at the first step. None = no clipping.

    Attributes:
        model_timesteps: the original time ``s_i`` to give the network at each step (descending).
    """

    def __init__(self, cfg: dict[str, Any], kind: str, steps: int, clip: float | None = None) -> None:
        from monai.networks.schedulers import DDIMScheduler, DDPMScheduler

        kw = _train_kwargs(cfg)
        T = kw["num_train_timesteps"]
        kind = str(kind).lower()
        if kind not in SCHEDULERS:
            raise InputError(f"scheduler must be one of {SCHEDULERS}, got {kind!r}")
        if not 1 <= int(steps) <= T:
            raise InputError(f"sampling steps must be in 1..{T} (the model's training steps), got {steps}")
        self.kind, self.steps, self.clip = kind, int(steps), (float(clip) if clip is not None else None)
        full = DDPMScheduler(**kw).alphas_cumprod  # ᾱ_t of the training schedule, t = 0..T-1
        # S: evenly spaced, always containing T-1 (start from pure noise) and 0 (end at clean data)
        s = torch.linspace(T - 1, 0, self.steps).round().long().flip(0) if self.steps > 1 else torch.tensor([T - 1])
        self.model_timesteps = s.flip(0)
        abar = full[s]
        abar_prev = torch.cat([torch.ones(1), abar[:-1]])
        betas = (1.0 - abar / abar_prev).clamp(0.0, 0.999)
        c = {"clip_sample": clip is not None, "clip_sample_min": -float(clip or 1), "clip_sample_max": float(clip or 1)}
        if kind == "ddpm":
            self._s = DDPMScheduler(num_train_timesteps=self.steps, schedule="linear_beta", prediction_type="epsilon",
                                    variance_type="fixed_small", **c)
        else:
            self._s = DDIMScheduler(num_train_timesteps=self.steps, schedule="linear_beta", prediction_type="epsilon",
                                    set_alpha_to_one=True, **c)
        # overwrite the schedule with the respaced one (β'_i, α'_i = 1 − β'_i, ᾱ'_i = ᾱ_{s_i})
        self._s.betas, self._s.alphas, self._s.alphas_cumprod = betas, 1.0 - betas, abar
        self._s.set_timesteps(self.steps)  # index sequence n-1 … 0, consistent with MONAI's step()

    def step(self, eps: torch.Tensor, i: int, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One reverse step from respaced index ``self.steps - 1 - i`` (the i-th step of the loop)."""
        idx = int(self._s.timesteps[i])
        prev, _x0 = self._s.step(eps, idx, x, generator=generator)
        return prev

    def alphas_cumprod(self) -> torch.Tensor:
        """``ᾱ`` at each model time of the loop (``ᾱ_{s_i}`` for ``model_timesteps[i]``)."""
        return self._s.alphas_cumprod.flip(0)

    def describe(self) -> dict[str, Any]:
        return {"scheduler": self.kind, "steps": self.steps, "model_timesteps": self.model_timesteps.tolist(),
                "clip": self.clip}
