"""The one way SynTumor makes and writes a matplotlib figure.

:func:`pyplot` selects the Agg backend (no display needed; a backend the caller chose already is
kept) and returns ``matplotlib.pyplot`` — imported only when a figure is drawn, so importing a
module that can plot stays cheap. :func:`save_figure` writes a figure as PNG atomically (a crash
never leaves half a file) and closes it. Every ``savefig`` in the library goes through it.

Example:
    >>> import os, tempfile
    >>> plt = pyplot()
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> save_figure(fig, os.path.join(tempfile.mkdtemp(), "line.png")).suffix
    '.png'
"""

from __future__ import annotations

import os
from pathlib import Path

from ..utils.atomic import atomic_path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (unless a backend was chosen before)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int | None = 110, *, tight: bool = True) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically and close it.

    Args:
        dpi: resolution; None keeps the figure's own.
        tight: crop to the drawn content (``bbox_inches="tight"``); False keeps the figure's size.
    """
    plt = pyplot()
    path = Path(path)
    kwargs = {"bbox_inches": "tight"} if tight else {}
    if dpi is not None:
        kwargs["dpi"] = dpi
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", **kwargs)
    plt.close(fig)
    return path
