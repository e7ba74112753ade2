"""corruption layer: elastic label noise at calibrated levels (the study's hypothesis 2).

Example:
    >>> from SynTumorLib.corruption import LEVEL_NAMES, load_levels
    >>> LEVEL_NAMES == tuple(load_levels())
    True
"""

from .corrupt import corrupt_label, replay_corruption
from .dataset import corrupt_dataset
from .levels import LEVEL_NAMES, load_levels, sigma_for_level

__all__ = ["corrupt_label", "replay_corruption", "corrupt_dataset", "LEVEL_NAMES", "load_levels", "sigma_for_level"]
