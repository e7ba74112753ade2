"""The tumour-texture interface every backend implements (the registry that finds them: :mod:`.registry`).

A texture model turns "a CT region + a tumour mask" into "the same region with a tumour in it".
Randomness is split from work (TorchIO's random/deterministic pair) so that insertion records
replay bit-for-bit:

* :meth:`TextureModel.sample` draws every random parameter from a seed and returns a JSON-able dict
  (it must include everything :meth:`apply` needs, e.g. a ``"noise_seed"``);
* :meth:`TextureModel.apply` is deterministic: ``apply(region, mask, organ, spacing, params)`` →
  new HU for the whole region (float32, same shape). Voxels farther than ``params["margin_mm"]``
  from the mask must come back **unchanged** (the caller writes back only the changed voxels and
  documents the margin in the record).

Inputs given to ``apply`` are a region around one tumour (never the whole CT): ``image_hu``
float32 HU, ``tumour_mask`` bool (this tumour), ``organ_mask`` bool (organ voxels not covered by
any tumour), ``spacing_kji`` (mm per array axis). They must not be modified.

Backends are found by :func:`~SynTumorLib.texture.registry.get_texture`:

* ``"statistical"`` (default, no training) → :class:`~SynTumorLib.texture.statistical.StatisticalTexture`;
* a ``.json`` file written by ``syntumor texture fit`` → a fitted statistical model;
* a model **folder** → ``SynTumorLib.texture.diffusion.from_folder(folder, **params)`` (the latent
  diffusion backend; imported lazily, a clear error when it is not installed);
* a name added with :func:`register_texture`.

Example:
    >>> import numpy as np
    >>> from SynTumorLib.texture import get_texture
    >>> tex = get_texture("statistical")
    >>> img = np.full((20, 20, 20), 100.0, np.float32)
    >>> m = np.zeros(img.shape, bool); m[7:13, 7:13, 7:13] = True
    >>> out, params = tex.synthesize(img, m, ~m, (1.0, 1.0, 1.0), seed=0)
    >>> bool(out[10, 10, 10] < 90), bool(out[0, 0, 0] == 100.0)
    (True, True)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np


class TextureModel(ABC):
    """Base class of tumour-texture backends (see the module docstring for the contract)."""

    #: short backend name written into records (``"statistical"``, ``"diffusion"``, ...)
    name: str = "base"
    #: True for a backend that works in physical (RAS) space: the insertion then also passes
    #: ``kji_to_ras=`` (the grid's 3×3 index→RAS matrix, columns k, j, i) to :meth:`apply`
    wants_orientation: bool = False

    @abstractmethod
    def sample(self, seed: int) -> dict[str, Any]:
        """Draw the random parameters of one tumour (JSON-able; includes ``margin_mm``)."""

    @abstractmethod
    def apply(
        self,
        image_hu: np.ndarray,
        tumour_mask: np.ndarray,
        organ_mask: np.ndarray,
        spacing_kji: Sequence[float],
        params: dict[str, Any],
    ) -> np.ndarray:
        """Deterministically render the tumour; returns float32 HU of the region's shape."""

    def config(self) -> dict[str, Any]:
        """Constructor settings, so :func:`get_texture` can rebuild the model from a record."""
        return {}

    def tumour_facts(self, tumour_mask: np.ndarray, spacing_kji: Sequence[float], params: dict[str, Any]) -> dict:
        """What the record should also say about one rendered tumour (e.g. which model ran); ``{}``
        adds nothing. Informative only: replay never reads it."""
        return {}

    def margin_mm(self) -> float:
        """How far outside the tumour mask the model may change voxels (used to size regions)."""
        return 2.0

    def context_mm(self) -> float:
        """How much CT around the tumour's bounding box the model wants to see in ``apply``
        (the caller pads the region by this much, plus :meth:`margin_mm`)."""
        return 6.0

    def synthesize(self, image_hu, tumour_mask, organ_mask, spacing_kji, seed: int) -> tuple[np.ndarray, dict]:
        """``sample`` + ``apply`` in one call: returns (new HU float32, params)."""
        params = self.sample(int(seed))
        return self.apply(image_hu, tumour_mask, organ_mask, spacing_kji, params), params

    def describe(self) -> dict[str, Any]:
        """``{"name": ..., "config": ...}`` — what an insertion record stores about the texture."""
        return {"name": self.name, "config": self.config()}


def checked_apply_inputs(image_hu, tumour_mask, organ_mask) -> tuple[np.ndarray, np.ndarray]:
    """The float32 image and boolean tumour mask a model-based backend's ``apply`` works on, after
    checking that the three arrays share one shape (the one check every backend needs first)."""
    from ..utils.errors import InputError

    img = np.asarray(image_hu, dtype=np.float32)
    mask = np.asarray(tumour_mask, dtype=bool)
    if img.shape != mask.shape or np.shape(organ_mask) != mask.shape:
        raise InputError(f"texture: image {img.shape}, tumour {mask.shape} and organ {np.shape(organ_mask)} "
                         "shapes differ")
    return img, mask


def check_record_model(params: dict[str, Any], sha256: str, folder) -> None:
    """Refuse to replay a record made with another model folder (its ``model_sha256`` differs):
    the same seed through other weights would silently give another tumour."""
    from ..utils.errors import ModelFolderError

    if params.get("model_sha256", sha256) != sha256:
        raise ModelFolderError(f"{folder}: this record was made with another model "
                               f"(sha256 {str(params['model_sha256'])[:12]}…, folder has {sha256[:12]}…)")
