"""``syntumor train autoencoder DATASET --out DIR`` — the VQ-GAN (or KL) first stage of the texture model.

    syntumor train autoencoder phantom_ds --out models/ae-tiny --config tiny
    torchrun --nproc_per_node 2 -m SynTumorLib train autoencoder DATA --out models/ae --config default
"""

from __future__ import annotations

import argparse

from ...runtime.devices import DEVICE_HELP
from ..common import PathRoles


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET", help="labelled dataset folder with tumours (label 2): MSD Task07, "
                   "a phantom cohort, or any layout open_dataset reads")
    p.add_argument("--out", required=True, help="output model folder (also holds checkpoint.pt, loss_log.csv, "
                   "samples/)")
    p.add_argument("--config", help="tiny | default | a JSON file (merged over its 'base', default tiny)")
    p.add_argument("--steps", type=int, help="training steps (overrides the config)")
    p.add_argument("--seed", type=int, help="random seed (default: the config's)")
    p.add_argument("--device", default="auto", help="training device: " + DEVICE_HELP)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")


def register(tsub) -> None:
    p = tsub.add_parser(
        "autoencoder", help="train the texture autoencoder (VQ-GAN) on crops around real tumours",
        description="Train the first stage of the latent-diffusion tumour texture: a 3-D VQ-GAN (MONAI VQVAE, "
        "L1 + commitment + PatchGAN after a warm-up) or an AutoencoderKL, on windowed crops around tumours.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common(p)
    p.set_defaults(func=run, paths=PathRoles(outputs={"out": "dir"}, inputs=("dataset", "config")))


def run(args) -> int:
    from ...texture.diffusion.train_autoencoder import train_autoencoder

    folder = train_autoencoder(args.dataset, args.out, args.config or "tiny", steps=args.steps, resume=args.resume,
                               device=args.device, seed=args.seed)
    print(f"autoencoder model folder: {folder}")
    return 0
