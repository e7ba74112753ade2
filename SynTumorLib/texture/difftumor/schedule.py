"""The cosine noise schedule of DiffTumor's ``GaussianDiffusion`` and the DDIM step table.

The 12 schedule buffers of a released ``.pt`` (SPEC §3) are recomputed here exactly as the
reference does it — float64 maths, then a cast to float32 — so a checkpoint's buffers can be
checked against them, and random-weight models get the same tables:

* ``ᾱ(τ) = cos²(((τ/T) + 0.008)/1.008 · π/2) / ᾱ(0)``, ``β_t = clip(1 − ᾱ(t+1)/ᾱ(t), 0, 0.9999)``,
  ``ᾱ_t = Π(1 − β)``; T = 4 (early) or 200 (non-early).
* DDIM (SPEC §4): S = 50 uniform steps over T = 200 → ``τ = {0, 4, …, 196} + 1``; the step before
  τ_0 uses **ᾱ[0]** (not 1), and σ = 0 (η = 0).

Example:
    >>> b = schedule_buffers(4)
    >>> [round(float(x), 6) for x in b["betas"]]
    [0.152988, 0.416958, 0.707859, 0.9999]
    >>> ddim_timesteps(50, 200)[:3].tolist(), int(ddim_timesteps(50, 200)[-1])
    ([1, 5, 9], 197)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

BUFFER_NAMES = ("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
                "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
                "posterior_mean_coef1", "posterior_mean_coef2")
EARLY_T, NOEARLY_T, DDIM_STEPS = 4, 200, 50


def cosine_betas(T: int, s: float = 0.008) -> torch.Tensor:
    """β_1..β_T of the cosine schedule (Nichol & Dhariwal 2021), float64, clipped at 0.9999."""
    x = torch.linspace(0, T, T + 1, dtype=torch.float64)
    a = torch.cos(((x / T) + s) / (1 + s) * torch.pi * 0.5) ** 2
    a = a / a[0]
    return torch.clip(1 - (a[1:] / a[:-1]), 0, 0.9999)


def schedule_buffers(T: int) -> dict[str, torch.Tensor]:
    """The 12 float32 buffers (each (T,)) that a released ``.pt`` stores beside ``denoise_fn.*``."""
    if T < 1:
        raise ValueError(f"the schedule needs T ≥ 1 steps, got {T}")
    betas = cosine_betas(T)
    alphas = 1.0 - betas
    ac = torch.cumprod(alphas, dim=0)
    ac_prev = F.pad(ac[:-1], (1, 0), value=1.0)
    post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
    out = {
        "betas": betas, "alphas_cumprod": ac, "alphas_cumprod_prev": ac_prev,
        "sqrt_alphas_cumprod": torch.sqrt(ac), "sqrt_one_minus_alphas_cumprod": torch.sqrt(1.0 - ac),
        "log_one_minus_alphas_cumprod": torch.log(1.0 - ac), "sqrt_recip_alphas_cumprod": torch.sqrt(1.0 / ac),
        "sqrt_recipm1_alphas_cumprod": torch.sqrt(1.0 / ac - 1), "posterior_variance": post_var,
        # the posterior variance is 0 at t = 0: the log is clipped, as in the reference
        "posterior_log_variance_clipped": torch.log(post_var.clamp(min=1e-20)),
        "posterior_mean_coef1": betas * torch.sqrt(ac_prev) / (1.0 - ac),
        "posterior_mean_coef2": (1.0 - ac_prev) * torch.sqrt(alphas) / (1.0 - ac),
    }
    return {k: out[k].to(torch.float32) for k in BUFFER_NAMES}


def ddim_timesteps(S: int, T: int) -> np.ndarray:
    """The model time steps a uniform S-step DDIM visits, ascending: ``range(0, T, T // S) + 1``.

    The +1 (latent-diffusion's "to get the final alpha values right") is skipped when T // S = 1.
    """
    if not 1 <= S <= T:
        raise ValueError(f"DDIM needs 1 ≤ S ≤ T, got S={S}, T={T}")
    c = T // S
    steps = np.asarray(list(range(0, T, c)))
    return steps + 1 if c != 1 else steps


def ddim_coefficients(alphas_cumprod: torch.Tensor, timesteps: np.ndarray) -> dict[str, torch.Tensor]:
    """Per DDIM step k: ``a_t = ᾱ[τ_k]``, ``a_prev = ᾱ[τ_{k−1}]`` (ᾱ[0] for k = 0) and ``√(1 − a_t)``.

    All float32, computed from the float32 buffer as the reference does (so its rounding matches).
    The reference takes ``√(1 − a_t)`` with numpy, which rounds correctly; torch's vectorised float32
    ``sqrt`` can be one ulp off, so the root is taken in float64 and rounded once to float32.
    """
    ac = alphas_cumprod.detach().to("cpu", torch.float32)
    idx = torch.as_tensor(np.asarray(timesteps), dtype=torch.long)
    a_t = ac[idx]
    a_prev = torch.cat([ac[:1], ac[idx[:-1]]])
    return {"a_t": a_t, "a_prev": a_prev, "sqrt_one_minus_a_t": torch.sqrt((1.0 - a_t).double()).float()}
