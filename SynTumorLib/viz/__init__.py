"""Figures: slice overlays, galleries, plots (PNG via matplotlib Agg).

:func:`pyplot` and :func:`save_figure` (:mod:`.figure`) are the public figure helpers every module
that draws uses; matplotlib is imported only when a figure is drawn.
"""

from .figure import pyplot, save_figure

__all__ = ["pyplot", "save_figure"]
