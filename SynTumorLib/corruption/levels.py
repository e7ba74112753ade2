"""Named label-noise levels: σ presets in millimetres, calibrated by ``tools/calibrate_noise_levels.py``.

The paper names four levels (low, moderate, high, extreme) but gives no σ. The calibration script
measures Dice, mean surface distance and HD95 between clean and corrupted tumour labels for a sweep
of σ on tumours with MSD-like sizes and picks the presets; it writes them, with the measured table,
to ``levels.json`` next to this module (and docs/results/noise-calibration.md). Records always store
the σ actually used, so recalibrating never changes a replay.

Example:
    >>> names = list(load_levels())
    >>> names
    ['low', 'moderate', 'high', 'extreme']
    >>> sigma_for_level("low") < sigma_for_level("extreme")
    True
"""

from __future__ import annotations

import itertools
import os
from functools import lru_cache
from pathlib import Path

from ..utils.errors import InputError
from ..utils.jsonio import read_json

LEVEL_NAMES = ("low", "moderate", "high", "extreme")
LEVELS_JSON = Path(__file__).with_name("levels.json")


def validate_levels(levels: dict, where: str = "levels") -> dict[str, float]:
    """Check that all four levels are there, positive and strictly increasing; return them in order."""
    missing = [n for n in LEVEL_NAMES if n not in levels]
    if missing:
        raise InputError(f"{where}: missing noise level(s) {missing}; need {list(LEVEL_NAMES)}")
    out = {}
    for n in LEVEL_NAMES:
        try:
            out[n] = float(levels[n])
        except (TypeError, ValueError):
            raise InputError(f"{where}: σ of level {n!r} must be a number of mm, got {levels[n]!r}") from None
        if not out[n] > 0:
            raise InputError(f"{where}: σ of level {n!r} must be > 0 mm, got {out[n]}")
    values = list(out.values())
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise InputError(f"{where}: level σ must increase from low to extreme, got {out}")
    return out


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, float]:
    data = read_json(path)
    if not isinstance(data, dict) or data.get("unit") != "mm" or "levels" not in data:
        raise InputError(f"{path}: not a noise-level file (expected {{'unit': 'mm', 'levels': {{...}}}})")
    return validate_levels(data["levels"], str(path))


def load_levels(path: str | os.PathLike | None = None) -> dict[str, float]:
    """The σ presets in mm, ``{"low": …, "moderate": …, "high": …, "extreme": …}``."""
    return dict(_load(str(path or LEVELS_JSON)))


def calibration_info(path: str | os.PathLike | None = None) -> dict:
    """The whole levels file: presets plus how they were calibrated (targets, date, source)."""
    return read_json(path or LEVELS_JSON)


def sigma_for_level(level: str, path: str | os.PathLike | None = None) -> float:
    """σ in mm of a named level; an unknown name is an ``InputError`` listing the known ones."""
    levels = load_levels(path)
    key = str(level).strip().lower()
    if key not in levels:
        raise InputError(f"unknown noise level {level!r}; choose one of {', '.join(LEVEL_NAMES)} (or give σ in mm)")
    return levels[key]
