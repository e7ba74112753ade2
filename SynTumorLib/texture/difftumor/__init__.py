"""DiffTumor's released texture models, re-implemented in plain PyTorch (no DiffTumor code).

DiffTumor (Chen et al., CVPR 2024) publishes a VQ-GAN autoencoder and per-organ "early" and
"non-early" latent-diffusion denoisers. This package loads those files safely and synthesises with
them exactly as DiffTumor does (``../shared/difftumor/SPEC.md`` has the facts):

* :mod:`.vqgan3d` — encoder, decoder and eval-only codebook (:class:`VQGAN3D`);
* :mod:`.unet3d`, :mod:`.unet_blocks` — the ``Unet3D`` ε-denoiser;
* :mod:`.schedule`, :mod:`.sampling` — the cosine tables and both recipes (DDPM T = 4 with x̂₀
  clamped; DDIM 50 of 200 ending at ᾱ₀), seeded-CPU or DiffTumor-order noise;
* :mod:`.synthesizer` — :class:`DiffTumorSynthesizer`, one crop end to end;
* :mod:`.loaders` — the ``.ckpt``/``.pt`` loaders (allowlisted unpickling, manifests, the
  VQ-GAN copy comparison); :mod:`.safe_unpickle`, :mod:`.manifests` — their machinery;
* :mod:`.folder` — the released files as one ``difftumor-texture`` model folder (import, verify, load);
* :mod:`.crop` — the 1 mm RAS crop from any CT grid and back; :mod:`.backend` —
  :class:`~.backend.DiffTumorTexture`, the texture backend ``get_texture`` picks for such a folder.

Licence: DiffTumor's code is CC BY-NC-ND 4.0 and none of it is here; the network designs are those
of TATS and video-diffusion-pytorch (MIT). Key names and tensor shapes are interoperability facts.
The weights carry their own terms (see :data:`LICENCE_NOTICE`).

Example:
    >>> from SynTumorLib.texture.difftumor import schedule_buffers
    >>> round(float(schedule_buffers(200)["alphas_cumprod"][0]), 7)
    0.999745
"""

from __future__ import annotations

from .backend import DiffTumorTexture
from .crop import RasCrop
from .folder import import_difftumor_texture, load_difftumor_texture, verify_difftumor_texture
from .licence import LICENCE_NOTICE
from .loaders import (
                      compare_vqgan_copies,
                      load_difftumor_autoencoder,
                      load_difftumor_denoiser,
                      unet_from_state_dict,
                      vqgan_from_state_dict,
)
from .sampling import Noise, ddim_sample, ddpm_sample, latent_mask
from .schedule import ddim_timesteps, schedule_buffers
from .synthesizer import DiffTumorSynthesizer
from .unet3d import Unet3D
from .vqgan3d import VQGAN3D

__all__ = ["DiffTumorSynthesizer", "DiffTumorTexture", "LICENCE_NOTICE", "Noise", "RasCrop", "Unet3D", "VQGAN3D",
           "compare_vqgan_copies", "ddim_sample", "ddim_timesteps", "ddpm_sample", "import_difftumor_texture",
           "latent_mask", "load_difftumor_autoencoder", "load_difftumor_denoiser", "load_difftumor_texture",
           "schedule_buffers", "unet_from_state_dict", "verify_difftumor_texture", "vqgan_from_state_dict"]
