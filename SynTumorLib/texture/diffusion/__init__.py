"""Latent-diffusion tumour texture — the DiffTumor recipe of the paper (§2.1, Fig. 1a).

Layers (diffusers' models / schedulers / pipeline split):

* :mod:`.autoencoder` — VQ-GAN (MONAI ``VQVAE`` + ``PatchDiscriminator``) or ``AutoencoderKL``;
* :mod:`.diffusion_model` — the conditional latent denoiser (MONAI ``DiffusionModelUNet``) + EMA;
* :mod:`.schedulers` — DDPM / DDIM samplers over MONAI schedulers, any number of steps;
* :mod:`.pipeline` — the whole recipe in one ``__call__``;
* :mod:`.crops` — crops around a tumour and the feathered paste-back;
* :mod:`.config` — the config's typed sections (keys, defaults, ranges); :mod:`.configs` — ``tiny``/``default``;
* :mod:`.train_autoencoder`, :mod:`.train_diffusion` — training on :mod:`SynTumorLib.runtime` (DDP, AMP,
  resumable), written as model folders of kinds ``texture-autoencoder`` / ``texture-denoiser``;
* :mod:`.backend` — the ``TextureModel``.

torch and MONAI are imported only when this package is imported (``SynTumorLib.texture`` imports it
lazily, when a model folder is given).

Example:
    >>> from SynTumorLib.texture.diffusion import load_config
    >>> load_config("tiny")["crop"]["size"]
    32
"""

from .backend import DiffusionTexture, from_folder, load_pipeline, load_texture_model
from .configs import load_config
from .train_autoencoder import load_autoencoder, train_autoencoder
from .train_diffusion import train_diffusion

__all__ = ["DiffusionTexture", "from_folder", "load_texture_model", "load_pipeline", "load_config",
           "train_autoencoder", "load_autoencoder", "train_diffusion"]
