"""DiffTumor's released models as a SynTumor texture: :class:`DiffTumorTexture` on a ``difftumor-texture`` folder.

Selected by :func:`~SynTumorLib.texture.registry.get_texture` whenever the texture is a folder whose
card kind is ``difftumor-texture`` (made by ``syntumor models import difftumor``), so ``insert
--texture DIR``, ``synthesize-dataset``, the online MONAI transform, study specs and the Insertion
panel all reach it the same way.

One tumour: the 1 mm RAS crop around it (:mod:`.crop`, from any grid) → HU window [−175, 250] →
[0, 1] → :class:`~.synthesizer.DiffTumorSynthesizer` (early or non-early recipe) → HU → back onto
the CT grid. Two modes:

* ``"syntumor"`` (default): SynTumor's placement and shapes, and only the feathered tumour is
  pasted (the smoothstep ramp of :func:`~SynTumorLib.texture.diffusion.crops.feather_weights`):
  every voxel farther than ``feather_mm / 2`` from the tumour keeps its input value bit for bit.
* ``"reference"``: the crop is handled as DiffTumor does for the folder's organ: the whole
  synthesised crop replaces the CT inside the crop cube (for the pancreas the decoded crop itself,
  for liver/kidney its blurred-mask blend, clamped to the window). The region changed is the whole
  cube, so :meth:`DiffTumorTexture.margin_mm` is the cube's half-diagonal.

Early vs non-early: the tumour's size class (its equivalent radius binned with
:class:`~SynTumorLib.metrics.size_breakdown.SizeBins`, the ``syntumor`` cuts by default) picks the
recipe from the card's ``size_class_recipe`` (early for tiny and small, as the study does);
``size_class_recipe=`` overrides it and ``recipe="early"|"noearly"`` forces one.

Replay: :meth:`DiffTumorTexture.sample` records the noise seed, the mode, the recipe rule, the
model's SHA-256 and every setting; :meth:`~DiffTumorTexture.apply` is a pure function of them and
the region, so on the CPU a record reproduces the same HU bit for bit (noise comes from a seeded
CPU generator, never the global RNG).

Example (tiny random networks on a 16 mm crop; the released models use 96 mm):
    >>> import tempfile
    >>> from SynTumorLib.texture import get_texture
    >>> from SynTumorLib.texture.difftumor.folder import write_difftumor_texture
    >>> from SynTumorLib.texture.difftumor.unet3d import Unet3D
    >>> from SynTumorLib.texture.difftumor.vqgan3d import VQGAN3D
    >>> _ = torch.manual_seed(0)
    >>> vq, un = dict(n_hiddens=4, n_codes=16, num_groups=2), dict(dim=8, dim_mults=[1, 2], attn_heads=2, attn_dim_head=4)
    >>> d = write_difftumor_texture(tempfile.mkdtemp(), organ="pancreas", vqgan=VQGAN3D(**vq).state_dict(),
    ...     vqgan_args=vq, denoisers={"early": (Unet3D(**un).state_dict(), un, None)}, crop_size=16)
    >>> tex = get_texture(d)
    >>> img = np.full((12, 20, 20), 60.0, np.float32)
    >>> m = np.zeros(img.shape, bool); m[5:7, 8:12, 8:12] = True
    >>> out, params = tex.synthesize(img, m, ~m, (2.0, 1.0, 1.0), seed=3)
    >>> tex.name, params["mode"], bool(out[0, 0, 0] == 60.0), bool((out[m] != 60.0).all())
    ('difftumor', 'syntumor', True, True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data.intensity import HU_WINDOW, window
from ...data.labels import equivalent_radius_mm
from ...metrics.size_breakdown import SizeBins
from ...utils.errors import InputError
from ...utils.seeding import child_seed
from ..base import TextureModel, check_record_model, checked_apply_inputs
from .crop import RasCrop, axis_aligned
from .folder import load_difftumor_texture
from .synthesizer import RECIPES

MODES = ("syntumor", "reference")


class DiffTumorTexture(TextureModel):
    """Tumour texture from DiffTumor's released models (a ``difftumor-texture`` model folder).

    Args:
        folder: the model folder (``syntumor models import difftumor --out``).
        mode: ``"syntumor"`` (paste inside the feathered tumour only; default) or ``"reference"``
            (the whole crop replaced, as DiffTumor does).
        recipe: ``"auto"`` (by size class), ``"early"`` or ``"noearly"``.
        size_class_recipe: ``{class: recipe}`` overriding the card's choice (partial is fine).
        size_bins: how a tumour's size class is found (a :class:`SizeBins` source; default the card's).
        feather_mm: blend width at the tumour edge in ``syntumor`` mode.
        mask_mode: latent mask ``"nearest"`` (DiffTumor) or ``"maxpool"`` (keeps thin tumours).
        ddim_steps: non-early DDIM steps (50 released).
        device: ``cpu`` (bit-identical replay) or ``cuda``/``auto``.
        sha256: the model identity a record expects (refused when the folder holds another model).
    """

    name = "difftumor"
    #: :func:`~SynTumorLib.insertion.insert` passes ``kji_to_ras`` to :meth:`apply` (the crop is in RAS)
    wants_orientation = True

    def __init__(self, folder: str | os.PathLike, mode: str = "syntumor", recipe: str = "auto",
                 size_class_recipe: dict[str, str] | None = None, size_bins: Any = None,
                 feather_mm: float = 2.0, mask_mode: str | None = None, ddim_steps: int | None = None,
                 device: str = "cpu", sha256: str | None = None, **_ignored: Any) -> None:
        self.folder = Path(folder).resolve()
        self.synth, self.card = load_difftumor_texture(self.folder, device)
        self.sha256 = self.card["model_sha256"]
        if sha256 is not None:
            check_record_model({"model_sha256": sha256}, self.sha256, self.folder)
        cfg = self.card["config"]
        self.organ = cfg["organ"]
        self.recipes = [r for r in RECIPES if r in cfg["recipes"]]
        if mode not in MODES:
            raise InputError(f"DiffTumor texture mode must be one of {', '.join(MODES)}, got {mode!r}")
        if recipe != "auto" and recipe not in self.recipes:
            raise InputError(f"recipe {recipe!r} is not in {self.folder} (it holds {', '.join(self.recipes)}; "
                             "or use 'auto')")
        choice = {**cfg["size_class_recipe"], **(size_class_recipe or {})}
        bad = {c: r for c, r in choice.items() if r not in self.recipes}
        if bad:
            raise InputError(f"size_class_recipe {bad}: {self.folder} holds only {', '.join(self.recipes)}")
        if not feather_mm >= 0 or not math.isfinite(feather_mm):
            raise InputError(f"feather_mm must be a finite number ≥ 0, got {feather_mm}")
        self.mode, self.recipe, self.size_class_recipe = mode, recipe, choice
        self.bins = SizeBins.resolve(size_bins if size_bins is not None else cfg.get("size_bins", "syntumor"))
        missing = [n for n in self.bins.names if n not in choice] if recipe == "auto" else []
        if missing:
            raise InputError(f"size_class_recipe has no recipe for size class(es) {missing}")
        self.feather_mm = float(feather_mm)
        self.mask_mode = mask_mode or cfg.get("mask_mode", "nearest")
        self.ddim_steps = int(ddim_steps or cfg["recipes"].get("noearly", {}).get("steps", 50))
        self.crop_size = int(cfg["crop"]["size"])
        self.crop_spacing = float(cfg["crop"].get("spacing_mm", 1.0))
        self.device = str(device)

    def config(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "sha256": self.sha256, "mode": self.mode, "recipe": self.recipe,
                "size_class_recipe": dict(self.size_class_recipe), "size_bins": self.bins.to_dict(),
                "feather_mm": self.feather_mm, "mask_mode": self.mask_mode, "ddim_steps": self.ddim_steps,
                "device": self.device}

    def _half_diagonal(self) -> float:
        return self.crop_size * self.crop_spacing * math.sqrt(3.0) / 2.0

    def margin_mm(self) -> float:
        return self._half_diagonal() if self.mode == "reference" else self.feather_mm / 2.0

    def context_mm(self) -> float:
        # The denoiser is conditioned on the whole 96 mm crop, so the region handed to apply() must
        # hold real CT out to the crop's corners in both modes (with less, the crop's resampling
        # repeats the region's edge voxels). Reference mode gets that reach through margin_mm (it
        # rewrites the whole cube); syntumor mode only reads it and pastes inside the feather.
        return 0.0 if self.mode == "reference" else self._half_diagonal()

    def sample(self, seed: int) -> dict[str, Any]:
        return {"noise_seed": child_seed(int(seed), "difftumor-noise"), "mode": self.mode, "recipe": self.recipe,
                "size_class_recipe": dict(self.size_class_recipe), "size_bins": self.bins.to_dict(),
                "model_folder": str(self.folder), "model_sha256": self.sha256, "organ": self.organ,
                "feather_mm": self.feather_mm, "mask_mode": self.mask_mode, "ddim_steps": self.ddim_steps,
                "crop_size": self.crop_size, "rng": "generator", "margin_mm": self.margin_mm()}

    def recipe_for(self, tumour_mask: np.ndarray, spacing_kji: Sequence[float], params: dict[str, Any]) -> tuple[str, str]:
        """(size class, recipe) of one tumour under ``params`` (the record's rule)."""
        vol = float(np.count_nonzero(tumour_mask) * np.prod(np.asarray(spacing_kji, float)))
        cls = SizeBins.resolve(params.get("size_bins", self.bins.to_dict())).classify(float(equivalent_radius_mm(vol)))
        fixed = params.get("recipe", self.recipe)
        if fixed != "auto":
            return cls, fixed
        rule = params.get("size_class_recipe", self.size_class_recipe)
        if cls not in rule:
            raise InputError(f"size_class_recipe has no recipe for size class {cls!r}")
        return cls, rule[cls]

    def tumour_facts(self, tumour_mask, spacing_kji: Sequence[float], params: dict[str, Any]) -> dict:
        """The size class and recipe that ran (written into the insertion record beside the params)."""
        cls, recipe = self.recipe_for(tumour_mask, spacing_kji, params)
        return {"size_class": cls, "recipe": recipe, "mode": params.get("mode", self.mode)}

    def apply(self, image_hu, tumour_mask, organ_mask, spacing_kji: Sequence[float], params: dict[str, Any],
              kji_to_ras: np.ndarray | None = None) -> np.ndarray:
        """Render one tumour (see the module doc); ``kji_to_ras`` is the grid's index→RAS 3×3
        (columns k, j, i; default: an unrotated grid with k → S, j → A, i → R)."""
        img, mask = checked_apply_inputs(image_hu, tumour_mask, organ_mask)
        if not mask.any():
            return img.copy()
        check_record_model(params, self.sha256, self.folder)
        mode = params.get("mode", self.mode)
        if mode not in MODES:
            raise InputError(f"DiffTumor texture mode must be one of {', '.join(MODES)}, got {mode!r}")
        L = axis_aligned(spacing_kji) if kji_to_ras is None else np.asarray(kji_to_ras, np.float64)
        grid = RasCrop.around(mask, L, int(params.get("crop_size", self.crop_size)), self.crop_spacing)
        idx = np.argwhere(mask)
        extent = np.ptp(grid.to_crop(idx.T.astype(np.float64)), axis=1) + 1
        if np.any(extent > grid.size):
            raise InputError(f"tumour extent {np.round(extent * grid.spacing_mm, 1).tolist()} mm exceeds DiffTumor's "
                             f"{grid.size} mm crop")
        crop = window(grid.sample(img))
        m = grid.sample(mask.astype(np.float32)) >= 0.5
        if not m.any():  # a tumour thinner than a crop voxel: keep its centre
            c = np.round(grid.to_crop(idx.mean(0)[:, None])[:, 0]).astype(int).clip(0, grid.size - 1)
            m[tuple(c)] = True
        _, recipe = self.recipe_for(mask, spacing_kji, params)
        dev = self.synth.device
        out = self.synth.synthesize(torch.from_numpy(crop)[None, None].to(dev),
                                    torch.from_numpy(m.astype(np.float32))[None, None].to(dev), recipe,
                                    seed=int(params["noise_seed"]), organ=str(params.get("organ", self.organ)),
                                    mask_mode=str(params.get("mask_mode", self.mask_mode)),
                                    ddim_steps=int(params.get("ddim_steps", self.ddim_steps)))
        # linear, not clipped: DiffTumor leaves the pancreas crop unclamped, so values past the window stay
        lo, hi = HU_WINDOW
        syn_hu = (out["volume"][0, 0].float().cpu().numpy() * np.float32(hi - lo) + np.float32(lo)).astype(np.float32)
        result = img.copy()
        if mode == "reference":
            inside = grid.inside(img.shape)
            pts = np.argwhere(inside).T.astype(np.float64)
            result[inside] = grid.sample_back(syn_hu, pts)
            return result
        # the same smoothstep feather as SynTumor's own diffusion texture (imported here: that package pulls in MONAI)
        from ..diffusion.crops import feather_weights

        box, w = feather_weights(mask, spacing_kji, float(params.get("feather_mm", self.feather_mm)))
        sel = np.argwhere(w > 0)
        if sel.size == 0:
            return result
        src = (sel + np.array([s.start for s in box])).T
        ww = w[tuple(sel.T)]
        k, j, i = src
        result[k, j, i] = ww * grid.sample_back(syn_hu, src.astype(np.float64)) + (1.0 - ww) * img[k, j, i]
        return result


def from_folder(folder: str | os.PathLike, **params: Any) -> DiffTumorTexture:
    """What :func:`SynTumorLib.texture.get_texture` calls for a ``difftumor-texture`` folder."""
    return DiffTumorTexture(folder, **params)
