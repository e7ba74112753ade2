"""DiffTumor's two sampling recipes (SPEC §4), every quirk kept, on any device, fp32.

* **early** — DDPM over the T = 4 model: ``x₃ ~ N(0, I)``; per step ``x̂₀`` is *clamped* to [−1, 1],
  the posterior mean ``c1·x̂₀ + c2·x_t`` gets ``exp(½·logσ²)·z`` added for t > 0.
* **non-early** — DDIM, S = 50 uniform steps over the T = 200 model, η = 0, *no clamp*; the last
  step goes to ``ᾱ[0]`` (not 1); the chain's final ``x`` is returned, not ``x̂₀``.

Noise (:class:`Noise`): the project default draws every normal from one seeded **CPU**
``torch.Generator`` and moves it to the model's device, so a synthesis replays bit-identically from
its seed and does not depend on the device's RNG. ``Noise.reference()`` draws from the device's
global RNG instead (``torch.randn(..., device=d)``), which is DiffTumor's own stream. Both modes
make DiffTumor's draws in DiffTumor's order — 1 + T for DDPM (the t = 0 draw is made and unused),
1 + S for DDIM (each multiplied by σ = 0) — so on the CPU the seeded generator reproduces the
reference after ``torch.manual_seed(seed)`` exactly.

Example:
    >>> import torch
    >>> from SynTumorLib.texture.difftumor.schedule import schedule_buffers
    >>> net = lambda x, t, cond: torch.zeros_like(x)
    >>> x = ddpm_sample(net, torch.zeros(1, 9, 2, 2, 2), schedule_buffers(4), Noise.seeded(0), channels=8)
    >>> tuple(x.shape), bool(x.abs().max() <= 1)
    ((1, 8, 2, 2, 2), True)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .schedule import DDIM_STEPS, ddim_coefficients, ddim_timesteps

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
MASK_MODES = ("nearest", "maxpool")


class Noise:
    """Where the normals come from: a seeded CPU generator (default) or the device's global RNG."""

    def __init__(self, generator: torch.Generator | None):
        if generator is not None and generator.device.type != "cpu":
            raise ValueError("Noise: the replayable mode needs a CPU torch.Generator (draws are moved to the device)")
        self.generator = generator

    @classmethod
    def seeded(cls, seed: int) -> Noise:
        """Draws from ``torch.Generator("cpu").manual_seed(seed)`` — bit-replayable on any device."""
        return cls(torch.Generator().manual_seed(int(seed)))

    @classmethod
    def reference(cls) -> Noise:
        """Draws from the model device's global RNG, as DiffTumor does (seed it with ``torch.manual_seed``)."""
        return cls(None)

    @property
    def mode(self) -> str:
        return "reference" if self.generator is None else "generator"

    def randn(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        if self.generator is None:
            return torch.randn(shape, device=device)
        return torch.randn(shape, generator=self.generator).to(device)


def normalise_latent(z: torch.Tensor, e_min: torch.Tensor, e_max: torch.Tensor) -> torch.Tensor:
    """Continuous latent → about [−1, 1] with the codebook's global min/max: ``2(z − e_min)/(e_max − e_min) − 1``."""
    return ((z - e_min) / (e_max - e_min)) * 2.0 - 1.0


def denormalise_latent(x: torch.Tensor, e_min: torch.Tensor, e_max: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalise_latent`: ``(x + 1)/2·(e_max − e_min) + e_min``."""
    return (((x + 1.0) / 2.0) * (e_max - e_min)) + e_min


def latent_mask(mask_pm1: torch.Tensor, size: tuple[int, ...], mode: str = "nearest") -> torch.Tensor:
    """The ±1 tumour mask (B, 1, D, H, W) brought to the latent grid ``size``.

    ``"nearest"`` is DiffTumor's ``F.interpolate`` default: latent voxel i samples image voxel
    ``⌊i·D/d⌋`` (4i for a 96 → 24 latent), so a tumour narrower than 4 voxels can vanish from the
    condition. ``"maxpool"`` (the project's option) marks a latent voxel as tumour when any voxel of
    its block is tumour, so no tumour is ever lost.
    """
    if mode == "nearest":
        return F.interpolate(mask_pm1, size=tuple(size))
    if mode == "maxpool":
        factor = [s // d for s, d in zip(mask_pm1.shape[-3:], size, strict=True)]
        if any(f < 1 or f * d != s for f, d, s in zip(factor, size, mask_pm1.shape[-3:], strict=True)):
            raise ValueError(f"maxpool latent mask: image size {tuple(mask_pm1.shape[-3:])} is not a multiple "
                             f"of the latent size {tuple(size)}")
        return F.max_pool3d(mask_pm1, kernel_size=factor)
    raise ValueError(f"unknown latent mask mode {mode!r}; choose one of {', '.join(MASK_MODES)}")


def _scalar(buf: torch.Tensor, t: int, like: torch.Tensor) -> torch.Tensor:
    # a (1, 1, 1, 1, 1) float32 tensor, as the reference's extract() gives: same rounding as its ops
    return buf[t].to(device=like.device, dtype=torch.float32).reshape((1,) * like.dim())


@torch.no_grad()
def ddpm_sample(net: Denoiser, cond: torch.Tensor, buffers: dict[str, torch.Tensor], noise: Noise,
                channels: int = 8, progress: Callable[[float, str], None] | None = None) -> torch.Tensor:
    """The early recipe: ancestral DDPM over all T steps of ``buffers``, x̂₀ clamped to [−1, 1].

    Args:
        net: the denoiser ``net(x_t, t, cond) -> ε̂``.
        cond: (B, 9, d, h, w) condition; the sample has the same batch and latent size.
        buffers: the 12 schedule buffers (from the checkpoint, or :func:`schedule_buffers`).
        noise: the normal source (:class:`Noise`).
        channels: latent channels (8).
    """
    T = int(buffers["betas"].shape[0])
    b, device = cond.shape[0], cond.device
    x = noise.randn((b, channels, *cond.shape[2:]), device)
    for t in reversed(range(T)):
        ts = torch.full((b,), t, device=device, dtype=torch.long)
        eps = net(x, ts, cond)
        x0 = _scalar(buffers["sqrt_recip_alphas_cumprod"], t, x) * x \
            - _scalar(buffers["sqrt_recipm1_alphas_cumprod"], t, x) * eps
        x0 = x0.clamp(-1.0, 1.0)
        mean = _scalar(buffers["posterior_mean_coef1"], t, x) * x0 + _scalar(buffers["posterior_mean_coef2"], t, x) * x
        z = noise.randn(tuple(x.shape), device)  # drawn at t = 0 too (unused), to keep DiffTumor's stream
        if t > 0:
            mean = mean + (0.5 * _scalar(buffers["posterior_log_variance_clipped"], t, x)).exp() * z
        x = mean
        if progress is not None:
            progress((T - t) / T, f"DDPM step {T - t}/{T}")
    return x


@torch.no_grad()
def ddim_sample(net: Denoiser, cond: torch.Tensor, alphas_cumprod: torch.Tensor, noise: Noise,
                steps: int = DDIM_STEPS, channels: int = 8,
                progress: Callable[[float, str], None] | None = None) -> torch.Tensor:
    """The non-early recipe: deterministic DDIM (η = 0) over ``steps`` uniform model steps, no clamp.

    Args:
        alphas_cumprod: the model's ᾱ buffer (T,), from the checkpoint.
        steps: S (50 released); visited model steps are :func:`ddim_timesteps` (S, T).
    """
    T = int(alphas_cumprod.shape[0])
    tau = ddim_timesteps(steps, T)
    coef = ddim_coefficients(alphas_cumprod, tau)
    b, device = cond.shape[0], cond.device
    x = noise.randn((b, channels, *cond.shape[2:]), device)
    shape1 = (1,) * x.dim()
    for i, k in enumerate(reversed(range(len(tau)))):
        ts = torch.full((b,), int(tau[k]), device=device, dtype=torch.long)
        eps = net(x, ts, cond)
        a_t = coef["a_t"][k].reshape(shape1).to(device)
        a_prev = coef["a_prev"][k].reshape(shape1).to(device)
        s1m = coef["sqrt_one_minus_a_t"][k].reshape(shape1).to(device)
        x0 = (x - s1m * eps) / a_t.sqrt()
        x = a_prev.sqrt() * x0 + (1.0 - a_prev).sqrt() * eps
        noise.randn(tuple(x.shape), device)  # σ = 0: the reference draws and multiplies by 0
        if progress is not None:
            progress((i + 1) / len(tau), f"DDIM step {i + 1}/{len(tau)}")
    return x
