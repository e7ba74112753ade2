"""Simple plots for reports (PNG via matplotlib Agg): histograms with quartile cuts, bar charts.

Example:
    >>> import numpy as np, tempfile, os
    >>> p = save_histogram_png(np.arange(1, 40.0), os.path.join(tempfile.mkdtemp(), "h.png"),
    ...                        xlabel="volume (mL)", quartiles=True)
    >>> p.exists()
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .figure import pyplot, save_figure


def save_histogram_png(values: Sequence[float], path: str | os.PathLike, *, xlabel: str = "", title: str = "",
                       quartiles: bool = True, bins: int | None = None, log_x: bool = False) -> Path:
    """Histogram of ``values``; with ``quartiles`` the 25/50/75 % cuts are drawn and labelled."""
    plt = pyplot()
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    if v.size:
        edges = np.geomspace(max(v.min(), 1e-3), v.max() * 1.001, (bins or 20) + 1) if log_x and v.min() > 0 \
            else (bins or min(30, max(5, v.size // 2)))
        ax.hist(v, bins=edges, color="#4a9", edgecolor="white")
        if log_x and v.min() > 0:
            ax.set_xscale("log")
        if quartiles and v.size >= 4:
            for q, c in zip(np.quantile(v, [0.25, 0.5, 0.75]), ("#c60", "#a00", "#c60"), strict=True):
                ax.axvline(q, color=c, linestyle="--", linewidth=1.2)
                ax.text(q, ax.get_ylim()[1] * 0.95, f" {q:.3g}", color=c, fontsize=8, va="top")
    else:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def save_bar_png(labels: Sequence[str], values: Sequence[float], path: str | os.PathLike, *,
                 errors: Sequence[float] | None = None, ylabel: str = "", title: str = "") -> Path:
    """Bar chart with optional error bars (e.g. DSC by training arm)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(labels) + 2), 3.2))
    x = np.arange(len(labels))
    ax.bar(x, values, yerr=errors, color="#4a9", capsize=3)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
