"""Tumour texture: the :class:`TextureModel` interface, the training-free statistical model, fitting.

Backends are resolved by :func:`get_texture` (``"statistical"``, a fitted JSON, a diffusion model
folder). See :mod:`SynTumorLib.texture.base` for the contract, :mod:`.registry` for the lookup.
"""

from .base import TextureModel
from .registry import get_texture, register_texture

__all__ = ["TextureModel", "get_texture", "register_texture"]
