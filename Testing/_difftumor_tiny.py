"""Tiny random-weight DiffTumor texture folders for the backend, folder and CLI tests.

The networks are DiffTumor's architectures at toy widths (VQ-GAN 4 hidden channels, 16 codes;
Unet3D ``dim=8``, two levels), with the codebook spread out so that codes differ and the decoder's
output depends on the input. Crops are 16³ or 32³ at 1 mm instead of 96³.
"""

from __future__ import annotations

from pathlib import Path

import torch

from SynTumorLib.texture.difftumor.folder import write_difftumor_texture
from SynTumorLib.texture.difftumor.unet3d import Unet3D
from SynTumorLib.texture.difftumor.vqgan3d import VQGAN3D

VQ_ARGS = {"n_hiddens": 4, "n_codes": 16, "num_groups": 2}
UNET_ARGS = {"dim": 8, "dim_mults": [1, 2], "attn_heads": 2, "attn_dim_head": 4}


def tiny_networks(seed: int = 0) -> tuple[dict, dict, dict]:
    """State dicts (VQ-GAN, early Unet3D, non-early Unet3D) with random weights."""
    torch.manual_seed(seed)
    vq = VQGAN3D(**VQ_ARGS)
    with torch.no_grad():
        vq.codebook.embeddings.normal_()
    return vq.state_dict(), Unet3D(**UNET_ARGS).state_dict(), Unet3D(**UNET_ARGS).state_dict()


def tiny_texture_folder(out: Path, organ: str = "pancreas", crop_size: int = 32, recipes=("early", "noearly"),
                        seed: int = 0) -> Path:
    """A ``difftumor-texture`` folder holding tiny random networks (and fake source facts)."""
    vq, early, noearly = tiny_networks(seed)
    sd = {"early": early, "noearly": noearly}
    sources = [{"file": "AutoencoderModel.ckpt", "size": 1, "sha256": "0" * 64, "role": "autoencoder"}]
    return write_difftumor_texture(out, organ=organ, vqgan=vq, vqgan_args=VQ_ARGS,
                                   denoisers={r: (sd[r], UNET_ARGS, None) for r in recipes},
                                   sources=sources, crop_size=crop_size)


def released_files(root: Path, organ: str = "pancreas", recipes=("early", "noearly"), seed: int = 0,
                   early_vqgan_offset: float = 0.0) -> dict[str, Path]:
    """DiffTumor-layout source files with random weights at the released configs: a Lightning
    ``AutoencoderModel.ckpt`` (fake omegaconf, see ``_difftumor_fixtures``) and ``{step, model, ema,
    scaler}`` ``.pt`` files; ``early_vqgan_offset`` makes the early file's VQ-GAN copy differ."""
    from _difftumor_fixtures import lightning_checkpoint

    from SynTumorLib.texture.difftumor.schedule import schedule_buffers

    torch.manual_seed(seed)
    ae = VQGAN3D().state_dict()
    ae["codebook.embeddings"].normal_()
    root.mkdir(parents=True, exist_ok=True)
    paths = {"autoencoder": root / "AutoencoderModel.ckpt"}
    paths["autoencoder"].write_bytes(lightning_checkpoint(ae))
    for recipe in recipes:
        T = 4 if recipe == "early" else 200
        copy = dict(ae)
        if recipe == "early" and early_vqgan_offset:
            copy["post_vq_conv.conv.bias"] = copy["post_vq_conv.conv.bias"] + early_vqgan_offset
        entries = {**{f"denoise_fn.{k}": v for k, v in Unet3D().state_dict().items()},
                   **{f"vqgan.{k}": v for k, v in copy.items()}, **schedule_buffers(T)}
        paths[recipe] = root / f"{organ}_{recipe}.pt"
        torch.save({"step": 1000, "model": entries, "ema": dict(entries), "scaler": {"scale": 1.0}}, paths[recipe])
    return paths
