"""``syntumor train diffusion DATASET --autoencoder DIR --out DIR`` — the latent denoiser(s).

The output folder is a complete texture model (autoencoder + denoisers): pass it as the texture
(``--texture DIR`` / ``get_texture(DIR)``).

    syntumor train diffusion phantom_ds --autoencoder models/ae-tiny --out models/tex-tiny
    syntumor train diffusion DATA --autoencoder AE --out TEX --config two_models.json
"""

from __future__ import annotations

import argparse

from ..common import PathRoles
from .autoencoder import add_common


def register(tsub) -> None:
    p = tsub.add_parser(
        "diffusion", help="train the latent-diffusion tumour texture on a trained autoencoder",
        description="Train the conditional latent diffusion model (MONAI DiffusionModelUNet on [x_t, z, y], cosine "
        "schedule, ε-prediction, EMA) on crops around real tumours. --config defaults to the autoencoder's "
        "config; only its 'diffusion' and 'diffusion_training' sections are taken from a given config.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common(p)
    p.add_argument("--autoencoder", required=True, help="autoencoder model folder (syntumor train autoencoder)")
    p.set_defaults(func=run, paths=PathRoles(outputs={"out": "dir"}, inputs=("dataset", "autoencoder", "config")))


def run(args) -> int:
    from ...texture.diffusion.train_diffusion import train_diffusion

    folder = train_diffusion(args.dataset, args.autoencoder, args.out, args.config, steps=args.steps,
                             resume=args.resume, device=args.device, seed=args.seed)
    print(f"texture model folder: {folder}  (use it as the texture: --texture {folder})")
    return 0
