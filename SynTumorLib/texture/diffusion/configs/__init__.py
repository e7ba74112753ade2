"""Built-in configurations of the latent-diffusion texture model (JSON data, not code).

``tiny`` trains on the built-in phantom on a CPU (32³ crops at 2 mm); ``default``
is the paper's setting (96³ crops at 1 mm, 8-channel latent, 16384 codes, 200-step cosine schedule).

Two-model size handling (the reference's design) is a config override, e.g.
``{"diffusion": {"size_conditioning": "two_models", "model_timesteps": {"size0": 4},
"sampling": [{"scheduler": "ddpm", "steps": 4}, {"scheduler": "ddim", "steps": 50}]}}``.

Example:
    >>> cfg = load_config("tiny", {"diffusion_training": {"steps": 3}})
    >>> cfg["crop"]["size"], cfg["diffusion_training"]["steps"], cfg["diffusion_training"]["batch_size"]
    (32, 3, 8)
    >>> load_config("tiny", {"diffusion_training": {"steps": 0}})
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: texture config: diffusion_training.steps must be an integer ≥ 1, got 0
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ....utils.config import merge
from ....utils.errors import InputError
from ..config import validate_config

HERE = Path(__file__).resolve().parent
NAMES = ("tiny", "default")
TWO_MODELS = {"diffusion": {"size_conditioning": "two_models", "model_timesteps": {"size0": 4},
                            "sampling": [{"scheduler": "ddpm", "steps": 4}, {"scheduler": "ddim", "steps": 50}]}}


def load_config(name_or_path: str | os.PathLike | dict = "tiny", overrides: dict | None = None) -> dict[str, Any]:
    """A full, checked config: a built-in name, a JSON file or a dict, merged over its ``base`` (``tiny``
    unless it names ``default``), then ``overrides``; see :mod:`..config` for the keys and ranges."""
    if isinstance(name_or_path, dict):
        user = name_or_path
    elif str(name_or_path) in NAMES:
        user = json.loads((HERE / f"{name_or_path}.json").read_text(encoding="utf-8"))
    else:
        p = Path(name_or_path)
        if not p.is_file():
            raise InputError(f"config {str(name_or_path)!r}: not one of {NAMES} and not a JSON file")
        try:
            user = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{p}: not valid JSON ({e})") from None
        if not isinstance(user, dict):
            raise InputError(f"{p}: a config must be a JSON object")
    base_name = user.get("base", "tiny")
    if base_name not in NAMES:
        raise InputError(f"config 'base' must be one of {NAMES}, got {base_name!r}")
    base = json.loads((HERE / f"{base_name}.json").read_text(encoding="utf-8"))
    cfg = merge(merge(base, user, "texture config", deep=True, check=False), overrides, "texture config",
                deep=True, check=False)
    cfg.pop("base", None)
    try:
        return validate_config(cfg)
    except InputError as e:
        if isinstance(name_or_path, dict) or str(name_or_path) in NAMES:
            raise
        raise InputError(f"{name_or_path}: {e}") from None
