"""Find a texture backend: :func:`get_texture` by name, fitted-JSON path, model folder, record or instance.

* ``"statistical"`` (default, no training) → :class:`~SynTumorLib.texture.statistical.StatisticalTexture`;
* a ``.json`` file written by ``syntumor texture fit`` → a fitted statistical model;
* a model **folder** → chosen by its card's kind: ``difftumor-texture`` (imported with ``syntumor
  models import difftumor``) → ``SynTumorLib.texture.difftumor.backend.from_folder(folder, **params)``;
  any other → ``SynTumorLib.texture.diffusion.from_folder(folder, **params)`` (SynTumor's own latent
  diffusion); torch is imported only then, a clear error when it cannot be;
* a name added with :func:`register_texture`.

The interface itself lives in :mod:`.base`, which imports no backend: the backends import it, this
module imports them (no import cycle).

Example:
    >>> get_texture("statistical").name
    'statistical'
    >>> get_texture({"name": "statistical", "config": {}}).name
    'statistical'
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from ..runtime.model_folder import CARD
from ..utils.errors import InputError, ModelFolderError
from .base import TextureModel
from .statistical import StatisticalTexture

_REGISTRY: dict[str, Callable[..., TextureModel]] = {}


def register_texture(name: str, factory: Callable[..., TextureModel]) -> None:
    """Make ``get_texture(name, **params)`` call ``factory(**params)``."""
    _REGISTRY[name] = factory


def texture_names() -> tuple[str, ...]:
    """The registered backend names (what a texture may be called instead of a file or folder)."""
    return tuple(_REGISTRY)


def _statistical(**params) -> TextureModel:
    return StatisticalTexture(**params)


def _diffusion(folder=None, **params) -> TextureModel:
    # "diffusion" alone (no model folder) reaches from_folder(None), whose error explains how to
    # train a model and points to the statistical default.
    from .diffusion import from_folder

    return from_folder(folder, **params)


def _difftumor(folder=None, **params) -> TextureModel:
    if folder is None or not Path(str(folder)).is_dir():
        raise InputError("the difftumor texture needs a model folder made by `syntumor models import difftumor` "
                         f"(texture=PATH/TO/FOLDER), got {folder!r}")
    from .difftumor.backend import from_folder

    return from_folder(folder, **params)


register_texture("statistical", _statistical)
register_texture("diffusion", _diffusion)
register_texture("difftumor", _difftumor)

DIFFTUMOR_KIND = "difftumor-texture"


def folder_kind(path: Path) -> str | None:
    """The ``kind`` a model folder's card declares (None when there is no readable card: the
    loader that follows names the problem)."""
    try:
        card = json.loads((path / CARD).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return card.get("kind") if isinstance(card, dict) else None


def get_texture(name_or_path: str | os.PathLike | TextureModel | dict = "statistical", **params) -> TextureModel:
    """Resolve a texture backend by name, fitted-JSON path, model folder, record dict or instance.

    Raises:
        InputError: unknown name, or a path that is neither a fitted JSON nor a model folder.
        ModelFolderError: a model folder that the diffusion backend cannot load.
    """
    if isinstance(name_or_path, TextureModel):
        return name_or_path
    if isinstance(name_or_path, dict):  # {"name": ..., "config": ...} from a record
        cfg = dict(name_or_path.get("config") or {})
        cfg.update(params)
        if name_or_path.get("name") == "difftumor":  # its loader refuses a folder of another kind, by name
            return _difftumor(cfg.pop("folder", None), **cfg)
        if "folder" in cfg:
            return get_texture(cfg.pop("folder"), **cfg)
        return get_texture(str(name_or_path.get("name", "statistical")), **cfg)
    s = str(name_or_path)
    if s in _REGISTRY:
        return _REGISTRY[s](**params)
    path = Path(s)
    if path.is_file() and path.suffix.lower() == ".json":
        return StatisticalTexture.from_json(path, **params)
    if path.is_dir():
        if folder_kind(path) == DIFFTUMOR_KIND:
            return _difftumor(path, **params)
        try:
            from . import diffusion  # noqa: F401  (the latent-diffusion backend, another part)
            from .diffusion import from_folder
        except ImportError as e:
            raise ModelFolderError(
                f"{path}: a texture model folder needs the diffusion backend "
                f"(SynTumorLib.texture.diffusion), which cannot be imported ({e})"
            ) from None
        return from_folder(path, **params)
    known = ", ".join(sorted(_REGISTRY))
    raise InputError(f"unknown texture {s!r}: use one of {known}, a fitted texture JSON or a model folder")
