"""The latent-diffusion texture backend: a :class:`~SynTumorLib.texture.base.TextureModel` on a model folder.

``sample(seed)`` draws nothing but a noise seed and fixes every choice in the record (the model
folder and its SHA-256, the scheduler and number of steps per size bin, the feather width);
``apply`` is deterministic: crop around the tumour → window → encode → denoise from seeded noise →
decode → paste back inside the feathered tumour only (see :mod:`.pipeline`, :mod:`.crops`).
On the CPU the same record reproduces the same HU bit-for-bit.

Example:
    >>> from SynTumorLib.texture.diffusion import from_folder
    >>> from_folder(None)
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: the diffusion texture needs a trained model folder (texture=PATH/TO/MODEL, made by `syntumor train diffusion`); without one use the default texture 'statistical'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data.intensity import unwindow, window
from ...runtime.devices import resolve_device
from ...runtime.model_folder import load_into, load_model_folder
from ...utils.errors import InputError, ModelFolderError
from ...utils.seeding import child_seed
from ..base import TextureModel, check_record_model, checked_apply_inputs
from .autoencoder import TextureAutoencoder
from .config import validate_config
from .crops import CropGrid, paste_back
from .diffusion_model import build_unet, model_names, size_bins, size_class
from .pipeline import TumourTexturePipeline
from .schedulers import SCHEDULERS
from .train_diffusion import KIND

HINT = ("the diffusion texture needs a trained model folder (texture=PATH/TO/MODEL, made by `syntumor train "
        "diffusion`); without one use the default texture 'statistical'")


def load_pipeline(folder: str | os.PathLike, device: str = "cpu") -> tuple[TumourTexturePipeline, dict, str]:
    """(pipeline with EMA weights, config, model SHA-256) from a texture model folder."""
    mf = load_model_folder(folder, KIND)
    arch = mf.architecture
    try:
        cfg = validate_config(mf.config)
        ae = TextureAutoencoder(arch["autoencoder"])
        unets = {n: build_unet(arch["diffusion"], int(arch["latent_channels"])) for n in model_names(arch["diffusion"])}
        if "scale_factor" not in cfg:
            raise KeyError("scale_factor")
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFolderError(f"{mf.folder}/model_card.json: does not describe a texture model ({e})") from None
    load_into(ae, mf.tensors, "autoencoder", mf.folder)
    for n, net in unets.items():
        load_into(net, mf.tensors, f"unet.{n}", mf.folder)
    sha = mf.sha256
    dev = resolve_device(device)
    pipe = TumourTexturePipeline(ae.to(dev), {n: u.to(dev) for n, u in unets.items()}, cfg["diffusion"],
                                 float(cfg["scale_factor"]))
    return pipe, cfg, sha


class DiffusionTexture(TextureModel):
    """Tumour texture from a trained latent-diffusion model folder.

    Args:
        folder: the texture model folder (``syntumor train diffusion --out``).
        scheduler, steps: override the per-size-bin sampling of the model (``ddpm``/``ddim``, 1..T).
        feather_mm: blend width at the tumour edge (default: the model's ``crop.feather_mm``).
        device: ``cpu`` (bit-identical replay) or ``cuda``.
    """

    name = "diffusion"

    def __init__(self, folder: str | os.PathLike, scheduler: str | None = None, steps: int | None = None,
                 feather_mm: float | None = None, device: str = "cpu", **_ignored: Any) -> None:
        self.folder = Path(folder).resolve()
        self.pipeline, self.cfg, self.sha256 = load_pipeline(self.folder, device)
        if scheduler is not None and str(scheduler).lower() not in SCHEDULERS:
            raise InputError(f"texture scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
        self.scheduler, self.steps, self.device = scheduler, (int(steps) if steps else None), device
        self.feather_mm = float(feather_mm if feather_mm is not None else self.cfg["crop"].get("feather_mm", 2.0))
        if self.feather_mm < 0:
            raise InputError(f"feather_mm must be ≥ 0, got {feather_mm}")

    def config(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "sha256": self.sha256, "scheduler": self.scheduler, "steps": self.steps,
                "feather_mm": self.feather_mm, "device": self.device}

    def margin_mm(self) -> float:
        return self.feather_mm / 2.0

    def sampling(self) -> list[dict[str, Any]]:
        """The (scheduler, steps) actually used for each size bin."""
        out = []
        for b in range(self.pipeline.n_bins):
            s, n = self.pipeline.sampling_for(b)
            out.append({"scheduler": self.scheduler or s, "steps": self.steps or n})
        return out

    def sample(self, seed: int) -> dict[str, Any]:
        return {"noise_seed": child_seed(int(seed), "diffusion-noise"), "model_folder": str(self.folder),
                "model_sha256": self.sha256, "sampling": self.sampling(),
                "size_thresholds_mm": size_bins(self.cfg["diffusion"]), "feather_mm": self.feather_mm,
                "margin_mm": self.margin_mm()}

    def apply(self, image_hu, tumour_mask, organ_mask, spacing_kji: Sequence[float],
              params: dict[str, Any]) -> np.ndarray:
        img, mask = checked_apply_inputs(image_hu, tumour_mask, organ_mask)
        if not mask.any():
            return img.copy()
        check_record_model(params, self.sha256, self.folder)
        sp = np.asarray(spacing_kji, float)
        crop = self.cfg["crop"]
        size, csp = int(crop["size"]), float(crop["spacing_mm"])
        idx = np.argwhere(mask)
        extent = (idx.max(0) - idx.min(0) + 1) * sp + float(params.get("feather_mm", self.feather_mm))
        if np.any(extent > size * csp):
            raise InputError(f"tumour extent {np.round(extent, 1).tolist()} mm exceeds the texture model's crop "
                             f"({size} × {csp} mm = {size * csp:g} mm); use a model with a larger crop")
        grid = CropGrid.around(mask, sp, size, csp)
        x = window(grid.sample(img))
        m = grid.sample(mask.astype(np.float32), order=1) > 0.25  # keeps tumours thinner than one crop voxel
        if not m.any():
            m[tuple(np.round(grid.to_crop(idx.mean(0)[:, None])[:, 0]).astype(int).clip(0, size - 1))] = True
        vol = float(mask.sum() * np.prod(sp))
        b = size_class(vol, [float(t) for t in params.get("size_thresholds_mm", size_bins(self.cfg["diffusion"]))])
        s = params.get("sampling", self.sampling())[b]
        gen = torch.Generator().manual_seed(int(params["noise_seed"]))
        syn = self.pipeline(torch.from_numpy(x)[None, None], torch.from_numpy(m)[None, None].float(), b,
                            scheduler=s["scheduler"], steps=int(s["steps"]), generator=gen)
        syn_hu = unwindow(syn[0, 0].cpu().numpy())
        out, _ = paste_back(img, mask, syn_hu, grid, float(params.get("feather_mm", self.feather_mm)))
        return out


def from_folder(folder: str | os.PathLike | None, **params: Any) -> DiffusionTexture:
    """What :func:`SynTumorLib.texture.get_texture` calls for a model folder."""
    if folder is None or str(folder) in ("", "diffusion"):
        raise InputError(HINT)
    if not Path(folder).is_dir():
        raise InputError(f"{folder}: texture model folder not found. {HINT}")
    return DiffusionTexture(folder, **params)


load_texture_model = from_folder
