"""The latent-diffusion texture config as typed sections — the one place its keys, defaults and
ranges are written down.

A config is JSON data with the sections ``crop``, ``autoencoder``, ``discriminator``,
``autoencoder_training``, ``diffusion`` and ``diffusion_training`` (plus ``name`` and ``seed``; a
texture model folder's config also holds the trained ``scale_factor`` and ``latent_channels``).
:func:`validate_config` checks it the way every SynTumor config is checked
(:mod:`SynTumorLib.utils.config`): unknown keys are refused with the nearest valid one, and every
range (``steps ≥ 1``, ``lr > 0``, a crop size that is a multiple of 4 …) is checked before any
work starts. It returns the config with every default filled in, so the code reads ``cfg[key]``
and the defaults exist only here.

Example:
    >>> cfg = validate_config({"crop": {"size": 16, "spacing_mm": 2.0}, "autoencoder": {"channels": [4, 4],
    ...                        "latent_channels": 2}})
    >>> cfg["crop"]["crops_per_tumour"], cfg["diffusion"]["num_train_timesteps"], cfg["autoencoder"]["kind"]
    (8, 200, 'vqvae')
    >>> validate_config({"diffusion_training": {"step": 3}})
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: texture config 'diffusion_training': unknown key 'step' (did you mean 'steps'?); valid keys: amp, batch_size, checkpoint_every, ema_decay, log_every, loss_outside_weight, lr, sample_every, steps
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ...utils.config import (
    check_keys,
    require_bool,
    require_choice,
    require_int,
    require_number,
    typed_section,
)
from ...utils.errors import InputError

AUTOENCODER_KINDS = ("vqvae", "kl")
SIZE_CONDITIONING = ("class", "two_models", "none")
SCHEDULERS = ("ddpm", "ddim")
NOISE_SCHEDULES = ("cosine", "linear_beta", "scaled_linear_beta", "sigmoid_beta")
DOWNSAMPLING = 4  # the autoencoder's two stride-2 stages


def _section(name: str):
    def fields_check(self) -> None:
        for f in dataclasses.fields(self):
            rule = f.metadata.get("check")
            if rule is not None:
                object.__setattr__(self, f.name, rule(getattr(self, f.name), f"texture config: {name}.{f.name}"))

    return fields_check


def _int(lo: int | None = None, *, none: bool = False):
    return lambda v, w: require_int(v, w, min=lo, allow_none=none)


def _num(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
         none: bool = False):
    return lambda v, w: require_number(v, w, min=lo, max=hi, min_open=lo_open, max_open=hi_open, allow_none=none)


def _choice(options):
    return lambda v, w: require_choice(v, w, options)


def _ints(count: int | None = None):
    def check(v, w):
        if not isinstance(v, (list, tuple)) or (count is not None and len(v) != count) or not v:
            n = f"{count} " if count else ""
            raise InputError(f"{w} must be a list of {n}positive integers, got {v!r}")
        return [require_int(x, w, min=1) for x in v]

    return check


def _f(default, check=None, **kw):
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"check": check}, **kw)
    return field(default=default, metadata={"check": check}, **kw)


@dataclass(frozen=True)
class CropSection:
    """Crops around tumours.

    Args:
        size: crop edge in voxels (a multiple of 4, ≥ 8); the field of view is size × spacing_mm.
        spacing_mm: isotropic crop spacing in mm (> 0); any CT spacing is resampled to it.
        jitter_mm: largest random shift of a training crop's centre from the tumour, mm (≥ 0).
        crops_per_tumour: training crops drawn around each tumour (integer ≥ 1).
        context_fraction: extra pancreas-centred "context" crops for the autoencoder, as a fraction of
            the tumour crops, in [0, 1].
        feather_mm: width of the smoothstep ramp that blends the synthesized HU into the CT at the
            tumour boundary, mm (≥ 0).
    """

    size: int = _f(32, _int(8))
    spacing_mm: float = _f(2.0, _num(0, lo_open=True))
    jitter_mm: float = _f(0.0, _num(0))
    crops_per_tumour: int = _f(8, _int(1))
    context_fraction: float = _f(0.0, _num(0, 1))
    feather_mm: float = _f(2.0, _num(0))

    def __post_init__(self) -> None:
        _section("crop")(self)
        if self.size % DOWNSAMPLING:
            raise InputError(f"texture config: crop.size must be a multiple of {DOWNSAMPLING} (the autoencoder "
                             f"downsamples {DOWNSAMPLING}×), got {self.size}")


@dataclass(frozen=True)
class AutoencoderSection:
    """The first stage, the autoencoder (4× downsampling).

    Args:
        kind: ``vqvae`` (a VQ-GAN, the reference's) or ``kl`` (an ``AutoencoderKL``).
        channels: channels of the two levels (two integers ≥ 1).
        num_res_layers: residual layers per level (integer ≥ 1).
        latent_channels: channels of the latent (integer ≥ 1).
        num_embeddings: VQ codebook size (integer ≥ 1; vqvae only).
        commitment_cost: weight of the VQ commitment loss (≥ 0; vqvae only).
        ema_decay: EMA decay of the codebook updates, in [0, 1) (vqvae only).
        norm_num_groups: group-norm groups (integer ≥ 1; kl only); ``null`` = min(8, channels[0]).
    """

    kind: str = _f("vqvae", _choice(AUTOENCODER_KINDS))
    channels: list = _f([16, 32], _ints(2))
    num_res_layers: int = _f(1, _int(1))
    latent_channels: int = _f(4, _int(1))
    num_embeddings: int = _f(256, _int(1))
    commitment_cost: float = _f(0.25, _num(0))
    ema_decay: float = _f(0.99, _num(0, 1, hi_open=True))
    norm_num_groups: int | None = _f(None, _int(1, none=True))

    def __post_init__(self) -> None:
        _section("autoencoder")(self)


@dataclass(frozen=True)
class DiscriminatorSection:
    """The PatchGAN discriminator of the VQ-GAN.

    Args:
        channels: channels of its first layer (integer ≥ 1).
        num_layers_d: its downsampling layers (integer ≥ 1).
    """

    channels: int = _f(16, _int(1))
    num_layers_d: int = _f(2, _int(1))

    def __post_init__(self) -> None:
        _section("discriminator")(self)


@dataclass(frozen=True)
class AutoencoderTrainingSection:
    """Autoencoder training.

    Args:
        steps: training steps (integer ≥ 1).
        batch_size: crops per step and process (integer ≥ 1).
        lr: learning rate of the autoencoder (> 0).
        disc_lr: learning rate of the discriminator (> 0); ``null`` = ``lr``.
        adv_weight: weight of the least-squares adversarial loss (≥ 0).
        adv_start: step from which the adversarial loss is used (integer ≥ 0; a warm-up without it).
        kl_weight: weight of the KL term (≥ 0; kl only).
        perceptual_weight: weight of the perceptual loss (≥ 0; needs ``perceptual_weights``).
        perceptual_weights: path of a user-supplied ResNet-50 state dict for the perceptual loss, or
            ``null`` (no perceptual loss; nothing is downloaded).
        codebook_restart_every: restart dead VQ codes every this many steps (integer ≥ 0; 0 = never).
        codebook_restart_until: stop the restarts after this fraction of ``steps``, in [0, 1].
        log_every: steps between lines of ``loss_log.csv`` (integer ≥ 1).
        sample_every: steps between sample PNGs (integer ≥ 1).
        checkpoint_every: steps between checkpoints (integer ≥ 1).
        amp: float16 autocast + GradScaler on CUDA (true/false); the CPU always trains in float32.
    """

    steps: int = _f(600, _int(1))
    batch_size: int = _f(4, _int(1))
    lr: float = _f(0.001, _num(0, lo_open=True))
    disc_lr: float | None = _f(None, _num(0, lo_open=True, none=True))
    adv_weight: float = _f(0.01, _num(0))
    adv_start: int = _f(0, _int(0))
    kl_weight: float = _f(1e-6, _num(0))
    perceptual_weight: float = _f(0.0, _num(0))
    perceptual_weights: str | None = _f(None)
    codebook_restart_every: int = _f(0, _int(0))
    codebook_restart_until: float = _f(0.75, _num(0, 1))
    log_every: int = _f(25, _int(1))
    sample_every: int = _f(250, _int(1))
    checkpoint_every: int = _f(100, _int(1))
    amp: bool = _f(True, require_bool)

    def __post_init__(self) -> None:
        _section("autoencoder_training")(self)


def _sampling(v, w):
    if not isinstance(v, list) or not v:
        raise InputError(f"{w} must be a non-empty list of {{scheduler, steps}} (one per size bin), got {v!r}")
    out = []
    for n, s in enumerate(v):
        if not isinstance(s, dict):
            raise InputError(f"{w}[{n}] must be an object {{scheduler, steps}}, got {s!r}")
        check_keys(s, ("scheduler", "steps"), f"{w}[{n}]")
        out.append({"scheduler": require_choice(str(s.get("scheduler", "ddim")).lower(), f"{w}[{n}].scheduler",
                                                SCHEDULERS),
                    "steps": require_int(s.get("steps", 50), f"{w}[{n}].steps", min=1)})
    return out


def _thresholds(v, w):
    if not isinstance(v, list) or not v:
        raise InputError(f"{w} must be a non-empty list of increasing positive numbers, got {v!r}")
    th = [require_number(t, w, min=0, min_open=True) for t in v]
    if th != sorted(th):
        raise InputError(f"{w} must be increasing positive numbers, got {v}")
    return th


def _model_timesteps(v, w):
    if not isinstance(v, dict):
        raise InputError(f"{w} must map denoiser names (main, size0 …) to schedule lengths, got {v!r}")
    return {str(k): require_int(t, f"{w}.{k}", min=1) for k, t in v.items()}


@dataclass(frozen=True)
class DiffusionSection:
    """The latent denoiser(s).

    Args:
        channels: channels per level of the diffusion U-Net (integers ≥ 1, multiples of ``norm_num_groups``).
        attention_levels: one true/false per level: self-attention at that level; ``null`` = none.
        num_res_blocks: residual blocks per level (integer ≥ 1).
        norm_num_groups: group-norm groups (integer ≥ 1).
        num_head_channels: channels per attention head (integer ≥ 1).
        num_train_timesteps: length T of the training noise schedule (integer ≥ 1).
        schedule: the noise schedule: ``cosine`` (Nichol & Dhariwal), ``linear_beta``,
            ``scaled_linear_beta`` or ``sigmoid_beta``.
        size_conditioning: ``class`` (one denoiser with a learned size-class embedding), ``two_models``
            (one denoiser per size bin, as the reference) or ``none``.
        size_thresholds_mm: increasing equivalent diameters in mm (> 0) that cut tumours into size bins.
        model_timesteps: per denoiser (``main``, ``size0`` …) a schedule length that replaces
            ``num_train_timesteps`` (integers ≥ 1); ``{}`` = none.
        sampling: per size bin ``{"scheduler": "ddpm" | "ddim", "steps": N ≥ 1}``.
        latent_clip: bound of the predicted clean latent x̂₀ at each sampling step (> 0), set by training
            from the training latents; ``null`` = ±4.
    """

    channels: list = _f([32, 64], _ints())
    attention_levels: list | None = _f(None)
    num_res_blocks: int = _f(1, _int(1))
    norm_num_groups: int = _f(8, _int(1))
    num_head_channels: int = _f(8, _int(1))
    num_train_timesteps: int = _f(200, _int(1))
    schedule: str = _f("cosine", _choice(NOISE_SCHEDULES))
    size_conditioning: str = _f("class", _choice(SIZE_CONDITIONING))
    size_thresholds_mm: list = _f([20.0], _thresholds)
    model_timesteps: dict = _f({}, _model_timesteps)
    sampling: list = _f([{"scheduler": "ddim", "steps": 50}], _sampling)
    latent_clip: float | None = _f(None, _num(0, lo_open=True, none=True))

    def __post_init__(self) -> None:
        _section("diffusion")(self)
        att = self.attention_levels if self.attention_levels is not None else [False] * len(self.channels)
        if not isinstance(att, list) or len(att) != len(self.channels) or not all(isinstance(a, bool) for a in att):
            raise InputError(f"texture config: diffusion.attention_levels needs {len(self.channels)} true/false "
                             f"entries (one per channel level), got {self.attention_levels!r}")
        object.__setattr__(self, "attention_levels", list(att))
        if any(c % self.norm_num_groups for c in self.channels):
            raise InputError(f"texture config: diffusion channels {self.channels} must be multiples of "
                             f"norm_num_groups={self.norm_num_groups}")


@dataclass(frozen=True)
class DiffusionTrainingSection:
    """Denoiser training.

    Args:
        steps: training steps of each denoiser (integer ≥ 1).
        batch_size: crops per step and process (integer ≥ 1).
        lr: learning rate (> 0).
        ema_decay: decay of the EMA weights used for sampling, in [0, 1).
        loss_outside_weight: weight of the loss on latent voxels outside the tumour, in [0, 1]
            (1 = the reference's plain MSE; sampling uses only the prediction inside the tumour).
        log_every: steps between lines of ``loss_log.csv`` (integer ≥ 1).
        sample_every: steps between sample PNGs (integer ≥ 1).
        checkpoint_every: steps between checkpoints (integer ≥ 1).
        amp: float16 autocast + GradScaler on CUDA (true/false); the CPU always trains in float32.
    """

    steps: int = _f(1500, _int(1))
    batch_size: int = _f(8, _int(1))
    lr: float = _f(0.001, _num(0, lo_open=True))
    ema_decay: float = _f(0.999, _num(0, 1, hi_open=True))
    loss_outside_weight: float = _f(1.0, _num(0, 1))
    log_every: int = _f(25, _int(1))
    sample_every: int = _f(400, _int(1))
    checkpoint_every: int = _f(200, _int(1))
    amp: bool = _f(True, require_bool)

    def __post_init__(self) -> None:
        _section("diffusion_training")(self)


SECTIONS = {"crop": CropSection, "autoencoder": AutoencoderSection, "discriminator": DiscriminatorSection,
            "autoencoder_training": AutoencoderTrainingSection, "diffusion": DiffusionSection,
            "diffusion_training": DiffusionTrainingSection}
TOP_KEYS = ("name", "seed", *SECTIONS, "scale_factor", "latent_channels")


def section(name: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """One section, checked and with its defaults filled in (e.g. ``section("diffusion", cfg)``)."""
    return dataclasses.asdict(typed_section(SECTIONS[name], given, f"texture config '{name}'"))


def validate_config(cfg: dict[str, Any], where: str = "texture config") -> dict[str, Any]:
    """The whole config checked (see the module doc), every section complete."""
    if not isinstance(cfg, dict):
        raise InputError(f"{where}: a config must be a JSON object, got {type(cfg).__name__}")
    check_keys(cfg, TOP_KEYS, where)
    out: dict[str, Any] = {"name": str(cfg.get("name", "custom"))}
    if cfg.get("seed") is not None:
        out["seed"] = require_int(cfg["seed"], f"{where}: seed", min=0)
    for name in SECTIONS:
        out[name] = section(name, cfg.get(name))
    for key in ("scale_factor", "latent_channels"):
        if key in cfg:
            out[key] = require_number(cfg[key], f"{where}: {key}", min=0, min_open=True)
    if "latent_channels" in out:
        out["latent_channels"] = int(out["latent_channels"])
    return out
