"""metrics layer: overlap (Dice, volume), surface (DeepMind NSD, mean distance, HD95), lesion detection
(lesions.py: from label maps; detection.py: from probability maps, PI-CAI's FROC / AP / AUROC), study
statistics (stats.py: hierarchical bootstrap, Wilcoxon, Holm), and case/folder evaluation (evaluate.py).

Example:
    >>> import numpy as np
    >>> from SynTumorLib.metrics import dice, normalized_surface_dice
    >>> a = np.zeros((16, 16, 16), bool); a[4:12, 4:12, 4:12] = True
    >>> dice(a, a), normalized_surface_dice(a, a, (1.0, 1.0, 1.0))
    (1.0, 1.0)
"""

from .detection import DetectionRule, case_detection, detection_summary
from .evaluate import evaluate_case, evaluate_folders
from .lesions import equivalent_radius_mm, lesion_detection
from .overlap import dice, volume_ml
from .stats import hierarchical_bootstrap, holm, paired_groups, signed_rank_test
from .surface import (
    hausdorff_distance,
    hausdorff_from_distances,
    mean_from_distances,
    mean_surface_distance,
    normalized_surface_dice,
    nsd_from_distances,
    surface_distances,
)

__all__ = [
    "dice",
    "volume_ml",
    "surface_distances",
    "normalized_surface_dice",
    "mean_surface_distance",
    "hausdorff_distance",
    "nsd_from_distances",
    "mean_from_distances",
    "hausdorff_from_distances",
    "lesion_detection",
    "equivalent_radius_mm",
    "evaluate_case",
    "evaluate_folders",
    "DetectionRule",
    "case_detection",
    "detection_summary",
    "hierarchical_bootstrap",
    "paired_groups",
    "signed_rank_test",
    "holm",
]
