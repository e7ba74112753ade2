"""Kept for the Slicer tests that still import it (``test_slicer_*``, another lane); new tests import
the same builders from ``builders.py``. Remove once no test imports this module."""

from builders import add_ball_tumour as add_tumour  # noqa: F401
from builders import make_model_folder, make_seg_dataset, tiny_config  # noqa: F401
