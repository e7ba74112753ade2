"""The built-in procedural abdominal CT phantom — SynTumor's embedded default data.

``generate_case(seed, spacing=(1.5, 1.5, 1.5), shape=None, tumours=0, ...)`` returns (image HU
int16, label 0/1/2 uint8, info); ``generate_cohort(out_dir, n_cases, seed, tumours=...)`` writes an
MSD-layout dataset. Modules: layout (anatomy parameters), body, organs, hollow, pancreas, vessels,
tumours, tissues (HU table), raster/canvas (bounding-box painting), texture.noise (fields, noise).
"""

from .generator import DEFAULT_FOV_MM, PhantomCase, generate_case, generate_cohort, render_case, replay_case
from .tumours import sample_tumour_diameters

__all__ = ["DEFAULT_FOV_MM", "PhantomCase", "generate_case", "generate_cohort", "render_case", "replay_case", "sample_tumour_diameters"]
